"""Signal tools of storyreel's sound, without ``scipy.signal``.

A render's first frame waits for its first narration's words, and importing SciPy's
signal package takes about 0.6 s (it brings ``scipy.stats``, ``interpolate`` and
``spatial`` along) for a handful of functions: a second-order Butterworth high-pass
and its zero-phase application (speech detection), polyphase resampling (the aligner
hears 16 kHz), a Kaiser-windowed low-pass design (the true-peak meter's interpolator)
and cascaded second-order sections with their state carried across blocks (the
loudness meter's K-weighting). Each is stated here as SciPy states it, with the same
results: ``tests/unit/test_dsp.py`` compares them with SciPy's own.

The zero-phase filter runs before a render's first frame, so it needs NumPy alone: a
convolution by FFT with the filter's impulse response (Numba would cost 0.7 s to ready
there, see ``storyreel._jit``). The sections carried across blocks are a loop Numba
compiles: the loudness meter waits for it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray

from storyreel._jit import compiled

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


def _sosfilt_examples() -> list[tuple[object, ...]]:
    return [(np.zeros((2, 6)), np.zeros(4), np.zeros((2, 2)))]


# No NumPy twin can run a recursive filter sample by sample in step with it: the
# loudness meter's filter waits for Numba (see storyreel._jit).
_sosfilt = compiled(_sosfilt_py, examples=_sosfilt_examples)


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
        out[channel] = _sosfilt(sections, np.ascontiguousarray(data[channel]), held)
        state[:, channel, :] = held
    return out, state


def _fast_length(n: int) -> int:
    """The least length of at least ``n`` whose only prime factors are 2, 3 and 5 (what
    FFTs are quickest at)."""
    best = 1 << max(0, (n - 1).bit_length())
    five = 1
    while five < best:
        three = five
        while three < best:
            two = three << max(0, (-(-n // three) - 1).bit_length())
            best = min(best, two)
            three *= 3
        five *= 5
    return best


@functools.lru_cache(maxsize=8)
def _impulse(sections: bytes, count: int) -> tuple[F64, float]:
    """The impulse response of ``count`` sections until it has died away below 1e-18
    of its start, and their gain at 0 Hz."""
    sos = np.frombuffer(sections, np.float64).reshape(count, 6)
    radius = max(float(np.abs(np.roots(section[3:])).max()) for section in sos)
    if not radius < 1.0:
        raise ValueError("the filter is not stable (a pole on or outside the unit circle)")
    length = 64 + int(1.5 * math.log(1e-18) / math.log(max(radius, 1e-3)))
    # Sampled on a grid four times as long, the response wraps around less than 1e-54.
    grid = _fast_length(4 * length)
    z = np.exp(-2j * np.pi * np.arange(grid // 2 + 1) / grid)
    spectrum = np.ones(z.size, np.complex128)
    for b0, b1, b2, a0, a1, a2 in sos:
        spectrum *= (b0 + z * (b1 + z * b2)) / (a0 + z * (a1 + z * a2))
    gain = float(np.prod([section[:3].sum() / section[3:].sum() for section in sos]))
    return np.fft.irfft(spectrum, grid)[:length], gain


@functools.lru_cache(maxsize=2)  # a block's length and the last one's: 4 MB each
def _spectrum(sections: bytes, count: int, size: int) -> NDArray[np.complex128]:
    return np.fft.rfft(_impulse(sections, count)[0], size)


def _from_steady(sos: F64, x: F64) -> F64:
    """``x`` filtered from the steady state of its first sample (as if it had stood at
    that value forever): that value's steady output plus the response to what follows,
    by FFT convolution."""
    key = (sos.tobytes(), sos.shape[0])
    impulse, gain = _impulse(*key)
    size = _fast_length(x.size + impulse.size - 1)  # no wrapping around
    moved = np.fft.irfft(np.fft.rfft(x - x[0], size) * _spectrum(*key, size), size)
    out: F64 = moved[:x.size] + gain * x[0]
    return out


def sosfiltfilt(sos: F64, x: NDArray[np.floating], padlen: int) -> F64:
    """Zero-phase filtering of 1-D ``x``: forward, then backward, after extending it by
    ``padlen`` samples of odd symmetry at each end, each pass started in the steady
    state of its first sample (``scipy.signal.sosfiltfilt(sos, x, padlen=padlen)``, to
    within 1e-10 of the signal's scale).

    Each pass is a convolution with the filter's impulse response, by FFT: NumPy alone,
    without Numba (the speech detector runs before a render's first frame).

    Raises:
        ValueError: ``x`` is not longer than ``padlen``, or the filter is not stable.
    """
    data = np.ascontiguousarray(x, dtype=np.float64)
    if data.ndim != 1 or data.size <= padlen:
        raise ValueError(f"the input must be 1-D and longer than padlen ({padlen})")
    if padlen > 0:
        data = np.concatenate((2 * data[0] - data[padlen:0:-1], data,
                               2 * data[-1] - data[-2:-(padlen + 2):-1]))
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    forward = _from_steady(sos, data)
    backward = _from_steady(sos, forward[::-1].copy())[::-1]
    return backward[padlen:backward.size - padlen].copy() if padlen > 0 else backward.copy()


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
