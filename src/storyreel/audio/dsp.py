"""Signal tools of storyreel's sound, without ``scipy.signal``.

A render's first frame waits for its first narration's words, and importing SciPy's
signal package takes about 0.6 s (it brings ``scipy.stats``, ``interpolate`` and
``spatial`` along) for a handful of functions: a second-order Butterworth high-pass
and its zero-phase application (speech detection), polyphase resampling (the aligner
hears 16 kHz), a Kaiser-windowed low-pass design (the true-peak meter's interpolator)
and cascaded second-order sections with their state carried across blocks (the
loudness meter's K-weighting). Each is stated here as SciPy states it, with the same
results: ``tests/unit/test_dsp.py`` compares them with SciPy's own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import cast

import numpy as np
from numpy.typing import NDArray

__all__ = ["highpass_sos", "kaiser_lowpass", "resample_poly", "sosfilt", "sosfiltfilt"]

F64 = NDArray[np.float64]


def highpass_sos(cutoff: float, rate: float) -> F64:
    """A second-order Butterworth high-pass at ``cutoff`` Hz as one second-order section:
    ``scipy.signal.butter(2, cutoff, "highpass", fs=rate, output="sos")`` (the bilinear
    transform of the analog prototype, its cutoff pre-warped)."""
    k = math.tan(math.pi * cutoff / rate)
    norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
    return np.array([[norm, -2.0 * norm, norm,
                      1.0, 2.0 * (k * k - 1.0) * norm, (1.0 - math.sqrt(2.0) * k + k * k) * norm]])


def _sosfilt_py(sos: F64, x: F64, zi: F64) -> F64:
    """Cascaded second-order sections in transposed direct form II, as SciPy runs them;
    ``zi`` (sections x 2) is updated in place."""
    y = np.empty_like(x)
    for n in range(x.shape[0]):
        value = x[n]
        for s in range(sos.shape[0]):
            out = sos[s, 0] * value + zi[s, 0]
            zi[s, 0] = sos[s, 1] * value - sos[s, 4] * out + zi[s, 1]
            zi[s, 1] = sos[s, 2] * value - sos[s, 5] * out
            value = out
        y[n] = value
    return y


@functools.cache
def _sosfilt() -> Callable[[F64, F64, F64], F64]:
    """:func:`_sosfilt_py` compiled, on first use: the rest of this module needs only
    NumPy, and Numba costs a tenth of a second to import."""
    from storyreel._jit import compiled

    return cast(Callable[[F64, F64, F64], F64], compiled(_sosfilt_py))


def sosfilt(sos: F64, x: NDArray[np.floating], zi: F64) -> tuple[F64, F64]:
    """``x`` of shape ``(channels, n)`` through the sections ``sos``, each channel from
    its state in ``zi`` (``sections x channels x 2``); returns the output and the state
    after it (``scipy.signal.sosfilt(sos, x, axis=-1, zi=zi)``)."""
    data = np.asarray(x, dtype=np.float64)
    sections = np.ascontiguousarray(sos, dtype=np.float64)
    state = np.array(zi, dtype=np.float64)
    out = np.empty(data.shape)
    for channel in range(data.shape[0]):
        held = np.ascontiguousarray(state[:, channel, :])
        out[channel] = _sosfilt()(sections, np.ascontiguousarray(data[channel]), held)
        state[:, channel, :] = held
    return out, state


def _sosfilt_zi(sos: F64) -> F64:
    """The state of each section that a constant input of 1 holds steady
    (``scipy.signal.sosfilt_zi``)."""
    zi = np.empty((sos.shape[0], 2))
    scale = 1.0
    for s, section in enumerate(sos):
        b, a = section[:3] / section[3], section[3:] / section[3]
        # lfilter_zi: solve (I - companion(a).T) zi = b[1:] - a[1:] * b[0]
        minus = np.array([[1.0 + a[1], -1.0], [a[2], 1.0]])
        zi[s] = scale * np.linalg.solve(minus, b[1:] - a[1:] * b[0])
        scale *= float(b.sum() / a.sum())
    return zi


def sosfiltfilt(sos: F64, x: NDArray[np.floating], padlen: int) -> F64:
    """Zero-phase filtering of 1-D ``x``: forward, then backward, after extending it by
    ``padlen`` samples of odd symmetry at each end, each pass started in the steady
    state of its first sample (``scipy.signal.sosfiltfilt(sos, x, padlen=padlen)``).

    Raises:
        ValueError: ``x`` is not longer than ``padlen``.
    """
    data = np.ascontiguousarray(x, dtype=np.float64)
    if data.ndim != 1 or data.size <= padlen:
        raise ValueError(f"the input must be 1-D and longer than padlen ({padlen})")
    if padlen > 0:
        data = np.concatenate((2 * data[0] - data[padlen:0:-1], data,
                               2 * data[-1] - data[-2:-(padlen + 2):-1]))
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    zi = _sosfilt_zi(sos)
    forward = _sosfilt()(sos, data, zi * data[0])
    backward = _sosfilt()(sos, np.ascontiguousarray(forward[::-1]), zi * forward[-1])[::-1]
    return backward[padlen:backward.size - padlen] if padlen > 0 else backward.copy()


def kaiser_lowpass(taps: int, cutoff: float, beta: float, rate: float = 2.0) -> F64:
    """A linear-phase low-pass of odd ``taps``, windowed sinc (Kaiser, ``beta``), cut at
    ``cutoff`` Hz of ``rate``, unit gain at 0 Hz:
    ``scipy.signal.firwin(taps, cutoff, window=("kaiser", beta), fs=rate)``."""
    relative = cutoff / (rate / 2)
    m = np.arange(taps) - (taps - 1) / 2
    h: F64 = relative * np.sinc(relative * m) * np.kaiser(taps, beta)
    h /= h.sum()
    return h


@functools.lru_cache(maxsize=8)
def _polyphase(up: int, down: int) -> tuple[NDArray[np.float64], int, int]:
    """The low-pass filter ``resample_poly`` designs for ``up``/``down``, laid out by
    phase (``up`` rows of taps, each applied to consecutive input samples, newest first),
    and the output samples to skip at the start."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    taps = 2 * half_len + 1
    h = kaiser_lowpass(taps, 1 / max_rate, 5.0) * up
    pre_pad = down - half_len % down
    skip = (half_len + pre_pad) // down
    h = np.concatenate((np.zeros(pre_pad), h))
    per_phase = -(-h.size // up)
    h = np.concatenate((h, np.zeros(per_phase * up - h.size)))
    return h.reshape(per_phase, up).T.copy(), skip, per_phase


def resample_poly(x: NDArray[np.floating], up: int, down: int) -> NDArray[np.floating]:
    """1-D ``x`` resampled by ``up``/``down`` through a Kaiser-windowed (beta 5) sinc
    low-pass of ``20 * max(up, down) + 1`` taps, zeros assumed beyond its ends:
    ``scipy.signal.resample_poly(x, up, down)``, computed in ``x``'s precision (float32
    stays float32). Its length is ``ceil(len(x) * up / down)`` after reducing the ratio."""
    data = np.asarray(x)
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float64)
    common = math.gcd(up, down)
    up, down = up // common, down // common
    if up == down == 1:
        return data.copy()
    bank, skip, per_phase = _polyphase(up, down)
    bank = bank.astype(data.dtype)
    n_out = -(-data.size * up // down)
    last = (n_out - 1 + skip) * down // up  # the newest input sample any output meets
    padded = np.concatenate((np.zeros(per_phase - 1, data.dtype), data,
                             np.zeros(max(0, last + 1 - data.size), data.dtype)))
    # Every per_phase consecutive samples of the padded input, oldest first (a view).
    windows = np.lib.stride_tricks.sliding_window_view(padded, per_phase)
    out = np.empty(n_out, data.dtype)
    # Output n sits at t = (n + skip) * down in the input stuffed with up - 1 zeros
    # between samples: phase t % up of the filter meets the per_phase input samples
    # that end at t // up. Outputs up apart share a phase and step down samples along.
    for first in range(min(up, n_out)):
        t = (first + skip) * down
        count = len(range(first, n_out, up))
        rows = windows[t // up : t // up + (count - 1) * down + 1 : down]
        # einsum runs its own loop on the calling thread, not BLAS's pool
        out[first::up] = np.einsum("ij,j->i", rows, bank[t % up][::-1])
    return out
