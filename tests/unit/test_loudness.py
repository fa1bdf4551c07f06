"""The streaming BS.1770 meter against pyloudnorm, EBU reference levels and true-peak cases."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import scipy.signal
from numpy.typing import NDArray

from storyreel.audio.loudness import LoudnessMeter, TruePeakDetector

RATE = 48_000
Signal = NDArray[np.float32]


def _sine(
    freq: float, db: float, seconds: float, *, rate: int = RATE, phase: float = 0.0
) -> Signal:
    t = np.arange(int(seconds * rate)) / rate
    tone = 10 ** (db / 20) * np.sin(2 * np.pi * freq * t + phase)
    return np.stack([tone, tone]).astype(np.float32)


def _speechlike(seconds: float, *, rate: int = RATE, seed: int = 0) -> Signal:
    """Harmonic syllables with pauses and a noise floor, stereo."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.5 * t)) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 9))
    envelope = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.1, 0.3) * rate)
        envelope[pos : pos + length] = np.hanning(len(envelope[pos : pos + length]))
        pos += length + int(rng.choice([0.02, 0.1, 0.6]) * rate)
    mono = 0.3 * voice * envelope + 0.001 * rng.standard_normal(n)
    return np.stack([mono, 0.8 * mono]).astype(np.float32)


def _gated_noise(seconds: float, *, seed: int = 1) -> Signal:
    """Noise at two levels 30 dB apart, so the relative gate matters."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((2, int(seconds * RATE))) * 0.05
    noise[:, : noise.shape[1] // 3] *= 0.03
    return noise.astype(np.float32)


def _measure(signal: Signal, block: int, *, rate: int = RATE) -> LoudnessMeter:
    meter = LoudnessMeter(rate)
    for start in range(0, signal.shape[1], block):
        meter.add(signal[:, start : start + block])
    return meter


def _pyloudnorm(signal: Signal, rate: int = RATE, filters: str = "K-weighting") -> float:
    data = signal.T.astype(np.float64)
    return float(pyloudnorm.Meter(rate, filter_class=filters).integrated_loudness(data))


SIGNALS = {
    "sine": lambda: _sine(997, -18, 4.0),
    "speech": lambda: _speechlike(6.0),
    "gated-noise": lambda: _gated_noise(6.0),
}


@pytest.mark.parametrize("name", sorted(SIGNALS))
@pytest.mark.parametrize("block", [1_600, 4_800, 997, 7_919])
def test_integrated_loudness_matches_pyloudnorm(name: str, block: int) -> None:
    signal = SIGNALS[name]()
    measured = _measure(signal, block).integrated_lufs()
    # pyloudnorm's default K-weighting is an approximation; "DeMan" is the exact ITU filter.
    assert measured == pytest.approx(_pyloudnorm(signal, filters="DeMan"), abs=0.01)
    assert measured == pytest.approx(_pyloudnorm(signal), abs=0.1)


def test_loudness_matches_pyloudnorm_at_44_1_khz() -> None:
    signal = _speechlike(5.0, rate=44_100, seed=4)
    measured = _measure(signal, 1_470, rate=44_100).integrated_lufs()
    assert measured == pytest.approx(_pyloudnorm(signal, 44_100, "DeMan"), abs=0.01)


def test_reading_one_sample_at_a_time_gives_the_same_figures() -> None:
    signal = _speechlike(0.9, seed=2)
    whole = _measure(signal, signal.shape[1])
    single = _measure(signal, 1)
    assert single.integrated_lufs() == pytest.approx(whole.integrated_lufs(), abs=1e-9)
    assert single.integrated_lufs() == pytest.approx(_pyloudnorm(signal), abs=0.1)
    assert single.true_peak_dbtp() == pytest.approx(whole.true_peak_dbtp(), abs=1e-4)
    assert single.samples == signal.shape[1]


def test_ebu_reference_sine_reads_its_own_level() -> None:
    # EBU Tech 3341 case 1 shape: a 997 Hz sine at -18 dBFS in both channels reads -18 LUFS.
    assert _measure(_sine(997, -18, 20.0), 1_600).integrated_lufs() == pytest.approx(
        -18.0, abs=0.05
    )
    one_channel = _sine(997, -18, 5.0)
    one_channel[1] = 0
    assert _measure(one_channel, 1_600).integrated_lufs() == pytest.approx(-21.01, abs=0.05)


def test_relative_gate_ignores_quiet_passages() -> None:
    loud = _sine(997, -20, 10.0)
    quiet = _sine(997, -45, 10.0)
    both = np.concatenate([loud, quiet], axis=1)
    measured = _measure(both, 4_800).integrated_lufs()
    # Only the blocks straddling the change pass the gate: about -20, where an ungated
    # mean of the two halves would read -23.
    assert measured == pytest.approx(-20.0, abs=0.1)
    assert measured == pytest.approx(_pyloudnorm(both, filters="DeMan"), abs=0.01)


def test_silence_and_short_input_have_no_loudness() -> None:
    assert _measure(np.zeros((2, RATE * 2), dtype=np.float32), 1_600).integrated_lufs() == -math.inf
    assert _measure(_sine(997, -10, 0.39), 1_600).integrated_lufs() == -math.inf
    assert LoudnessMeter().true_peak_dbtp() == -math.inf
    below_gate = _sine(997, -75, 2.0)
    assert _measure(below_gate, 1_600).integrated_lufs() == -math.inf


def test_true_peak_finds_the_peak_between_samples() -> None:
    # A quarter-rate sine at 45 degrees: every sample sits at 0.707 of the real peak.
    signal = _sine(RATE / 4, 0.0, 1.0, phase=np.pi / 4)
    signal[:, :4_800] *= np.linspace(0, 1, 4_800, dtype=np.float32)  # no ringing from a step
    meter = _measure(signal, 1_600)
    assert meter.sample_peak_dbfs() == pytest.approx(-3.01, abs=0.01)
    assert meter.true_peak_dbtp() == pytest.approx(0.0, abs=0.05)
    assert meter.true_peak_dbtp() > meter.sample_peak_dbfs() + 2.9


@pytest.mark.parametrize("freq", [60.0, 997.0, 5_000.0, 11_025.0, 15_000.0])
def test_true_peak_agrees_with_16x_oversampling(freq: float) -> None:
    signal = _sine(freq, -6.0, 0.5, phase=1.0)
    signal[:, : RATE // 10] *= np.linspace(0, 1, RATE // 10, dtype=np.float32)  # no step at t=0
    reference = scipy.signal.resample_poly(signal.astype(np.float64), 16, 1, axis=1)
    expected = 20 * np.log10(np.abs(reference[:, 1_000:-1_000]).max())
    assert _measure(signal, 997).true_peak_dbtp() == pytest.approx(expected, abs=0.05)


def test_true_peak_is_never_below_the_sample_peak() -> None:
    rng = np.random.default_rng(9)
    noise = rng.uniform(-0.9, 0.9, (2, RATE)).astype(np.float32)  # energy up to Nyquist
    meter = _measure(noise, 1_000)
    assert meter.true_peak_dbtp() >= meter.sample_peak_dbfs()


def test_detector_reports_peaks_with_its_stated_delay() -> None:
    detector = TruePeakDetector(RATE)
    impulse = np.zeros((2, 200), dtype=np.float32)
    impulse[0, 50] = 1.0
    peaks = detector.peaks(impulse)
    assert int(np.argmax(peaks)) == 50 + detector.delay
    assert peaks.max() == pytest.approx(1.0, abs=1e-6)


def test_meter_rejects_wrong_shapes() -> None:
    meter = LoudnessMeter()
    with pytest.raises(ValueError, match="channels"):
        meter.add(np.zeros((3, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        meter.add(np.zeros((2, 2, 100), dtype=np.float32))
    meter.add(np.zeros((2, 0), dtype=np.float32))
    assert meter.samples == 0
