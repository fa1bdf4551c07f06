"""Where the voice speaks: speech and pause detection on a narration recording.

The narration is mixed to mono, rumble and hum below 80 Hz are removed, and its
short-time energy is measured every 5 ms over a 10 ms window, block by block (an
hour of audio costs a few seconds and little memory). The threshold adapts to the
recording: it sits between the noise floor (a low percentile of the energy) and
the speech level (a high percentile), with hysteresis so a level that hovers at
the threshold does not flicker. Gaps shorter than ``min_pause`` are bridged (the
hangover that keeps the short stops inside words and between words together),
and blips shorter than ``min_speech`` (clicks, breaths) are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.dsp import highpass_sos, sosfiltfilt
from storyreel.media.audio import SAMPLE_RATE, Samples

__all__ = ["narration_speech"]

_HOP = 0.005  # seconds between energy measurements
_WINDOW = 0.010  # seconds of audio in each measurement
_SILENT_DB = -55.0  # a recording whose loudest parts stay below this holds no speech
_MIN_RANGE_DB = 8.0  # less contrast than this between floor and voice: no pauses to find
_HIGHPASS_HZ = 80.0
_BLOCK_HOPS = 2000  # hops of audio filtered at a time (10 s)
_MARGIN_HOPS = 100  # extra hops on each side of a block (0.5 s)
_PADLEN = 64


def narration_speech(
    blocks: Iterable[Samples],
    sample_rate: int = SAMPLE_RATE,
    *,
    min_pause: float = 0.1,
    min_speech: float = 0.05,
) -> tuple[int, list[tuple[int, int]]]:
    """Length and speech regions of a narration read in blocks.

    Speech regions are sorted, disjoint ``(start, end)`` sample ranges (end exclusive):
    none when the recording is silent, one covering everything when it holds no pause.

    Only a few seconds of the narration are held at a time, so its length costs nothing
    but the energy profile (200 values a second).
    """
    hop = max(1, round(_HOP * sample_rate))
    energy, size = _hop_energy(blocks, sample_rate, hop)
    if size == 0:
        return 0, []
    level = _level_db(energy, hop)
    active = _classify(level)
    if active is None:
        return size, [] if np.percentile(level, 98) < _SILENT_DB else [(0, size)]
    runs = _runs(active)
    # A silence shows about one window shorter than it is: the window overlaps speech.
    runs = _bridge(runs, max(1, round((min_pause - _WINDOW) / _HOP)))
    runs = [(a, b) for a, b in runs if b - a >= max(1, round(min_speech / _HOP))]
    return size, [(min(a * hop, size), min(b * hop, size)) for a, b in runs]


class _MonoBuffer:
    """The narration mixed to mono, kept from a little before the block being measured."""

    def __init__(self) -> None:
        self.base = 0  # absolute index of data[0]
        self.data = np.zeros(0)
        self._pending: list[NDArray[np.float64]] = []
        self.end = 0  # absolute index after the last sample received

    def add(self, block: Samples) -> None:
        data = np.asarray(block)
        data = data.reshape(1, -1) if data.ndim == 1 else data
        mono = np.nan_to_num(data.mean(axis=0, dtype=np.float64))
        self._pending.append(mono)
        self.end += mono.size

    def window(self, lo: int, hi: int) -> NDArray[np.float64]:
        if self._pending:
            self.data = np.concatenate((self.data, *self._pending))
            self._pending = []
        return self.data[lo - self.base : hi - self.base]

    def drop_before(self, index: int) -> None:
        cut = max(0, min(index - self.base, self.data.size))
        self.data = self.data[cut:]
        self.base += cut


def _hop_energy(blocks: Iterable[Samples], rate: int, hop: int
                ) -> tuple[NDArray[np.float64], int]:
    """Energy of every hop of the high-passed mono narration, and the narration's length.

    Zero-phase filtering goes block by block; each block is filtered with margins that
    absorb the filter's edge effects, and is measured once the audio after it has come.
    """
    sos = highpass_sos(_HIGHPASS_HZ, rate) if rate > 4 * _HIGHPASS_HZ else None
    block, margin = hop * _BLOCK_HOPS, hop * _MARGIN_HOPS
    mono = _MonoBuffer()
    parts: list[NDArray[np.float64]] = []
    start = 0

    def measure(final: bool) -> None:
        nonlocal start
        while start < mono.end and (final or mono.end >= start + block + margin):
            lo, hi = max(0, start - margin), min(mono.end, start + block + margin)
            part = mono.window(lo, hi)
            if sos is not None and part.size > 3 * _PADLEN:
                part = sosfiltfilt(sos, part, _PADLEN)
            part = part[start - lo : start - lo + min(block, mono.end - start)]
            part = np.concatenate((part, np.zeros(-part.size % hop)))
            parts.append(np.square(part).reshape(-1, hop).sum(axis=1))
            start += block
            mono.drop_before(start - margin)

    for chunk in blocks:
        mono.add(chunk)
        measure(final=False)
    measure(final=True)
    return (np.concatenate(parts) if parts else np.zeros(0)), mono.end


def _level_db(energy: NDArray[np.float64], hop: int) -> NDArray[np.float64]:
    """Energy in dBFS of a ``_WINDOW`` (two-hop) window centred on every hop."""
    # Half of each neighbouring hop plus this one: a window of two hops centred on this one.
    padded = np.concatenate((energy[:1], energy, energy[-1:]))
    window = (0.5 * padded[:-2] + padded[1:-1] + 0.5 * padded[2:]) / (2 * hop)
    level: NDArray[np.float64] = 10.0 * np.log10(np.maximum(window, 1e-12) * 2.0)
    return level  # dBFS: the x2 makes a full-scale sine 0 dB


def _classify(level: NDArray[np.float64]) -> NDArray[np.bool_] | None:
    """Speech (True) or not per frame, or None when the level shows no contrast."""
    floor = float(np.percentile(level, 5))
    voice = float(np.percentile(level, 98))
    span = voice - floor
    if span < _MIN_RANGE_DB or voice < _SILENT_DB:
        return None
    margin = min(max(0.3 * span, 6.0), 20.0)
    on = floor + margin
    off = on - min(3.0, margin / 3)
    above_on = level >= on
    above_off = level >= off
    # Hysteresis: a frame between the two thresholds keeps the state of the frame before.
    state = np.where(above_on, 1, np.where(above_off, -1, 0))
    idx = np.where(state >= 0, np.arange(state.size), 0)
    np.maximum.accumulate(idx, out=idx)
    decided = state[idx]
    decided[decided < 0] = 0
    return decided.astype(bool)


def _runs(active: NDArray[np.bool_]) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], active.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _bridge(runs: list[tuple[int, int]], min_gap: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in runs:
        if merged and start - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
