"""Ken Burns motion on YUV planes: an eased zoom combined with a pan, sub-pixel exact.

A still is prepared once at ``zoom`` times the output size (the *source*). Each
output frame is a window of that source scaled to the output and sampled
bilinearly at its exact sub-pixel position (:mod:`storyreel.frames.resample`),
so slow motion moves by fractions of a pixel per frame and never steps back.
Work happens directly in the encoder's planes: no RGB per frame.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from storyreel.media.image import Planes

if TYPE_CHECKING:
    from storyreel.frames.resample import PlaneSampler

Samplers = tuple["PlaneSampler", "PlaneSampler", "PlaneSampler"]

__all__ = ["FOCUS_MARGIN", "Motion", "StillPicture", "around", "choose_motion", "samplers_of",
           "warp_into"]

# Pan paths as (start, end) window positions, 0..1 of the free room on each axis.
# Consecutive entries differ, so neighbouring segments never move alike.
_PANS: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = (
    ((0.5, 0.5), (0.15, 0.35)),
    ((0.5, 0.5), (0.85, 0.6)),
    ((0.2, 0.4), (0.5, 0.5)),
    ((0.5, 0.5), (0.7, 0.15)),
    ((0.8, 0.5), (0.5, 0.5)),
    ((0.5, 0.5), (0.3, 0.85)),
    ((0.5, 0.2), (0.5, 0.5)),
    ((0.5, 0.5), (0.5, 0.5)),
)


@dataclass(frozen=True)
class Motion:
    """Where the camera window is at the start and end of a segment.

    Attributes:
        zoom_start: Zoom at the first frame (1.0 = whole picture).
        zoom_end: Zoom at the last frame.
        pan_start: Window position (x, y) at the first frame, 0..1 of the free room.
        pan_end: Window position at the last frame.
        eased: Ease in and out (smoothstep of a cosine) instead of linear.
        focus: A point of the still (shares of it) the window never lets go of: the pan
            is held back wherever it would take the point out of the frame's middle
            (:data:`FOCUS_MARGIN` from each edge).
    """

    zoom_start: float
    zoom_end: float
    pan_start: tuple[float, float] = (0.5, 0.5)
    pan_end: tuple[float, float] = (0.5, 0.5)
    eased: bool = True
    focus: tuple[float, float] | None = None

    @property
    def static(self) -> bool:
        """True when every frame is the same picture."""
        return self.zoom_start == self.zoom_end == 1.0 or (
            self.zoom_start == self.zoom_end and self.pan_start == self.pan_end
        )

    def at(self, t: float) -> tuple[float, float, float]:
        """Zoom and window position (zoom, x, y) at progress ``t`` in [0, 1]."""
        e = 0.5 - 0.5 * math.cos(math.pi * t) if self.eased else t
        zoom = self.zoom_start + (self.zoom_end - self.zoom_start) * e
        x = self.pan_start[0] + (self.pan_end[0] - self.pan_start[0]) * e
        y = self.pan_start[1] + (self.pan_end[1] - self.pan_start[1]) * e
        if self.focus is not None:
            x, y = _holding(x, self.focus[0], zoom), _holding(y, self.focus[1], zoom)
        return zoom, x, y


#: How near a frame's edge the focus of a still may come, as a share of the frame.
FOCUS_MARGIN = 0.3


def _holding(pan: float, focus: float, zoom: float) -> float:
    """``pan`` (one axis) held where the point ``focus`` shows at least
    :data:`FOCUS_MARGIN` from the frame's edges (at the picture's edge, as near as it
    can), and never past the picture."""
    room = 1.0 - 1.0 / zoom
    if room <= 1e-9:
        return pan
    # The point shows at share (focus - pan * room) * zoom of the frame.
    low = (focus - (1.0 - FOCUS_MARGIN) / zoom) / room
    high = (focus - FOCUS_MARGIN / zoom) / room
    return min(1.0, max(0.0, min(high, max(low, pan))))


def choose_motion(
    index: int, *, zoom: float, direction: str, pan: bool, eased: bool
) -> Motion:
    """Pick a deterministic motion for segment ``index`` (0-based).

    ``auto`` alternates zooming in and out and walks through distinct pan paths,
    so no two neighbours move alike. ``none`` (or ``zoom == 1``) gives a static frame.
    """
    if direction == "none" or zoom <= 1.0:
        return Motion(1.0, 1.0, eased=eased)
    zoom_in = direction == "in" or (direction == "auto" and index % 2 == 0)
    start, end = _PANS[(index * 3) % len(_PANS)] if pan else ((0.5, 0.5), (0.5, 0.5))
    if zoom_in:
        return Motion(1.0, zoom, start, end, eased)
    return Motion(zoom, 1.0, end, start, eased)


def around(motion: Motion, focus: tuple[float, float]) -> Motion:
    """``motion`` kept around ``focus`` (shares of the prepared still): its zoom and pan
    as they are while the point stays in the middle of the frame, held back where they
    would take it out (see :attr:`Motion.focus`)."""
    return dataclasses.replace(motion, focus=focus)


def warp_into(
    source: Planes,
    dest: tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]],
    motion: Motion,
    t: float,
    samplers: Samplers | None = None,
) -> None:
    """Render the frame at progress ``t`` of ``motion`` into the ``dest`` planes.

    Args:
        source: The still prepared at the largest zoom times the output size.
        dest: Writable Y, U, V planes of the output frame (views into the encoder frame).
        motion: The segment's motion.
        t: Progress through the segment, 0 at the first frame and 1 at the last.
        samplers: ``source``'s planes made ready by :func:`samplers_of`, to reuse from
            frame to frame (made for this frame alone when omitted).
    """
    zoom, px, py = motion.at(t)
    src_w, src_h = source.size
    out_h, out_w = dest[0].shape
    # At zoom 1 the window is the whole source; at max_zoom it is about the output size.
    win_w = src_w / zoom
    win_h = src_h / zoom
    x0 = px * (src_w - win_w)
    y0 = py * (src_h - win_h)
    step = (win_w / out_w, win_h / out_h)
    for sampler, plane, div in zip(samplers or samplers_of(source), dest, (1, 2, 2),
                                   strict=True):
        # The centre of the first output pixel, in the plane's own pixels.
        sampler.draw(plane, (x0 / div + 0.5 * step[0] - 0.5, y0 / div + 0.5 * step[1] - 0.5),
                     step)


def samplers_of(source: Planes) -> Samplers:
    """``source``'s Y, U and V planes, ready to be drawn frame after frame."""
    # Loaded when the first still is drawn: only renders pay for Numba's start-up.
    from storyreel.frames.resample import PlaneSampler

    return PlaneSampler(source.y), PlaneSampler(source.u), PlaneSampler(source.v)


class StillPicture:
    """A prepared still and its motion, drawn frame by frame (static stills are cached)."""

    def __init__(self, source: Planes, motion: Motion) -> None:
        self._source = source
        self._motion = motion
        self._samplers: Samplers | None = None
        self._static: tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]] | None = None

    def draw(self, dest: tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]],
             index: int, t: float) -> None:
        """Draw the frame at progress ``t`` (``index`` is the frame number in the segment)."""
        if not self._motion.static:
            if self._samplers is None:
                self._samplers = samplers_of(self._source)
            warp_into(self._source, dest, self._motion, t, self._samplers)
            return
        if self._static is None:
            warp_into(self._source, dest, self._motion, 0.0)
            self._static = (dest[0].copy(), dest[1].copy(), dest[2].copy())
            return
        for plane, cached in zip(dest, self._static, strict=True):
            np.copyto(plane, cached)

    def close(self) -> None:
        """Let go of the working buffers (the planes are plain arrays)."""
        self._samplers = None
