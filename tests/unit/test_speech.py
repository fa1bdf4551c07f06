"""Speech and pause detection on generated narration."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from numpy.typing import NDArray

from media import speech_regions

RATE = 48_000
TOLERANCE = round(0.020 * RATE)

# (start, end) seconds of each burst; the gaps between them are the true pauses.
BURSTS = [(0.30, 1.10), (1.25, 2.00), (2.45, 2.90), (3.02, 3.80), (4.60, 5.40)]


def _narration(
    bursts: list[tuple[float, float]],
    seconds: float,
    *,
    noise_db: float,
    level_db: float = -12.0,
    seed: int = 1,
    hum: bool = False,
) -> NDArray[np.float32]:
    """Voiced tone bursts (harmonics, syllable dips, soft edges) over a noise floor, stereo."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    syllables = 0.55 + 0.45 * np.abs(np.sin(2 * np.pi * 3.0 * t))  # dips inside words
    env = np.zeros(n)
    edge = int(0.004 * RATE)
    for start, end in bursts:
        a, b = int(start * RATE), int(end * RATE)
        env[a:b] = 1.0
        env[a : a + edge] = np.linspace(0, 1, edge)
        env[b - edge : b] = np.linspace(1, 0, edge)
    gain = 10 ** (level_db / 20)
    sig = gain * voice * syllables * env / 1.5
    sig = sig + 10 ** (noise_db / 20) * rng.standard_normal(n)
    if hum:
        sig = sig + 0.05 * np.sin(2 * np.pi * 50 * t)
    left = sig
    right = 0.8 * sig + 10 ** (noise_db / 20) * rng.standard_normal(n) * 0.5
    return np.stack([left, right]).astype(np.float32)


def _check_pauses(found: list[tuple[int, int]], bursts: list[tuple[float, float]]) -> None:
    truth = [(int(a * RATE), int(b * RATE)) for a, b in bursts]
    assert len(found) == len(truth), (found, truth)
    for (fa, fb), (ta, tb) in zip(found, truth, strict=True):
        assert abs(fa - ta) <= TOLERANCE, (fa / RATE, ta / RATE)
        assert abs(fb - tb) <= TOLERANCE, (fb / RATE, tb / RATE)


@pytest.mark.parametrize("noise_db", [-80.0, -60.0, -42.0, -34.0])
def test_pauses_match_truth_across_noise_floors(noise_db: float) -> None:
    samples = _narration(BURSTS, 6.0, noise_db=noise_db)
    regions = speech_regions(samples, RATE)
    _check_pauses(regions, BURSTS)
    gaps = [(a_end, b_start) for (_, a_end), (b_start, _) in pairwise(regions)]
    assert len(gaps) == len(BURSTS) - 1
    for (start, end), (prev, nxt) in zip(gaps, pairwise(BURSTS), strict=True):
        assert abs(start - prev[1] * RATE) <= TOLERANCE
        assert abs(end - nxt[0] * RATE) <= TOLERANCE


def test_quiet_voice_and_mains_hum() -> None:
    samples = _narration(BURSTS, 6.0, noise_db=-65.0, level_db=-32.0, hum=True)
    _check_pauses(speech_regions(samples, RATE), BURSTS)


def test_short_gaps_are_bridged_and_clicks_dropped() -> None:
    bursts = [(0.2, 0.8), (0.86, 1.4), (2.0, 2.6)]  # 60 ms gap: inside one phrase
    samples = _narration(bursts, 3.0, noise_db=-60.0)
    samples[:, int(1.7 * RATE) : int(1.7 * RATE) + 48] = 0.5  # a 1 ms click
    regions = speech_regions(samples, RATE)
    _check_pauses(regions, [(0.2, 1.4), (2.0, 2.6)])
    assert len(speech_regions(samples, RATE, min_pause=0.04)) == 3


def test_silence_and_constant_sound() -> None:
    assert speech_regions(np.zeros((2, RATE), np.float32), RATE) == []
    quiet = (1e-4 * np.random.default_rng(0).standard_normal((2, RATE))).astype(np.float32)
    assert speech_regions(quiet, RATE) == []
    drone = _narration([(0.0, 2.0)], 2.0, noise_db=-70.0)
    regions = speech_regions(drone, RATE)
    assert len(regions) == 1 and regions[0][0] <= TOLERANCE
    assert regions[0][1] >= drone.shape[1] - TOLERANCE
    assert speech_regions(np.zeros((2, 0), np.float32), RATE) == []


def test_speech_to_the_edges_and_mono_input() -> None:
    bursts = [(0.0, 1.0), (1.3, 2.0)]
    samples = _narration(bursts, 2.0, noise_db=-60.0)
    regions = speech_regions(samples[0], RATE)
    assert regions[0][0] == 0 and regions[-1][1] == samples.shape[1]
    _check_pauses(regions, bursts)


def test_other_sample_rate() -> None:
    samples = _narration(BURSTS, 6.0, noise_db=-55.0)[:, ::2]  # 24 kHz
    regions = speech_regions(samples, RATE // 2)
    _check_pauses([(a * 2, b * 2) for a, b in regions], BURSTS)


def test_one_minute_of_narration() -> None:
    rng = np.random.default_rng(3)
    bursts, pos = [], 0.2
    while pos < 58:
        length = min(float(rng.uniform(0.5, 3.0)), 59.5 - pos)
        bursts.append((pos, pos + length))
        pos += length + float(rng.uniform(0.15, 0.8))
    samples = _narration(bursts, 60.0, noise_db=-50.0)
    _check_pauses(speech_regions(samples, RATE), bursts)


def test_block_edges_do_not_disturb_detection() -> None:
    # The audio is filtered in 10 s blocks: pauses and speech across 10 s and 20 s stay exact.
    bursts = [(9.5, 9.98), (10.1, 10.6), (19.2, 20.3), (20.45, 20.9)]
    samples = _narration(bursts, 21.0, noise_db=-50.0)
    _check_pauses(speech_regions(samples, RATE), bursts)
