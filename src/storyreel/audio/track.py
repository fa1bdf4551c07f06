"""Sounds placed on the timeline (narrations, clip sound), mixed and streamed block by block.

Only the sounds that overlap the block being read are held in memory, so a project of
any length costs the memory of one or two segments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from storyreel.media.audio import CHANNELS, Samples

__all__ = ["Placement", "SoundLoader", "Track"]

SoundLoader = Callable[[int], Samples]
"""Returns the samples of a placement, by its key."""


@dataclass(frozen=True)
class Placement:
    """A sound that starts at sample ``start`` and is ``length`` samples long."""

    key: int
    start: int
    length: int


class Track:
    """Reads the mix of placed sounds from sample 0 up to ``total`` samples, in order."""

    def __init__(self, placements: Sequence[Placement], load: SoundLoader, total: int) -> None:
        self._placements = sorted((p for p in placements if p.length > 0), key=lambda p: p.start)
        self._load = load
        self._total = total
        self._pos = 0
        self._next = 0
        self._live: list[tuple[int, Samples]] = []

    @property
    def position(self) -> int:
        """Samples read so far."""
        return self._pos

    @property
    def total(self) -> int:
        """Length of the track in samples."""
        return self._total

    def read_until(self, end: int) -> Samples:
        """The samples from the current position up to ``end`` (clamped to the track)."""
        end = min(end, self._total)
        block = np.zeros((CHANNELS, max(0, end - self._pos)), dtype=np.float32)
        if block.shape[1] == 0:
            return block
        while self._next < len(self._placements) and self._placements[self._next].start < end:
            placement = self._placements[self._next]
            self._live.append((placement.start, self._load(placement.key)))
            self._next += 1
        for start, samples in self._live:
            lo = max(start, self._pos)
            hi = min(start + samples.shape[1], end)
            if hi > lo:
                block[:, lo - self._pos : hi - self._pos] += samples[:, lo - start : hi - start]
        self._live = [(s, x) for s, x in self._live if s + x.shape[1] > end]
        self._pos = end
        return block
