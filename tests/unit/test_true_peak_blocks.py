"""The true-peak detector's per-phase correlations give what the interpolation matrix
over sliding windows gives, block after block, whatever the block sizes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from storyreel.audio.loudness import _HISTORY, TruePeakDetector, _polyphase


def _by_matrix(signal: np.ndarray, delay: int) -> np.ndarray:
    """Every output sample from the full window matrix, in one go (float64)."""
    extended = np.concatenate([np.zeros((signal.shape[0], _HISTORY)), signal], axis=1)
    windows = sliding_window_view(extended, _HISTORY + 1, axis=-1)
    upsampled = np.abs(np.matmul(_polyphase(48_000).astype(np.float64),
                                 windows.transpose(0, 2, 1)))
    first = _HISTORY - delay
    sampled = np.abs(extended[:, first : first + signal.shape[1]]).max(axis=0)
    return np.maximum(upsampled.max(axis=1).max(axis=0), sampled)


@pytest.mark.parametrize("sizes", [(48_000,), (1, 7, 4_800, 333), (31, 31, 31)])
def test_peaks_match_the_window_matrix(sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(sizes))
    signal = rng.standard_normal((2, sum(sizes))) * 0.4
    signal[1, 10:50] = 0.99 * np.sign(np.sin(np.arange(40)))  # hard edges: inter-sample peaks
    detector = TruePeakDetector()
    cuts = np.cumsum((0, *sizes))
    found = np.concatenate([detector.peaks(signal[:, a:b])
                            for a, b in itertools.pairwise(cuts)])
    expected = _by_matrix(signal, detector.delay)
    assert found.shape == expected.shape
    np.testing.assert_allclose(found, expected, atol=2e-6)
    assert found.max() > np.abs(signal).max()  # the peaks between samples are found
