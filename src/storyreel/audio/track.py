"""Sounds placed on the timeline (narrations, clip sound), mixed and streamed block by block.

A placed sound is either held in memory (a short clip's sound) or streamed from its
file as the track is read (a narration), so a project of any length, with narrations
of any length, costs the memory of a few blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from storyreel.media.audio import CHANNELS, Samples

__all__ = ["Placement", "SoundLoader", "SoundStream", "Track"]


class SoundStream(Protocol):
    """A sound read once, in order (:class:`storyreel.media.audio.AudioReader` is one)."""

    def read(self, n: int) -> Samples:
        """The next ``n`` samples, shape ``(2, n)`` (zeros past the end)."""
        ...

    def close(self) -> None:
        """Release what the stream holds."""
        ...


SoundLoader = Callable[[int], "Samples | SoundStream"]
"""Returns the samples of a placement, or a stream of them, by its key."""


@dataclass(frozen=True)
class Placement:
    """A sound that starts at sample ``start`` and is ``length`` samples long."""

    key: int
    start: int
    length: int


class _InMemory:
    def __init__(self, samples: Samples) -> None:
        self._samples = samples
        self._pos = 0

    def read(self, n: int) -> Samples:
        out = np.zeros((CHANNELS, n), dtype=np.float32)
        part = self._samples[:, self._pos : self._pos + n]
        out[:, : part.shape[1]] = part
        self._pos += n
        return out

    def close(self) -> None:
        self._samples = np.zeros((CHANNELS, 0), dtype=np.float32)


class Track:
    """Reads the mix of placed sounds from sample 0 up to ``total`` samples, in order.

    Streams are closed once their placement has been read, or by :meth:`close`.
    """

    def __init__(self, placements: Sequence[Placement], load: SoundLoader, total: int) -> None:
        self._placements = sorted((p for p in placements if p.length > 0), key=lambda p: p.start)
        self._load = load
        self._total = total
        self._pos = 0
        self._next = 0
        self._live: list[tuple[Placement, SoundStream]] = []

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
        pending, self._live = self._live, []  # those going on past ``end`` come back
        try:
            while pending:
                self._add(block, *pending.pop(0), end)
            # Each sound that starts here is opened, read and (if it ends here) closed
            # before the next is opened: a block can hold many short ones (45 in 10 s of
            # 0.2 s parts), and an open narration holds its decoder.
            while (self._next < len(self._placements)
                   and self._placements[self._next].start < end):
                placement = self._placements[self._next]
                sound = self._load(placement.key)
                self._next += 1
                self._add(block, placement, _InMemory(sound) if isinstance(sound, np.ndarray)
                          else sound, end)
        except BaseException:
            for _, stream in pending:
                stream.close()
            raise
        self._pos = end
        return block

    def _add(self, block: Samples, placement: Placement, stream: SoundStream, end: int) -> None:
        """Add what ``stream`` plays in ``block`` (from the current position to ``end``);
        keep it open if it goes on past ``end``, else close it (also on error)."""
        lo = max(placement.start, self._pos)
        hi = min(placement.start + placement.length, end)
        try:
            if hi > lo:
                block[:, lo - self._pos : hi - self._pos] += stream.read(hi - lo)
        except BaseException:
            stream.close()
            raise
        if placement.start + placement.length > end:
            self._live.append((placement, stream))
        else:
            stream.close()

    def close(self) -> None:
        """Close the streams still open (a track abandoned before its end)."""
        live, self._live = self._live, []
        for _, stream in live:
            stream.close()
