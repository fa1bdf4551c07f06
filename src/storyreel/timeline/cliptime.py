"""Which moment of a clip each output frame of its segment shows: exact arithmetic.

Frame ``n`` of a segment (counted from the first frame it is visible, its crossfade
in included) shows the clip at a time on the clip's own clock, the clock its trim is
given in. A clip shorter than its segment is fitted by ``freeze`` (and ``extend``,
whose segment was made long enough): the last frame held; ``loop``: played again
from the trim's start; ``speed``: slowed to fill the segment, never below half
speed, then held. A clip longer than its segment is cut at the segment's end.
"""

from __future__ import annotations

from fractions import Fraction

from storyreel.model.visual import Fit

__all__ = ["MIN_SPEED", "clip_rate", "clip_time"]

#: The slowest a clip is played to fill its segment.
MIN_SPEED = Fraction(1, 2)


def clip_rate(fit: Fit, length: Fraction, shown: Fraction) -> Fraction:
    """How fast the clip plays: 1 but for ``speed`` fitting a clip of ``length`` seconds
    into a segment shown for ``shown`` seconds."""
    if fit != "speed" or length >= shown or shown <= 0:
        return Fraction(1)
    return max(MIN_SPEED, length / shown)


def clip_time(frame: int, *, fps: Fraction, start: Fraction, length: Fraction, fit: Fit,
              shown_frames: int) -> Fraction:
    """The clip time shown at frame ``frame`` of a segment that shows it for
    ``shown_frames`` frames.

    Args:
        frame: Frame of the segment, 0 at its first visible frame.
        fps: The project's exact frame rate.
        start: The trim's start on the clip's clock, in seconds.
        length: The trimmed clip's length in seconds (positive).
        fit: How a clip shorter than its segment fills it.
        shown_frames: Frames the segment is visible for.

    Returns:
        A time in ``[start, start + length]``; the end stands for the trim's last
        frame, which the decoder shows for any time at or past it.
    """
    elapsed = Fraction(frame) / fps
    if fit == "loop":
        return start + elapsed % length
    rate = clip_rate(fit, length, Fraction(shown_frames) / fps)
    return start + min(elapsed * rate, length)
