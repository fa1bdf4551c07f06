"""The speech detector's and the aligner's signal tools against SciPy's own."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from storyreel.audio.dsp import highpass_sos, kaiser_lowpass, resample_poly, sosfilt, sosfiltfilt

_RATIOS = [(1, 3), (16_000, 48_000), (16_000, 22_050), (48_000, 22_050), (48_000, 24_000),
           (3, 1), (2, 3), (7, 2), (5, 5)]


@pytest.mark.parametrize("up,down", _RATIOS)
@pytest.mark.parametrize("length", [1, 2, 7, 100, 1_001, 48_000 + 7])
def test_resampling_matches_scipy_in_length_type_and_value(length: int, up: int, down: int
                                                           ) -> None:
    rng = np.random.default_rng(length + up + down)
    x = rng.standard_normal(length)
    want = scipy.signal.resample_poly(x, up, down)
    got = resample_poly(x, up, down)
    assert got.dtype == want.dtype == np.float64
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    single = x.astype(np.float32)
    got32, want32 = resample_poly(single, up, down), scipy.signal.resample_poly(single, up, down)
    assert got32.dtype == want32.dtype == np.float32
    np.testing.assert_allclose(got32, want32, rtol=0, atol=2e-5)


def test_resampling_keeps_a_tone_and_removes_what_the_new_rate_cannot_hold() -> None:
    rate = 48_000
    t = np.arange(rate) / rate
    kept, aliased = np.sin(2 * np.pi * 1_000 * t), np.sin(2 * np.pi * 12_000 * t)
    out = resample_poly(kept + aliased, 1, 3)  # 16 kHz: 12 kHz is above its Nyquist
    reference = np.sin(2 * np.pi * 1_000 * np.arange(out.size) / 16_000)
    middle = slice(200, -200)  # away from the filter's edges
    assert np.sqrt(np.mean((out[middle] - reference[middle]) ** 2)) < 0.01


def test_integer_samples_are_resampled_as_floats() -> None:
    x = np.arange(30, dtype=np.int16)
    np.testing.assert_allclose(resample_poly(x, 2, 3), scipy.signal.resample_poly(x, 2, 3),
                               atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 3_000), up=st.integers(1, 40), down=st.integers(1, 40),
       seed=st.integers(0, 2**16))
def test_resampling_matches_scipy_for_any_ratio_and_length(length: int, up: int, down: int,
                                                           seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(length)
    np.testing.assert_allclose(resample_poly(x, up, down),
                               scipy.signal.resample_poly(x, up, down), rtol=0, atol=1e-12)


@pytest.mark.parametrize("rate", [8_000, 16_000, 22_050, 44_100, 48_000])
def test_the_high_pass_is_scipys_butterworth(rate: int) -> None:
    want = scipy.signal.butter(2, 80.0, btype="highpass", fs=rate, output="sos")
    np.testing.assert_allclose(highpass_sos(80.0, rate), want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("length", [65, 66, 300, 10_000])
def test_zero_phase_filtering_matches_scipy(length: int) -> None:
    rng = np.random.default_rng(length)
    t = np.arange(length) / 48_000
    x = rng.standard_normal(length) * 0.1 + np.sin(2 * np.pi * 50 * t) + 0.5  # hum, offset
    sos = highpass_sos(80.0, 48_000)
    for padlen in (0, 64):
        if length <= padlen:
            continue
        want = scipy.signal.sosfiltfilt(sos, x, padlen=padlen)
        np.testing.assert_allclose(sosfiltfilt(sos, x, padlen), want, rtol=0, atol=1e-10)
    two = np.vstack([sos, highpass_sos(300.0, 48_000)])  # cascaded sections
    np.testing.assert_allclose(sosfiltfilt(two, x, 64), scipy.signal.sosfiltfilt(two, x, padlen=64),
                               rtol=0, atol=1e-10)


def test_zero_phase_filtering_refuses_what_is_not_longer_than_its_padding() -> None:
    with pytest.raises(ValueError, match="longer than padlen"):
        sosfiltfilt(highpass_sos(80.0, 48_000), np.zeros(64), 64)


def test_sections_carry_their_state_from_block_to_block_as_scipys_do() -> None:
    from storyreel.audio.loudness import k_weighting_sos

    rng = np.random.default_rng(7)
    sos = k_weighting_sos(48_000)
    x = rng.standard_normal((2, 9_000))
    zi = np.zeros((sos.shape[0], 2, 2))
    want, want_zi = scipy.signal.sosfilt(sos, x, axis=-1, zi=zi)
    got, state = np.empty_like(x), zi
    for start in range(0, x.shape[1], 1_234):  # blocks of another size than the signal's
        got[:, start:start + 1_234], state = sosfilt(sos, x[:, start:start + 1_234], state)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(state, want_zi, rtol=0, atol=1e-10)
    assert not np.shares_memory(state, zi) and not zi.any()  # the caller's state is not changed


@pytest.mark.parametrize("taps,cutoff,beta,rate", [(129, 22_500.0, 8.0, 192_000),
                                                   (129, 20_727.0, 8.0, 176_400),
                                                   (61, 1 / 3, 5.0, 2.0), (7, 0.5, 0.0, 2.0)])
def test_the_kaiser_low_pass_is_scipys_firwin(taps: int, cutoff: float, beta: float,
                                              rate: float) -> None:
    want = scipy.signal.firwin(taps, cutoff, window=("kaiser", beta), fs=rate)
    np.testing.assert_allclose(kaiser_lowpass(taps, cutoff, beta, rate), want, rtol=0,
                               atol=1e-15)
