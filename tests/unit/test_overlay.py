"""Overlay blending on YUV 4:2:0 planes."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from storyreel.frames.overlay import (
    blend_into,
    corner_position,
    empty_overlay,
    overlay_from_rgba,
)
from storyreel.media.image import rgb_to_yuv420

Planes = tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]


def _frame(rgb: tuple[int, int, int], width: int = 64, height: int = 48) -> Planes:
    planes = rgb_to_yuv420(np.full((height, width, 3), rgb, np.uint8))
    return planes.y.copy(), planes.u.copy(), planes.v.copy()


def _solid(rgb: tuple[int, int, int], alpha: int, width: int, height: int) -> NDArray[np.uint8]:
    return np.full((height, width, 4), (*rgb, alpha), np.uint8)


def _yuv(rgb: tuple[int, int, int]) -> NDArray[np.float64]:
    planes = rgb_to_yuv420(np.full((2, 2, 3), rgb, np.uint8))
    return np.array([planes.y[0, 0], planes.u[0, 0], planes.v[0, 0]], np.float64)


def _decode_rgb(planes: Planes) -> NDArray[np.uint8]:
    """YUV -> RGB with FFmpeg's own BT.709 limited-range conversion."""
    height, width = planes[0].shape
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, data in zip(frame.planes, planes, strict=True):
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
        rows[:, : plane.width] = data
    rgb = frame.reformat(format="rgb24", src_colorspace="ITU709", src_color_range="MPEG",
                         dst_color_range="JPEG")
    return np.asarray(rgb.to_ndarray(), np.uint8)


@pytest.mark.parametrize("alpha", [0, 64, 128, 200, 255])
def test_known_colour_and_alpha(alpha: int) -> None:
    background, colour = (30, 60, 200), (240, 200, 20)
    planes = _frame(background)
    overlay = overlay_from_rgba(_solid(colour, alpha, 20, 10), 8, 6, 64, 48)
    assert overlay.rect == ((8, 6, 20, 10) if alpha else (0, 0, 0, 0))
    blend_into(planes, overlay)
    a = alpha / 255
    expected = _yuv(background) * (1 - a) + _yuv(colour) * a
    assert abs(planes[0][10, 15] - expected[0]) <= 1
    assert abs(planes[1][5, 8] - expected[1]) <= 1
    assert abs(planes[2][5, 8] - expected[2]) <= 1
    decoded = _decode_rgb(planes)[10, 15].astype(float)
    composite = np.array(background) * (1 - a) + np.array(colour) * a
    assert np.abs(decoded - composite).max() <= 4, (decoded, composite)


def test_only_the_rectangle_changes() -> None:
    rng = np.random.default_rng(0)
    planes = (rng.integers(16, 200, (48, 64), dtype=np.uint8),
              rng.integers(16, 241, (24, 32), dtype=np.uint8),
              rng.integers(16, 241, (24, 32), dtype=np.uint8))
    before = tuple(p.copy() for p in planes)
    blend_into(planes, overlay_from_rgba(_solid((255, 255, 255), 255, 10, 6), 20, 30, 64, 48))
    changed = planes[0] != before[0]
    rows, cols = np.nonzero(changed)
    assert rows.min() >= 30 and rows.max() < 36 and cols.min() >= 20 and cols.max() < 30
    assert changed[30:36, 20:30].all()
    chroma = planes[1] != before[1]
    assert not chroma[:15].any() and not chroma[18:].any()


def test_position_snaps_to_even_and_clips_to_frame() -> None:
    overlay = overlay_from_rgba(_solid((255, 0, 0), 255, 10, 10), 7, 9, 64, 48)
    assert (overlay.x, overlay.y) == (6, 8)
    clipped = overlay_from_rgba(_solid((255, 0, 0), 255, 30, 30), -11, 40, 64, 48)
    assert clipped.rect == (0, 40, 18, 8)
    planes = _frame((0, 0, 0))
    blend_into(planes, clipped)
    assert planes[0][47, 0] > 50 and planes[0][39, 0] == 16
    assert overlay_from_rgba(_solid((1, 2, 3), 255, 5, 5), 64, 0, 64, 48).empty
    assert overlay_from_rgba(_solid((1, 2, 3), 255, 5, 5), -6, -6, 64, 48).empty


