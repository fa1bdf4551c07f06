"""A still's Ken Burns motion as the few keyframes an editor needs to play it back.

The render shows a still cover-fitted to the frame and then zoomed and panned
(:mod:`storyreel.frames.kenburns`). Seen from the frame, that is the cover-fitted
picture drawn at ``zoom`` times the frame's size with its top-left corner at
``-pan * (zoom - 1) * size``: a rectangle per frame (:func:`still_rects`). Editors
interpolate keyframes linearly, while the render eases the zoom and pan and
multiplies them, so :func:`keyframe_frames` keeps few frames, but enough that the
straight lines between them stay within ``tolerance`` pixels of every frame's rectangle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from storyreel.frames.kenburns import Motion

__all__ = ["TOLERANCE", "Rect", "image_rect", "keyframe_frames", "still_rects"]

#: Largest distance, in output pixels, between an editor's interpolated rectangle and
#: the render's on any frame.
TOLERANCE = 0.25

#: ``(x, y, width, height)`` in output pixels, from the frame's top-left corner, y down.
Rect = tuple[float, float, float, float]


def still_rects(motion: Motion, shown: int, before: int, width: int, height: int
                ) -> list[Rect]:
    """Where the cover-fitted still lies on each frame a clip shows.

    Args:
        motion: The segment's motion.
        shown: Frames the clip shows.
        before: Frames the render shows the still before the clip starts (its
            crossfade), which the motion's progress counts from.
        width: Frame width in pixels.
        height: Frame height in pixels.
    """
    length = shown + before
    rects: list[Rect] = []
    for index in range(before, length):
        zoom, px, py = motion.at(index / (length - 1) if length > 1 else 0.0)
        rects.append((-px * (zoom - 1) * width, -py * (zoom - 1) * height,
                      zoom * width, zoom * height))
    return rects


def image_rect(cover: Rect, image: tuple[int, int]) -> Rect:
    """The whole image's rectangle around its cover-fitted part (the render crops the
    image's middle to the frame's shape)."""
    x, y, w, h = cover
    image_w, image_h = image
    if image_w * h > image_h * w:  # wider than the frame: cropped left and right
        full = h * image_w / image_h
        return x - (full - w) / 2, y, full, h
    full = w * image_h / image_w
    return x, y - (full - h) / 2, w, full


def keyframe_frames(rects: Sequence[Rect], tolerance: float = TOLERANCE) -> list[int]:
    """The frames to keyframe so that linear interpolation stays within ``tolerance``.

    Always the first and the last frame; a frame in between wherever a straight line
    from the last keyframe would stray further than ``tolerance`` from a frame's
    rectangle.
    """
    values = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
    last = len(values) - 1
    keys = [0]
    while keys[-1] < last:
        keys.append(_farthest(values, keys[-1], last, tolerance))
    return keys


def _farthest(values: NDArray[np.float64], start: int, last: int, tolerance: float) -> int:
    """A far frame the line from ``start`` reaches within ``tolerance``: steps doubling
    until one strays, then halving back (a long slow move costs a few checks, not one a
    frame)."""
    reached, step = start + 1, 1  # the next frame: nothing between to stray
    strayed = None
    while reached < last:
        probe = min(reached + step, last)
        if not _fits(values, start, probe, tolerance):
            strayed = probe
            break
        reached, step = probe, step * 2
    while strayed is not None and strayed - reached > 1:
        middle = (reached + strayed) // 2
        if _fits(values, start, middle, tolerance):
            reached = middle
        else:
            strayed = middle
    return reached


def _fits(values: NDArray[np.float64], start: int, end: int, tolerance: float) -> bool:
    share = np.linspace(0.0, 1.0, end - start + 1)[:, None]
    line = values[start] + (values[end] - values[start]) * share
    return bool(np.abs(line - values[start:end + 1]).max() <= tolerance)
