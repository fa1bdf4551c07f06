"""The narration track, streamed: each narration placed at its segment's first sample.

Only the narrations that overlap the block being read are held in memory, so a
project of any length costs the memory of one or two segments.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from storyreel.media.audio import CHANNELS, Samples
from storyreel.timeline.plan import Plan

__all__ = ["NarrationLoader", "NarrationTrack"]

NarrationLoader = Callable[[int], Samples]
"""Returns the decoded narration of a segment (0-based index)."""


class NarrationTrack:
    """Reads the mixed narration track block by block, from sample 0 to the plan's end."""

    def __init__(self, plan: Plan, load: NarrationLoader) -> None:
        self._plan = plan
        self._load = load
        self._pos = 0
        self._next = 0  # next span whose narration is not loaded yet
        self._live: list[tuple[int, Samples]] = []  # (start sample, samples)

    @property
    def position(self) -> int:
        """Samples read so far."""
        return self._pos

    def read_until(self, end: int) -> Samples:
        """The samples from the current position up to ``end`` (clamped to the track)."""
        end = min(end, self._plan.total_samples)
        block = np.zeros((CHANNELS, max(0, end - self._pos)), dtype=np.float32)
        if block.shape[1] == 0:
            return block
        spans = self._plan.spans
        while self._next < len(spans) and spans[self._next].audio_start < end:
            span = spans[self._next]
            self._live.append((span.audio_start, self._load(span.index)))
            self._next += 1
        for start, samples in self._live:
            lo = max(start, self._pos)
            hi = min(start + samples.shape[1], end)
            if hi > lo:
                block[:, lo - self._pos : hi - self._pos] += samples[:, lo - start : hi - start]
        self._live = [(s, x) for s, x in self._live if s + x.shape[1] > end]
        self._pos = end
        return block
