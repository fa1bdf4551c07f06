"""Loudness normalisation, second pass: gain, look-ahead true-peak limiter, output meter.

:func:`normalise_gain_db` turns the first pass's measurement into a gain;
:class:`Normaliser` applies it, limits and meters the result without shifting a
sample; :class:`Limiter` is the limiter on its own (its output is delayed).

The limiter sees every peak before it plays it: the audio is delayed by a fixed
:attr:`Limiter.latency` while a 4x oversampled detector (the same interpolator the
loudness meter uses) computes, per sample, the gain that keeps the peak under the
ceiling. That gain is held for the look-ahead, released at a steady rate in dB,
and smoothed by a moving average as long as the look-ahead, so the gain reaches
its lowest value exactly when the peak plays and never jumps (no clicks). Every
step is a sliding window or a running minimum carried between blocks, so output
is the same whatever the block size.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.loudness import LoudnessMeter, TruePeakDetector, db_to_amplitude

__all__ = ["DEFAULT_MAX_GAIN_DB", "Limiter", "Normaliser", "normalise_gain_db"]

#: Largest boost :func:`normalise_gain_db` applies, so a nearly silent mix is not
#: raised into a wall of noise.
DEFAULT_MAX_GAIN_DB = 30.0

# Headroom under the ceiling for what the detector cannot see: the gain changing
# between samples and the interpolator's own ripple.
_SAFETY_DB = 0.1
# Lowest gain the limiter applies (-120 dB).
_FLOOR = 1e-6
# The release rate is this many dB per ``release_ms``.
_RELEASE_SPAN_DB = 10.0

Samples = NDArray[np.float32]


def normalise_gain_db(
    measured_lufs: float, target_lufs: float, *, max_gain_db: float = DEFAULT_MAX_GAIN_DB
) -> float:
    """The gain that brings a mix measured at ``measured_lufs`` to ``target_lufs``.

    Args:
        measured_lufs: Integrated loudness of the mix (``-inf`` for silence).
        target_lufs: Wanted integrated loudness.
        max_gain_db: Upper bound on the boost.

    Returns:
        Gain in dB; 0 for silence (nothing to normalise).
    """
    if not math.isfinite(measured_lufs):
        return 0.0
    return min(target_lufs - measured_lufs, max_gain_db)


class Limiter:
    """Look-ahead peak limiter with a fixed delay (:class:`Normaliser` hides the delay).

    Example::

        limiter = Limiter(ceiling_dbtp=-1.0)
        for block in blocks:
            encode(limiter.process(block * gain))  # delayed by limiter.latency
        encode(limiter.flush())                   # the last latency samples
    """

    def __init__(
        self,
        ceiling_dbtp: float = -1.0,
        sample_rate: int = 48_000,
        *,
        channels: int = 2,
        lookahead_ms: float = 5.0,
        release_ms: float = 80.0,
    ) -> None:
        """Create a limiter.

        Args:
            ceiling_dbtp: Highest true peak allowed in the output, in dBTP.
            sample_rate: Sample rate in Hz.
            channels: Channel count of the blocks.
            lookahead_ms: How long before a peak the gain starts to fall (the attack).
            release_ms: How long the gain takes to recover 10 dB after a peak.
        """
        if lookahead_ms <= 0 or release_ms <= 0:
            raise ValueError("look-ahead and release must be positive")
        self.ceiling_dbtp = ceiling_dbtp
        self._threshold = db_to_amplitude(ceiling_dbtp - _SAFETY_DB)
        self._detector = TruePeakDetector(sample_rate, channels)
        self._ahead = max(1, round(lookahead_ms * sample_rate / 1000))
        self._release = _RELEASE_SPAN_DB / (release_ms * sample_rate / 1000)  # dB per sample
        # The detector reports a peak ``delay`` samples late and spread over a sample on
        # each side of the one it belongs to, hence the wider hold and the extra delay.
        self._hold = self._ahead + 2
        self.latency = self._ahead + self._detector.delay
        """Output delay in samples: output sample ``i`` is input sample ``i - latency``."""
        self._wanted = np.ones(self._hold - 1, dtype=np.float64)
        self._released_db = 0.0
        self._shortfall = np.zeros(self._ahead - 1, dtype=np.float64)
        self._delay = np.zeros((channels, self.latency), dtype=np.float32)
        self._channels = channels

    def process(self, block: Samples) -> Samples:
        """Limit the next block.

        Args:
            block: Samples of shape ``(channels, n)``.

        Returns:
            ``n`` limited samples, delayed by :attr:`latency` (the first call starts
            with ``latency`` samples of silence).
        """
        if block.ndim != 2 or block.shape[0] != self._channels:
            raise ValueError(f"limiter expects shape ({self._channels}, n), not {block.shape}")
        n = block.shape[1]
        if n == 0:
            return np.zeros_like(self._delay[:, :0])
        if not np.isfinite(block).all():  # a corrupt sample becomes silence, not a spike
            block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
        gain = self._smooth(self._release_gain(self._hold_gain(self._wanted_gain(block))))
        delayed = np.concatenate([self._delay, block.astype(np.float32, copy=False)], axis=1)
        self._delay = delayed[:, n:]
        return np.asarray(delayed[:, :n] * gain.astype(np.float32), dtype=np.float32)

    def flush(self) -> Samples:
        """The last :attr:`latency` samples still in the delay line."""
        return self.process(np.zeros((self._channels, self.latency), dtype=np.float32))

    def _wanted_gain(self, block: Samples) -> NDArray[np.float64]:
        peaks = np.nan_to_num(self._detector.peaks(block, self._threshold), nan=np.inf)
        with np.errstate(divide="ignore"):
            # The floor keeps the gain finite in dB, so a corrupt sample cannot mute the rest.
            return np.clip(self._threshold / peaks, _FLOOR, 1.0)

    def _hold_gain(self, wanted: NDArray[np.float64]) -> NDArray[np.float64]:
        """Lowest wanted gain over the last ``hold`` samples."""
        extended = np.concatenate([self._wanted, wanted])
        self._wanted = extended[wanted.size :]
        if extended.min() >= 1.0:
            return np.ones(wanted.size, dtype=np.float64)
        origin = (self._hold - 1) // 2  # trailing window: ends at each sample
        from scipy.ndimage import minimum_filter1d  # heavy: loaded only when limiting

        held = minimum_filter1d(extended, self._hold, mode="nearest", origin=origin)
        return np.asarray(held[self._hold - 1 :], dtype=np.float64)

    def _release_gain(self, held: NDArray[np.float64]) -> NDArray[np.float64]:
        """Let the gain rise by at most ``release`` dB per sample; falls pass at once."""
        if self._released_db >= 0.0 and held.min() >= 1.0:
            return held
        held_db = 20.0 * np.log10(held)
        ramp = self._release * np.arange(held.size, dtype=np.float64)
        floor = np.minimum.accumulate(held_db - ramp)
        released_db = ramp + np.minimum(floor, self._released_db + self._release)
        self._released_db = min(0.0, float(released_db[-1]))
        return np.asarray(10.0 ** (np.minimum(released_db, 0.0) / 20.0), dtype=np.float64)

    def _smooth(self, gain: NDArray[np.float64]) -> NDArray[np.float64]:
        """Moving average over the look-ahead, as ``1 - mean(shortfall)`` so unity stays exact."""
        shortfall = np.concatenate([self._shortfall, 1.0 - gain])
        self._shortfall = shortfall[gain.size :]
        if not shortfall.any():
            return np.ones(gain.size, dtype=np.float64)
        sums = np.concatenate([[0.0], np.cumsum(shortfall)])
        mean = (sums[self._ahead :] - sums[: gain.size]) / self._ahead
        return np.asarray(np.clip(1.0 - mean, 0.0, 1.0), dtype=np.float64)


class Normaliser:
    """The second pass of loudness normalisation: gain, limiter and output meter, in step.

    Unlike :class:`Limiter`, the output is not delayed: the first :attr:`Limiter.latency`
    samples are held back and come out of later calls and :meth:`flush`, so the
    output, once flushed, has exactly as many samples as the input, each at the
    same position.

    Example::

        normaliser = Normaliser(normalise_gain_db(first_pass.integrated_lufs(), -14.0))
        for block in mix_blocks():
            encoder.write_audio(normaliser.process(block))
        encoder.write_audio(normaliser.flush())
        measured = normaliser.meter.integrated_lufs()
    """

    def __init__(
        self,
        gain_db: float,
        ceiling_dbtp: float = -1.0,
        sample_rate: int = 48_000,
        *,
        channels: int = 2,
    ) -> None:
        """Create the second pass.

        Args:
            gain_db: Gain applied before limiting (see :func:`normalise_gain_db`).
            ceiling_dbtp: True-peak ceiling of the output.
            sample_rate: Sample rate in Hz.
            channels: Channel count of the blocks.
        """
        self.gain_db = gain_db
        self._gain = np.float32(db_to_amplitude(gain_db))
        self._limiter = Limiter(ceiling_dbtp, sample_rate, channels=channels)
        self._withheld = self._limiter.latency
        self.meter = LoudnessMeter(sample_rate, channels)
        """Measures the output: loudness and true peak after normalisation."""

    def process(self, block: Samples) -> Samples:
        """Normalise the next block; returns up to ``n`` samples (fewer at the very start)."""
        out = self._limiter.process(block * self._gain)
        skip = min(self._withheld, out.shape[1])
        self._withheld -= skip
        return self._measured(out[:, skip:])

    def flush(self) -> Samples:
        """The samples still held back; call once, after the last block."""
        out = self._limiter.flush()
        skip = min(self._withheld, out.shape[1])
        self._withheld -= skip
        return self._measured(out[:, skip:])

    def _measured(self, out: Samples) -> Samples:
        self.meter.add(out)
        return out
