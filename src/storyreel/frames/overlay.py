"""Overlays on YUV frames: captions and logos, blended in place over their rectangle only.

An :class:`Overlay` is prepared once (per caption, per logo) from straight RGBA:
converted to BT.709 limited-range YUV with the same matrix as the stills, alpha
premultiplied, chroma and its alpha averaged over each 2x2 block (so coloured
edges do not fringe), and cropped to the frame and to its visible pixels. Each
frame then costs one fixed-point multiply-add per pixel of that rectangle::

    out = (plane * (256 - a) + colour * a + 128) >> 8        a in 0..256
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from storyreel.media.image import RGB_TO_YUV709

__all__ = [
    "Corner",
    "Overlay",
    "blend_into",
    "corner_position",
    "empty_overlay",
    "inside_safe_area",
    "overlay_from_rgba",
]

Plane = NDArray[np.uint8]
Weights = NDArray[np.uint16]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]

_EMPTY = np.zeros((0, 0), np.uint16)


@dataclass(frozen=True, eq=False)
class Overlay:
    """A picture ready to blend onto YUV 4:2:0 frames at an even position.

    Attributes:
        x: Left edge in the frame (even).
        y: Top edge in the frame (even).
        y_keep: ``256 - alpha`` per luma pixel, shape ``(h, w)``.
        y_add: ``Y * alpha + 128`` per luma pixel (premultiplied, rounding included).
        c_keep: ``256 - alpha`` per chroma pixel, shape ``(h // 2, w // 2)``.
        u_add: Premultiplied U per chroma pixel.
        v_add: Premultiplied V per chroma pixel.
    """

    x: int
    y: int
    y_keep: Weights
    y_add: Weights
    c_keep: Weights
    u_add: Weights
    v_add: Weights

    @property
    def width(self) -> int:
        """Width of the blended rectangle in luma pixels (even; 0 when empty)."""
        return int(self.y_keep.shape[1])

    @property
    def height(self) -> int:
        """Height of the blended rectangle in luma pixels (even; 0 when empty)."""
        return int(self.y_keep.shape[0])

    @property
    def empty(self) -> bool:
        """True when nothing would be drawn."""
        return self.y_keep.size == 0

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """``(x, y, width, height)`` of the blended rectangle in the frame."""
        return self.x, self.y, self.width, self.height


def empty_overlay() -> Overlay:
    """An overlay that draws nothing."""
    return Overlay(0, 0, _EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY)


def overlay_from_rgba(
    rgba: NDArray[np.uint8],
    x: int,
    y: int,
    frame_w: int,
    frame_h: int,
    opacity: float = 1.0,
) -> Overlay:
    """Prepare a straight (not premultiplied) RGBA picture for blending at ``(x, y)``.

    Args:
        rgba: Shape ``(h, w, 4)``, 8-bit, alpha not premultiplied.
        x: Left edge in the frame; rounded down to even (chroma is shared by pixel pairs).
        y: Top edge in the frame; rounded down to even.
        frame_w: Frame width (even).
        frame_h: Frame height (even).
        opacity: Multiplies the picture's alpha, 0..1.

    Returns:
        The overlay, cropped to the frame and to its non-transparent pixels
        (possibly empty).
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError("overlay picture must be an (h, w, 4) uint8 RGBA array")
    if frame_w % 2 or frame_h % 2 or frame_w <= 0 or frame_h <= 0:
        raise ValueError("frame size must be positive and even")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    x0, y0 = x - x % 2, y - y % 2
    height, width = rgba.shape[:2]
    left, top = max(x0, 0), max(y0, 0)
    right = min(x0 + width + width % 2, frame_w)
    bottom = min(y0 + height + height % 2, frame_h)
    if right <= left or bottom <= top or opacity == 0.0:
        return empty_overlay()
    padded = np.zeros((height + height % 2, width + width % 2, 4), np.uint8)
    padded[:height, :width] = rgba
    part = padded[top - y0 : bottom - y0, left - x0 : right - x0]
    box = _visible_box(part[:, :, 3])
    if box is None:
        return empty_overlay()
    r0, r1, c0, c1 = box
    return _prepare(part[r0:r1, c0:c1], left + c0, top + r0, opacity)


def _visible_box(alpha: Plane) -> tuple[int, int, int, int] | None:
    """Rows and columns holding visible pixels, widened to even bounds."""
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return None
    r0, c0 = int(rows[0]) & ~1, int(cols[0]) & ~1
    r1, c1 = int(rows[-1]) + 1, int(cols[-1]) + 1
    return r0, r1 + r1 % 2, c0, c1 + c1 % 2


def _prepare(rgba: NDArray[np.uint8], x: int, y: int, opacity: float) -> Overlay:
    rgb = np.ascontiguousarray(rgba[:, :, :3], dtype=np.float32)
    yuv = np.asarray(cv2.transform(rgb, RGB_TO_YUV709), dtype=np.float32)
    alpha = rgba[:, :, 3].astype(np.float32) * np.float32(opacity / 255.0)
    premult = yuv * alpha[:, :, None]
    half = (rgba.shape[1] // 2, rgba.shape[0] // 2)
    c_alpha = np.asarray(cv2.resize(alpha, half, interpolation=cv2.INTER_AREA), np.float32)
    c_pre = np.asarray(
        cv2.resize(np.ascontiguousarray(premult[:, :, 1:]), half, interpolation=cv2.INTER_AREA),
        np.float32,
    )
    return Overlay(
        x=x,
        y=y,
        y_keep=_keep(alpha),
        y_add=_add(premult[:, :, 0]),
        c_keep=_keep(c_alpha),
        u_add=_add(c_pre[:, :, 0]),
        v_add=_add(c_pre[:, :, 1]),
    )


def _keep(alpha: NDArray[np.float32]) -> Weights:
    return (256 - np.rint(alpha * 256)).astype(np.uint16)


def _add(premultiplied: NDArray[np.float32]) -> Weights:
    return (np.rint(premultiplied * 256) + 128).astype(np.uint16)


def blend_into(planes: tuple[Plane, Plane, Plane], overlay: Overlay) -> None:
    """Alpha-blend ``overlay`` into a frame's Y, U and V planes, in place.

    Only the overlay's rectangle is touched. The planes may be views with
    padded rows (e.g. straight from an ``av.VideoFrame``).

    Raises:
        ValueError: The planes are smaller than the overlay's rectangle needs.
    """
    if overlay.empty:
        return
    y_plane, u_plane, v_plane = planes
    x, y, w, h = overlay.rect
    cx, cy, cw, ch = x // 2, y // 2, w // 2, h // 2
    if y_plane.shape[0] < y + h or y_plane.shape[1] < x + w:
        raise ValueError("overlay reaches outside the frame")
    if min(u_plane.shape[0], v_plane.shape[0]) < cy + ch or min(
        u_plane.shape[1], v_plane.shape[1]
    ) < cx + cw:
        raise ValueError("overlay reaches outside the chroma planes")
    _blend(y_plane[y : y + h, x : x + w], overlay.y_keep, overlay.y_add)
    _blend(u_plane[cy : cy + ch, cx : cx + cw], overlay.c_keep, overlay.u_add)
    _blend(v_plane[cy : cy + ch, cx : cx + cw], overlay.c_keep, overlay.v_add)


def _blend(region: Plane, keep: Weights, add: Weights) -> None:
    acc = np.multiply(region, keep, dtype=np.uint16)
    acc += add
    acc >>= 8
    region[...] = acc


def corner_position(
    size: tuple[int, int], corner: Corner, margin: int, frame_w: int, frame_h: int
) -> tuple[int, int]:
    """Top-left position that puts a ``size`` (w, h) picture in ``corner``, ``margin`` px in.

    The result is even, so the picture lands on the chroma grid.
    """
    width, height = size
    x = margin if corner.endswith("left") else frame_w - margin - width
    y = margin if corner.startswith("top") else frame_h - margin - height
    even_x = x + x % 2 if corner.endswith("left") else x - x % 2
    even_y = y + y % 2 if corner.startswith("top") else y - y % 2
    return even_x, even_y


def inside_safe_area(
    rect: tuple[int, int, int, int], insets: tuple[float, float, float, float],
    frame_w: int, frame_h: int,
) -> tuple[int, int]:
    """Even top-left position that moves ``rect`` (x, y, w, h) into the safe area.

    ``insets`` are the shares of the frame kept clear at the left, top, right and
    bottom; a picture larger than the area is kept inside the frame instead.
    """
    x, y, width, height = rect
    left, top, right, bottom = insets
    return (
        _even_between(x, math.ceil(frame_w * left), math.floor(frame_w * (1 - right)) - width),
        _even_between(y, math.ceil(frame_h * top), math.floor(frame_h * (1 - bottom)) - height),
    )


def _even_between(value: int, low: int, high: int) -> int:
    """``value`` moved into ``[low, high]`` (when that is possible) and made even."""
    if low <= high:
        value = min(max(value, low), high)
        up = value + value % 2
        return up if up <= high else value - value % 2
    return value - value % 2
