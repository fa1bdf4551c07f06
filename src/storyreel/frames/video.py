"""Video clips as a segment's picture: trimmed, fitted in time, framed, optionally pushed in.

Each output frame asks the timeline which moment of the clip it shows
(:func:`storyreel.timeline.cliptime.clip_time`) and the decoder for the frame on
screen then; the frame is scaled once, straight to the size it is drawn at:
``cover`` fills the frame (cropped around the clip's focus, its centre by default),
``contain`` letterboxes it on black, ``blur`` contains it over a blurred, darkened copy
of itself. ``zoom`` scales it up slowly over the segment, about its focus.
"""

from __future__ import annotations

import math
from fractions import Fraction

import cv2
import numpy as np

from storyreel.media.clip import ClipReader
from storyreel.media.encoder import PlaneViews
from storyreel.media.image import Planes
from storyreel.model.visual import Video
from storyreel.timeline.cliptime import clip_time
from storyreel.timeline.framing import CENTRE, Focus, paste_offset
from storyreel.timeline.story import ClipFacts

__all__ = ["VideoPicture"]

_BLACK = (16, 128, 128)
#: The blurred background is drawn at this share of the frame, then scaled up.
_BLUR_SCALE = 8
#: ... and darkened to this share of its brightness.
_BLUR_LEVEL = 0.55


class VideoPicture:
    """Draws a segment's clip, frame by frame, into the output planes."""

    def __init__(self, visual: Video, clip: ClipFacts, *, width: int, height: int,
                 fps: Fraction, shown_frames: int) -> None:
        self._options = visual.clip
        self._start, end = visual.clip.trim
        self._clip, self._fps, self._shown = clip, fps, shown_frames
        self._size = (width, height)
        self._focus = visual.focus or CENTRE
        # Without a push-in every frame is scaled to one size: on the decode thread.
        fixed = None if self._options.zoom is not None else self._scaled(1.0)
        self._reader = ClipReader(visual.video, start=self._start, end=end, size=fixed)

    def time_of(self, index: int) -> Fraction:
        """The clip time shown at frame ``index`` of the segment."""
        return clip_time(index, fps=self._fps, start=self._start, length=self._clip.length,
                         fit=self._options.fit, shown_frames=self._shown)

    def draw(self, dest: PlaneViews, index: int, t: float) -> None:
        """Draw frame ``index`` of the segment (``t``: progress 0..1, for the push-in)."""
        frame = self._reader.frame_at(self.time_of(index))
        width, height = self._size
        size = self._scaled(1.0 + ((self._options.zoom or 1.0) - 1.0) * t)
        if self._options.crop == "blur":
            _blurred_into(dest, frame.planes(*_blur_size(self._clip, width, height)))
        elif size[0] < width or size[1] < height:
            for plane, black in zip(dest, _BLACK, strict=True):
                plane.fill(black)
        _paste_at(dest, frame.planes(*size), self._focus)

    def _scaled(self, zoom: float) -> tuple[int, int]:
        """The size the clip is drawn at: covering or inside the frame, times ``zoom``."""
        width, height = self._size
        fit = max if self._options.crop == "cover" else min
        scale = fit(width / self._clip.width, height / self._clip.height) * zoom
        return _even(self._clip.width * scale), _even(self._clip.height * scale)

    def close(self) -> None:
        """Close the decoder."""
        self._reader.close()


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _blur_size(clip: ClipFacts, width: int, height: int) -> tuple[int, int]:
    """The small size the background is drawn at: covering the frame, 1/8 of it."""
    scale = max(width / clip.width, height / clip.height) / _BLUR_SCALE
    return _even(math.ceil(clip.width * scale)), _even(math.ceil(clip.height * scale))


def _blurred_into(dest: PlaneViews, small: Planes) -> None:
    """``small`` blurred, darkened and scaled up to cover ``dest`` (centre crop)."""
    for plane, source, black in zip(dest, (small.y, small.u, small.v), _BLACK, strict=True):
        h, w = plane.shape
        scale = max(w / source.shape[1], h / source.shape[0])
        big_w, big_h = math.ceil(source.shape[1] * scale), math.ceil(source.shape[0] * scale)
        blurred = cv2.GaussianBlur(source, (0, 0), sigmaX=max(1.0, source.shape[1] / 40))
        big = cv2.resize(blurred, (big_w, big_h), interpolation=cv2.INTER_LINEAR)
        x, y = (big_w - w) // 2, (big_h - h) // 2
        region = big[y : y + h, x : x + w].astype(np.float32)
        np.copyto(plane, np.rint(black + (region - black) * _BLUR_LEVEL).astype(np.uint8))


def _paste_at(dest: PlaneViews, source: Planes, focus: Focus) -> None:
    """``source`` on ``dest``: centred where it is smaller, cropped around ``focus`` where
    it is larger (offsets kept even)."""
    height, width = dest[0].shape
    src_h, src_w = source.y.shape
    dx = paste_offset(src_w, width, focus[0]) // 2 * 2
    dy = paste_offset(src_h, height, focus[1]) // 2 * 2
    for k, (plane, part) in enumerate(zip(dest, (source.y, source.u, source.v), strict=True)):
        div = 1 if k == 0 else 2
        x, y = dx // div, dy // div
        h, w = plane.shape
        # Where the source lands on the plane, and which part of the source that is.
        left, top = max(0, x), max(0, y)
        right, bottom = min(w, x + part.shape[1]), min(h, y + part.shape[0])
        plane[top:bottom, left:right] = part[top - y : bottom - y, left - x : right - x]
