"""The limiter filters for true peaks only where they can reach its threshold, and its
output is the same, sample for sample, as when it filters everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from storyreel.audio.limiter import Limiter
from storyreel.audio.loudness import TruePeakDetector

RATE = 48_000


class _Everywhere(TruePeakDetector):
    """The detector as it was: every output filtered, whatever the level."""

    def peaks(self, block: NDArray[np.floating], level: float | None = None
              ) -> NDArray[np.float64]:
        return super().peaks(block)


def _speech_like(seconds: float, seed: int) -> NDArray[np.float32]:
    """Tone bursts at varied levels (some past full scale), pauses, a few hard clicks."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.05, 0.4) * RATE)
        level = rng.choice([0.05, 0.3, 0.7, 1.2])
        freq = rng.uniform(90, 9000)
        end = min(n, pos + length)
        out[pos:end] = level * np.sin(2 * math.pi * freq * t[pos:end] + rng.uniform(0, 6))
        pos = end + int(rng.choice([0, 200, 5000, 20000]))
    clicks = rng.integers(0, n, 12)
    out[clicks] = rng.choice([-1.0, 1.0], 12)
    right = np.roll(out, 37) * 0.8
    return np.stack([out, right]).astype(np.float32)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_peaks_above_the_level_are_the_filtered_ones(seed: int) -> None:
    audio = _speech_like(3.0, seed)
    level = 0.6
    full, fast = TruePeakDetector(RATE), TruePeakDetector(RATE)
    for start in range(0, audio.shape[1], 7_001):  # odd blocks: the history carries over
        block = audio[:, start : start + 7_001]
        everywhere, some = full.peaks(block), fast.peaks(block, level)
        above = everywhere > level
        assert np.array_equal(some[above], everywhere[above])
        assert np.all(some[~above] <= level)


@pytest.mark.parametrize("ceiling", [-1.0, -6.0, -30.0])
def test_the_limited_sound_is_the_same_as_filtering_everywhere(ceiling: float) -> None:
    audio = _speech_like(4.0, 11)
    quick, reference = Limiter(ceiling, RATE), Limiter(ceiling, RATE)
    reference._detector = _Everywhere(RATE)  # the way every peak used to be found
    for start in range(0, audio.shape[1], 12_000):
        block = audio[:, start : start + 12_000]
        assert np.array_equal(quick.process(block), reference.process(block))
    assert np.array_equal(quick.flush(), reference.flush())


def test_silence_and_quiet_sound_need_no_filtering() -> None:
    detector = TruePeakDetector(RATE)
    quiet = (0.01 * np.sin(np.arange(RATE) / 7.0)).astype(np.float32)
    assert detector._stretches(np.stack([quiet, quiet]), RATE - 32, 0.5) == []
    peaks = detector.peaks(np.stack([quiet, quiet]), 0.5)
    assert peaks.max() <= 0.01 + 1e-6
