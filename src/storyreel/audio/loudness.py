"""Streaming loudness and true-peak meter (ITU-R BS.1770-4, EBU R128).

The meter is fed block by block and keeps only filter states, a partial 100 ms
step and one mean-square value per 100 ms of audio (under 300 kB for an hour), so
it measures an hour-long mix with flat memory. Every figure is independent of how
the audio is cut into blocks.

* Integrated loudness: K-weighting (the two biquads of BS.1770, recomputed for any
  sample rate as libebur128 does), 400 ms gating blocks every 100 ms, an absolute
  gate at -70 LUFS and a relative gate 10 LU under the ungated level.
* True peak: 4x oversampling through a 129-tap polyphase FIR (flat to 0.01 dB up to
  18 kHz, -0.25 dB at 20 kHz) carrying its history between blocks.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.dsp import kaiser_lowpass, sosfilt

__all__ = ["LoudnessMeter", "TruePeakDetector", "amplitude_to_db", "db_to_amplitude",
           "gated_loudness"]

_BLOCK_S = 0.4
_STEP_S = 0.1
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
_OFFSET_DB = -0.691
_OVERSAMPLE = 4
# Odd length: a whole-sample delay puts every fourth output on an input sample.
_FIR_TAPS = 129
_HISTORY = -(-_FIR_TAPS // _OVERSAMPLE) - 1  # input samples the longest phase looks back
#: Quiet gaps shorter than this (in samples) between stretches a limiter must filter are
#: filtered too: fewer, longer filter calls.
_JOIN_GAP = 256


def amplitude_to_db(value: float) -> float:
    """``20 log10(value)``, ``-inf`` for 0."""
    return 20.0 * math.log10(value) if value > 0 else -math.inf


def db_to_amplitude(db: float) -> float:
    """Linear amplitude of a level in dB."""
    return float(10.0 ** (db / 20.0))


@cache
def k_weighting_sos(sample_rate: int) -> NDArray[np.float64]:
    """Second-order sections of the BS.1770 K-weighting filter at ``sample_rate``.

    At 48 kHz they equal the coefficients printed in BS.1770-4; other rates use
    the same analogue prototypes through the bilinear transform.
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


@cache
def _polyphase(sample_rate: int) -> NDArray[np.float32]:
    """The 4x interpolation filter as a (phase, tap) matrix over the last input samples.

    Row ``p`` holds the taps that produce the output ``p / 4`` of a sample after a
    window of input samples (oldest first), so one matrix product interpolates a
    whole block. The low-pass has unity gain per phase and cuts just above 22.5 kHz.
    """
    cutoff = min(22_500.0, 0.47 * sample_rate)
    fir = kaiser_lowpass(_FIR_TAPS, cutoff, 8.0, _OVERSAMPLE * sample_rate)
    padded = np.zeros(_OVERSAMPLE * (_HISTORY + 1))
    padded[:_FIR_TAPS] = fir * _OVERSAMPLE
    return np.ascontiguousarray(padded.reshape(_HISTORY + 1, _OVERSAMPLE)[::-1].T, np.float32)


def _as_channels(block: NDArray[np.floating]) -> NDArray[np.float64]:
    samples = np.asarray(block, dtype=np.float64)
    if samples.ndim == 1:
        return samples[np.newaxis, :]
    if samples.ndim != 2:
        raise ValueError(f"audio block must have shape (channels, n), not {samples.shape}")
    return samples


