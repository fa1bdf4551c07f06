"""The look-ahead true-peak limiter and the normalisation gain."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
from numpy.typing import NDArray

from storyreel.audio.limiter import DEFAULT_MAX_GAIN_DB, Limiter, Normaliser, normalise_gain_db
from storyreel.audio.loudness import LoudnessMeter

RATE = 48_000
Signal = NDArray[np.float32]


def _loud_speech(seconds: float, *, seed: int, gain_db: float = 12.0) -> Signal:
    """Speech-like syllables plus clicks, driven well over full scale, band-limited to 18 kHz."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    phase = 2 * np.pi * np.cumsum(110 + 40 * np.sin(2 * np.pi * 0.8 * t)) / RATE
    voice = sum(np.sin(k * phase + rng.uniform(0, 6)) / k for k in range(1, 12))
    syllables = np.repeat(rng.uniform(0, 1, n // 9_600 + 1), 9_600)[:n]
    mono = 0.25 * voice * np.convolve(syllables, np.hanning(2_400) / 1_200, mode="same")
    mono += 0.05 * rng.standard_normal(n)
    for start in rng.integers(0, n - 50, 12):
        mono[start : start + 20] += rng.choice([-0.8, 0.8])  # transients, faster than the attack
    mono = scipy.signal.filtfilt(*scipy.signal.butter(6, 18_000, fs=RATE), mono)
    stereo = np.stack([mono, np.roll(mono, 11)]) * 10 ** (gain_db / 20)
    return stereo.astype(np.float32)


def _limit(signal: Signal, block: int, limiter: Limiter | None = None) -> Signal:
    limiter = limiter or Limiter(-1.0)
    pieces = [limiter.process(signal[:, i : i + block]) for i in range(0, signal.shape[1], block)]
    return np.concatenate([*pieces, limiter.flush()], axis=1)


def _true_peak_16x(signal: Signal) -> float:
    upsampled = scipy.signal.resample_poly(signal.astype(np.float64), 16, 1, axis=1)
    return 20 * math.log10(float(np.abs(upsampled).max()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_output_true_peak_stays_under_the_ceiling(seed: int) -> None:
    signal = _loud_speech(4.0, seed=seed)
    before = LoudnessMeter()
    before.add(signal)
    assert before.true_peak_dbtp() > 8.0
    out = _limit(signal, 1_600)
    after = LoudnessMeter()
    after.add(out)
    assert after.true_peak_dbtp() <= -1.0
    assert _true_peak_16x(out) <= -1.0 + 0.05  # an independent, finer oversampling agrees
    assert after.true_peak_dbtp() > -1.5  # limited to the ceiling, not far below it


@pytest.mark.parametrize("freq", [60.0, 997.0, 12_000.0, 19_000.0])
def test_intersample_peaks_of_tones_are_caught(freq: float) -> None:
    t = np.arange(RATE) / RATE
    tone = 2.0 * np.sin(2 * np.pi * freq * t + np.pi / 4)
    out = _limit(np.stack([tone, tone]).astype(np.float32), 1_600, Limiter(-2.0))
    meter = LoudnessMeter()
    meter.add(out)
    assert meter.true_peak_dbtp() <= -2.0


def test_quiet_signal_passes_unchanged_after_the_delay() -> None:
    rng = np.random.default_rng(4)
    signal = (rng.standard_normal((2, RATE)) * 0.05).astype(np.float32)  # peaks near -12 dBFS
    limiter = Limiter(-1.0)
    out = _limit(signal, 1_600, limiter)
    latency = limiter.latency
    assert out.shape[1] == signal.shape[1] + latency
    assert np.all(out[:, :latency] == 0)
    np.testing.assert_array_equal(out[:, latency:], signal)


@pytest.mark.parametrize("block", [1, 441, 48_000])
def test_output_does_not_depend_on_block_size(block: int) -> None:
    signal = _loud_speech(1.0 if block > 1 else 0.25, seed=5)
    reference = _limit(signal, 1_600)
    np.testing.assert_allclose(_limit(signal, block), reference, atol=1e-6)


def test_gain_moves_smoothly_and_recovers() -> None:
    n = RATE // 2
    level = np.full(n, 0.5)
    level[10_000:10_010] = 4.0  # an 18 dB spike over the ceiling
    signal = np.stack([level, level]).astype(np.float32)
    limiter = Limiter(-1.0, lookahead_ms=5.0, release_ms=80.0)
    out = _limit(signal, 1_600, limiter)[:, limiter.latency :]
    gain = out[0].astype(np.float64) / signal[0]
    attack = round(0.005 * RATE)
    assert gain.min() < 10 ** (-1.0 / 20) / 4.0 + 1e-3  # down to the ceiling on the spike
    assert np.abs(np.diff(gain)).max() <= 1.0 / attack + 1e-6  # a ramp, never a jump
    assert np.all(gain[: 10_000 - attack - 20] == 1.0)  # untouched well before the spike
    assert np.all(gain[10_000 + round(0.3 * RATE) :] == 1.0)  # back to unity after release


def test_latency_is_the_look_ahead_plus_the_detector_delay() -> None:
    short = Limiter(-1.0, lookahead_ms=2.0)
    long = Limiter(-1.0, lookahead_ms=10.0)
    assert long.latency - short.latency == round(0.008 * RATE)
    assert short.flush().shape == (2, short.latency)
    with pytest.raises(ValueError, match="shape"):
        short.process(np.zeros((1, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="positive"):
        Limiter(-1.0, release_ms=0)
    assert short.process(np.zeros((2, 0), dtype=np.float32)).shape == (2, 0)


def test_normalise_gain() -> None:
    assert normalise_gain_db(-20.0, -14.0) == pytest.approx(6.0)
    assert normalise_gain_db(-9.5, -14.0) == pytest.approx(-4.5)
    assert normalise_gain_db(-math.inf, -14.0) == 0.0
    assert normalise_gain_db(-80.0, -14.0) == DEFAULT_MAX_GAIN_DB
    assert normalise_gain_db(-40.0, -14.0, max_gain_db=20.0) == 20.0


def test_two_pass_normalisation_reaches_the_target() -> None:
    speech = _loud_speech(8.0, seed=7, gain_db=-18.0)
    first = LoudnessMeter()
    for i in range(0, speech.shape[1], 1_600):
        first.add(speech[:, i : i + 1_600])
    gain = 10 ** (normalise_gain_db(first.integrated_lufs(), -14.0) / 20)
    out = _limit((speech * gain).astype(np.float32), 1_600)
    second = LoudnessMeter()
    second.add(out)
    assert second.integrated_lufs() == pytest.approx(-14.0, abs=1.0)
    assert second.true_peak_dbtp() <= -1.0


@pytest.mark.parametrize("block", [100, 1_600])
def test_normaliser_keeps_every_sample_in_place(block: int) -> None:
    rng = np.random.default_rng(8)
    signal = (rng.standard_normal((2, 10_007)) * 0.02).astype(np.float32)
    normaliser = Normaliser(6.0, -1.0)
    pieces = [normaliser.process(signal[:, i : i + block]) for i in range(0, 10_007, block)]
    out = np.concatenate([*pieces, normaliser.flush()], axis=1)
    assert out.shape == signal.shape
    np.testing.assert_array_equal(out, signal * np.float32(10 ** (6.0 / 20)))
    assert normaliser.meter.samples == signal.shape[1]


def test_normaliser_shorter_than_its_latency() -> None:
    normaliser = Normaliser(0.0)
    signal = np.full((2, 50), 0.1, dtype=np.float32)
    first = normaliser.process(signal)
    out = np.concatenate([first, normaliser.flush()], axis=1)
    assert first.shape == (2, 0)
    np.testing.assert_array_equal(out, signal)


def test_normaliser_measures_its_output() -> None:
    speech = _loud_speech(6.0, seed=9, gain_db=-20.0)
    first = LoudnessMeter()
    first.add(speech)
    normaliser = Normaliser(normalise_gain_db(first.integrated_lufs(), -16.0), -1.5)
    for i in range(0, speech.shape[1], 1_600):
        normaliser.process(speech[:, i : i + 1_600])
    normaliser.flush()
    assert normaliser.meter.integrated_lufs() == pytest.approx(-16.0, abs=1.0)
    assert normaliser.meter.true_peak_dbtp() <= -1.5


def test_a_corrupt_sample_does_not_mute_what_follows() -> None:
    signal = np.full((2, RATE // 2), 0.1, dtype=np.float32)
    signal[:, 1_000] = np.inf
    signal[:, 1_001] = np.nan
    out = _limit(signal, 1_600)
    assert np.isfinite(out).all()
    assert np.abs(out).max() <= 0.1
    np.testing.assert_array_equal(out[:, -2_000:], np.float32(0.1))
