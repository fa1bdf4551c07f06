"""Framing a picture of one shape in a frame of another, kept around its focus.

The *focus* is a point of the picture given as shares of its width and height
(``(0.5, 0.5)`` is the centre). A picture cropped to cover a frame keeps the focus as
near the frame's centre as the picture allows: the crop slides towards the focus and
stops at the picture's edge, so nothing outside the picture is ever shown. Pure
arithmetic; nothing is decoded.
"""

from __future__ import annotations

__all__ = ["CENTRE", "Box", "Focus", "cover_box", "focus_in", "paste_offset"]

Focus = tuple[float, float]
"""A point of a picture: shares (0-1) of its width and height."""
Box = tuple[float, float, float, float]
"""Left, top, right, bottom, in the picture's pixels."""

CENTRE: Focus = (0.5, 0.5)


def cover_box(src_w: int, src_h: int, width: int, height: int,
              focus: Focus | None = None) -> Box:
    """The part of a ``src_w`` x ``src_h`` picture that covers a ``width`` x ``height``
    frame: the frame's shape, as large as the picture allows, centred on ``focus``
    (the picture's centre without one) as far as the picture's edges let it."""
    fx, fy = focus or CENTRE
    target = width / height
    if src_w / src_h > target:
        crop_w = src_h * target
        left = _slide(fx * src_w - crop_w / 2, src_w - crop_w)
        return (left, 0.0, left + crop_w, float(src_h))
    crop_h = src_w / target
    top = _slide(fy * src_h - crop_h / 2, src_h - crop_h)
    return (0.0, top, float(src_w), top + crop_h)


def focus_in(box: Box, src_w: int, src_h: int, focus: Focus | None) -> Focus:
    """Where ``focus`` (shares of the whole picture) lies in ``box``, as shares of the
    box (clamped to it: a focus the crop could not reach sits at the box's edge)."""
    fx, fy = focus or CENTRE
    left, top, right, bottom = box
    x = (fx * src_w - left) / max(right - left, 1e-9)
    y = (fy * src_h - top) / max(bottom - top, 1e-9)
    return (min(1.0, max(0.0, x)), min(1.0, max(0.0, y)))


def paste_offset(source: int, dest: int, share: float) -> int:
    """Where a ``source``-long picture starts on a ``dest``-long frame (one axis): a
    picture larger than the frame puts its point ``share`` at the frame's centre, as
    far as its edges allow (it always covers the frame); a smaller one is centred."""
    if source <= dest:
        return (dest - source) // 2
    return -round(_slide(share * source - dest / 2, source - dest))


def _slide(start: float, room: float) -> float:
    """``start`` kept within ``[0, room]``."""
    return min(max(start, 0.0), max(room, 0.0))