class TruePeakDetector:
    """4x oversampled absolute peaks, streamed with the filter history carried over.

    :attr:`delay` is the filter's delay in input samples (rounded up): the peak
    returned for input sample ``j`` is the largest of sample ``j - delay`` itself and
    the interpolated signal between it and sample ``j - delay + 1``. Counting the
    sample itself keeps the true peak at or above the sample peak even for content
    above the interpolator's 22.5 kHz cut-off.
    """

    def __init__(self, sample_rate: int = 48_000, channels: int = 2) -> None:
        self._phases = _polyphase(sample_rate)
        self._history = np.zeros((channels, _HISTORY), dtype=np.float32)
        self.delay = math.ceil((_FIR_TAPS - 1) / 2 / _OVERSAMPLE)
        # No phase's output can exceed the largest input it sees times the sum of its
        # taps' magnitudes (with room for float32 rounding).
        self._gain_bound = float(np.abs(self._phases).sum(axis=1).max()) * (1 + 1e-4)

    def peaks(self, block: NDArray[np.floating], level: float | None = None
              ) -> NDArray[np.float64]:
        """Per input sample, the largest absolute oversampled value over the channels.

        Args:
            block: Samples of shape ``(channels, n)``.
            level: Only peaks above this level matter to the caller (a limiter's
                threshold). Where no interpolated value can exceed it, because the
                samples the filter sees stay low enough, the filter is not run and the
                sample peak (also at or below ``level``) stands in; elsewhere the
                result is exactly the filtered one. ``None``: filter everywhere.

        Returns:
            An array of ``n`` peaks (linear amplitude).
        """
        samples = _as_channels(block)
        n = samples.shape[1]
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        # float32 keeps the filtering fast; its rounding is far below 0.001 dB.
        extended = np.concatenate([self._history, samples.astype(np.float32)], axis=1)
        self._history = extended[:, n:]
        # Output p/4 of a sample after window j is phase p's taps over extended[j:j+taps]:
        # a correlation per channel and phase (a tight C loop, no window matrix). Each
        # output is its own dot product, so filtering a stretch gives the same values.
        interpolated = np.zeros(n, dtype=np.float32)
        for start, end in self._stretches(extended, n, level):
            out = interpolated[start:end]
            for channel in extended:
                seen = channel[start : end + _HISTORY]
                for phase in self._phases:
                    np.maximum(out, np.abs(np.correlate(seen, phase, "valid")), out=out)
        first = _HISTORY - self.delay
        sampled = np.abs(extended[:, first : first + n]).max(axis=0)
        return np.asarray(np.maximum(interpolated, sampled), dtype=np.float64)

    def _stretches(self, extended: NDArray[np.float32], n: int, level: float | None
                   ) -> list[tuple[int, int]]:
        """The output ranges whose interpolated values may exceed ``level`` (all: ``None``),
        joined across short gaps so that each filter call does a fair amount of work."""
        if level is None:
            return [(0, n)]
        from scipy.ndimage import maximum_filter1d  # heavy: loaded only when limiting

        envelope = np.abs(extended).max(axis=0)
        # The largest input each output sees: inputs j .. j + _HISTORY (centred window).
        seen = maximum_filter1d(envelope, _HISTORY + 1, mode="nearest")
        seen = seen[_HISTORY // 2 : _HISTORY // 2 + n]
        loud = ~(seen * self._gain_bound <= level)  # a NaN counts as loud
        if not loud.any():
            return []
        edges = np.flatnonzero(np.diff(np.concatenate([[False], loud, [False]]).astype(np.int8)))
        stretches: list[tuple[int, int]] = []
        for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            if stretches and start - stretches[-1][1] < _JOIN_GAP:
                stretches[-1] = (stretches[-1][0], end)
            else:
                stretches.append((start, end))
        return stretches


class LoudnessMeter:
    """Integrated loudness and true peak of a stream of audio blocks.

    Example::

        meter = LoudnessMeter()
        for block in blocks:          # float arrays of shape (2, n), any n
            meter.add(block)
        lufs = meter.integrated_lufs()  # -inf for silence
        peak = meter.true_peak_dbtp()
    """

    def __init__(self, sample_rate: int = 48_000, channels: int = 2, *,
                 true_peak: bool = True) -> None:
        """Create a meter.

        Args:
            sample_rate: Sample rate of the blocks in Hz.
            channels: Channel count of the blocks (1 or 2; each weighs 1.0).
            true_peak: Also find the true peak (the costlier half of the work); without
                it :meth:`true_peak_dbtp` gives the sample peak.
        """
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, not {sample_rate}")
        self.sample_rate = sample_rate
        self.channels = channels
        self._sos = k_weighting_sos(sample_rate)
        self._zi = np.zeros((self._sos.shape[0], channels, 2), dtype=np.float64)
        self._step = round(_STEP_S * sample_rate)
        self._steps_per_block = round(_BLOCK_S / _STEP_S)
        self._step_energy = 0.0
        self._step_fill = 0
        self._recent: list[float] = []  # energies of the last steps, up to one block
        self._blocks = np.zeros(1024, dtype=np.float64)
        self._block_count = 0
        self._peaks = TruePeakDetector(sample_rate, channels) if true_peak else None
        self._true_peak = 0.0
        self._sample_peak = 0.0
        self._samples = 0

    @property
    def samples(self) -> int:
        """Samples (per channel) measured so far."""
        return self._samples

    def add(self, block: NDArray[np.floating]) -> None:
        """Measure the next block.

        Args:
            block: Samples of shape ``(channels, n)`` (or ``(n,)`` for mono).
        """
        samples = _as_channels(block)
        if samples.shape[0] != self.channels:
            raise ValueError(f"meter expects {self.channels} channels, got {samples.shape[0]}")
        n = samples.shape[1]
        if n == 0:
            return
        self._samples += n
        weighted, self._zi = sosfilt(self._sos, samples, self._zi)
        self._add_energy(np.einsum("cn,cn->n", weighted, weighted))
        self._sample_peak = max(self._sample_peak, float(np.abs(samples).max()))
        if self._peaks is not None:
            self._true_peak = max(self._true_peak, float(self._peaks.peaks(samples).max()))
        else:
            self._true_peak = self._sample_peak

    def _add_energy(self, power: NDArray[np.float64]) -> None:
        room = self._step - self._step_fill
        if power.size < room:
            self._step_energy += float(power.sum())
            self._step_fill += power.size
            return
        self._close_step(self._step_energy + float(power[:room].sum()))
        rest = power[room:]
        whole = rest.size // self._step
        for energy in rest[: whole * self._step].reshape(whole, self._step).sum(axis=1):
            self._close_step(float(energy))
        tail = rest[whole * self._step :]
        self._step_energy = float(tail.sum())
        self._step_fill = tail.size

    def _close_step(self, energy: float) -> None:
        self._recent.append(energy)
        if len(self._recent) < self._steps_per_block:
            return
        if len(self._recent) > self._steps_per_block:
            del self._recent[0]
        if self._block_count == self._blocks.size:
            self._blocks = np.concatenate([self._blocks, np.zeros_like(self._blocks)])
        mean_square = math.fsum(self._recent) / (self._step * self._steps_per_block)
        self._blocks[self._block_count] = mean_square
        self._block_count += 1

    def integrated_lufs(self) -> float:
        """Gated integrated loudness in LUFS so far; ``-inf`` for silence or under 400 ms."""
        return gated_loudness(self.block_powers())

    def block_powers(self) -> NDArray[np.float64]:
        """The K-weighted mean square of each 400 ms gating block so far (one every
        100 ms): what :func:`gated_loudness` needs, for sounds measured apart."""
        return self._blocks[: self._block_count].copy()

    def true_peak_dbtp(self) -> float:
        """Highest 4x-oversampled peak so far in dBTP; ``-inf`` for silence."""
        return amplitude_to_db(self._true_peak)

    def sample_peak_dbfs(self) -> float:
        """Highest sample magnitude so far in dBFS; ``-inf`` for silence."""
        return amplitude_to_db(self._sample_peak)


def gated_loudness(blocks: NDArray[np.float64]) -> float:
    """Integrated loudness in LUFS of gating blocks' mean squares (both gates applied);
    ``-inf`` when none is above the absolute gate.

    The blocks of sounds measured one by one, joined, give the loudness of those sounds
    played one after another with silence between them (the gates drop the silence).
    """
    loud = blocks[_loudness(blocks) > _ABSOLUTE_GATE_LUFS]
    if loud.size == 0:
        return -math.inf
    relative_gate = float(_loudness(np.array([loud.mean()]))[0]) + _RELATIVE_GATE_LU
    gated = loud[_loudness(loud) > relative_gate]
    return float(_loudness(np.array([gated.mean()]))[0])


def _loudness(mean_squares: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore"):
        return np.asarray(_OFFSET_DB + 10.0 * np.log10(mean_squares), dtype=np.float64)
