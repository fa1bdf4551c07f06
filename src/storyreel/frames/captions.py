"""A caption on screen, frame by frame: which state it is in, and that state's overlay.

The states come from :func:`storyreel.timeline.captions.caption_states` (changes land on
the frame where a word starts); each state is rasterised once by the
:class:`~storyreel.frames.text.CaptionPainter` and reused for every frame it lasts.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from storyreel.frames.overlay import Overlay
from storyreel.frames.text import CaptionPainter
from storyreel.timeline.captions import CaptionState, CaptionWord, caption_states

__all__ = ["CaptionTrack", "TimedCaption"]


class TimedCaption(Protocol):
    """A caption on the frame grid with its words."""

    @property
    def start(self) -> int:
        """First frame."""
        ...

    @property
    def end(self) -> int:
        """One past the last frame."""
        ...

    @property
    def words(self) -> tuple[CaptionWord, ...]:
        """Its words, one per whitespace-separated token of its text."""
        ...


C = TypeVar("C", bound=TimedCaption)


class CaptionTrack(Generic[C]):
    """Walks one caption's states as frames go by (frames must not go backwards)."""

    def __init__(self, caption: C, painter: CaptionPainter, look: str,
                 group: int = 3) -> None:
        self.caption = caption
        self.painter = painter
        self._states = caption_states(caption.words, caption.start, caption.end, look,
                                      group=group)
        self._at = 0

    @property
    def end(self) -> int:
        """One past the caption's last frame."""
        return self.caption.end

    def state(self, frame: int) -> CaptionState:
        """The state shown in ``frame``."""
        while self._at + 1 < len(self._states) and self._states[self._at + 1][0] <= frame:
            self._at += 1
        return self._states[self._at][1]

    def overlay(self, frame: int) -> Overlay:
        """The overlay of ``frame``."""
        return self.painter.overlay(self.state(frame))