def test_transparent_margins_are_trimmed() -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[13:17, 21:26] = (255, 255, 255, 255)
    overlay = overlay_from_rgba(rgba, 0, 0, 64, 48)
    assert overlay.rect == (20, 12, 6, 6)
    assert overlay_from_rgba(np.zeros((8, 8, 4), np.uint8), 0, 0, 64, 48).empty


def test_opacity_scales_alpha() -> None:
    planes = _frame((0, 0, 0))
    blend_into(planes, overlay_from_rgba(_solid((255, 255, 255), 255, 8, 8), 0, 0, 64, 48, 0.5))
    assert abs(int(planes[0][2, 2]) - round(16 + 219 * 0.5)) <= 1
    assert overlay_from_rgba(_solid((255, 255, 255), 255, 8, 8), 0, 0, 64, 48, 0.0).empty
    with pytest.raises(ValueError):
        overlay_from_rgba(_solid((0, 0, 0), 255, 8, 8), 0, 0, 64, 48, 1.5)


def test_chroma_edges_do_not_fringe() -> None:
    # One opaque red pixel in a 2x2 block: the block's chroma must move towards red only.
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)
    planes = _frame((128, 128, 128))
    grey = planes[2][0, 0]
    blend_into(planes, overlay_from_rgba(rgba, 0, 0, 64, 48))
    red_v = _yuv((255, 0, 0))[2]
    assert abs(planes[2][0, 0] - (0.75 * grey + 0.25 * red_v)) <= 1
    assert planes[0][0, 1] == _frame((128, 128, 128))[0][0, 1]


def test_padded_plane_views_and_size_checks() -> None:
    big = np.full((48, 96), 16, np.uint8)
    planes = (big[:, :64], np.full((24, 32), 128, np.uint8), np.full((24, 32), 128, np.uint8))
    blend_into(planes, overlay_from_rgba(_solid((255, 255, 255), 255, 4, 4), 60, 0, 64, 48))
    assert big[0, 63] == 235 and big[0, 64] == 16
    overlay = overlay_from_rgba(_solid((255, 255, 255), 255, 4, 4), 60, 44, 64, 48)
    with pytest.raises(ValueError):
        blend_into(_frame((0, 0, 0), 32, 32), overlay)
    blend_into(_frame((0, 0, 0)), empty_overlay())
    with pytest.raises(ValueError):
        overlay_from_rgba(np.zeros((4, 4, 3), np.uint8), 0, 0, 64, 48)


def test_corner_positions_are_even_and_inside() -> None:
    assert corner_position((101, 51), "top-left", 15, 1920, 1080) == (16, 16)
    x, y = corner_position((101, 51), "bottom-right", 15, 1920, 1080)
    assert (x, y) == (1804, 1014) and x + 101 <= 1905 and y + 51 <= 1065
    assert corner_position((100, 50), "top-right", 20, 1920, 1080) == (1800, 20)
    assert corner_position((100, 50), "bottom-left", 20, 1920, 1080) == (20, 1010)


def test_caption_sized_blend_is_fast() -> None:
    planes = _frame((10, 80, 160), 1920, 1080)
    rgba = np.zeros((200, 1920, 4), np.uint8)
    rgba[:, :, 3] = np.random.default_rng(1).integers(1, 256, (200, 1920), dtype=np.uint8)
    overlay = overlay_from_rgba(rgba, 0, 860, 1920, 1080)
    assert overlay.rect == (0, 860, 1920, 200)
    blend_into(planes, overlay)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        blend_into(planes, overlay)
        times.append(time.perf_counter() - start)
    assert float(np.median(times)) < 0.002, np.median(times)
