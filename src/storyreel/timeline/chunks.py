"""Where a chunked render cuts the timeline into parts that are encoded on their own.

A part starts where an item's hold starts: on the first frame after the crossfade
into a segment, so one segment's captions and picture fall into as few parts as
possible (a segment's text into one part, its picture into that part and the
crossfade at the end of the previous one). Whatever the segment shows (a still, a
clip, a card), nothing is ever cut inside it, inside a crossfade or inside a fade
from or to black, and a hold shorter than ``tail_guard``
frames before the next crossfade gets no cut: there, the end of a part would lose the
encoder's look-ahead just when the picture starts to change.

A draft cuts on both sides of every crossfade instead (``apart``), so that each
crossfade is a short part of its own: the frames an edit of one segment changes (its
hold and the crossfades into and out of it, which show its moving picture) are then
re-encoded without its neighbours' holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyreel.timeline.plan import Plan

__all__ = ["Chunk", "plan_chunks"]


@dataclass(frozen=True)
class Chunk:
    """Frames ``start`` up to (not including) ``end`` of the timeline, encoded as one part."""

    index: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        """Number of frames in the part."""
        return self.end - self.start


def plan_chunks(plan: Plan, *, fade_in: int, fade_out: int, tail_guard: int,
                min_frames: int, apart: bool = False) -> tuple[Chunk, ...]:
    """Cut ``plan`` into parts (a part may start at any item's hold).

    Args:
        plan: The timeline.
        fade_in: Frames of the fade from black at the start (never cut).
        fade_out: Frames of the fade to black at the end (never cut).
        tail_guard: Least frames between a cut and the next crossfade or fade out.
        min_frames: Least frames in a part; shorter parts are joined to the next.
        apart: Cut where every crossfade starts and ends (a crossfade is a part), other
            holds as above.
    """
    spans, total = plan.spans, plan.total_frames
    cuts = [0]
    for span in spans[1:]:
        if apart and span.crossfade:
            for cut in (span.visible_start, span.first_frame):
                if fade_in <= cut <= total - fade_out and cut > cuts[-1]:
                    cuts.append(cut)
            continue
        cut = span.first_frame
        following = spans[span.index + 1] if span.index + 1 < len(spans) else None
        change = following.visible_start if following is not None else total - fade_out
        change = min(change, total - fade_out)
        if cut >= fade_in and cut + tail_guard <= change and cut - cuts[-1] >= min_frames:
            cuts.append(cut)
    if len(cuts) > 1 and total - cuts[-1] < min_frames:
        cuts.pop()
    ends = [*cuts[1:], total]
    return tuple(Chunk(i, a, b) for i, (a, b) in enumerate(zip(cuts, ends, strict=True)))
