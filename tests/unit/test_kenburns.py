"""Ken Burns motion: deterministic variety, easing, and sub-pixel smooth warps."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from storyreel.frames.kenburns import Motion, choose_motion, warp_into
from storyreel.media.image import Planes, even_ceil, rgb_to_yuv420

OUT_W, OUT_H = 160, 90


def textured_planes(width: int, height: int, seed: int = 3) -> Planes:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (height // 8, width // 8, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return rgb_to_yuv420(np.clip(smooth, 0, 255).astype(np.uint8))


def render(source: Planes, motion: Motion, count: int) -> list[NDArray[np.float64]]:
    frames = []
    for k in range(count):
        y = np.zeros((OUT_H, OUT_W), np.uint8)
        u = np.zeros((OUT_H // 2, OUT_W // 2), np.uint8)
        v = np.zeros_like(u)
        warp_into(source, (y, u, v), motion, k / (count - 1))
        frames.append(y.astype(np.float64))
    return frames


def auto(index: int, zoom: float = 1.15, pan: bool = True) -> Motion:
    return choose_motion(index, zoom=zoom, direction="auto", pan=pan, eased=True)


def test_neighbours_never_move_alike_and_none_is_static() -> None:
    motions = [auto(i) for i in range(64)]
    for a, b in itertools.pairwise(motions):
        assert a != b
    assert not any(m.static for m in motions)
    assert {m.zoom_start < m.zoom_end for m in motions} == {True, False}, "zoom in and out"


def test_neighbours_differ_without_pan_too() -> None:
    motions = [auto(i, pan=False) for i in range(10)]
    for a, b in itertools.pairwise(motions):
        assert a != b


def test_motion_is_deterministic() -> None:
    assert [auto(i) for i in range(20)] == [auto(i) for i in range(20)]


def test_direction_and_zoom_are_honoured() -> None:
    zoom_in = choose_motion(1, zoom=1.3, direction="in", pan=False, eased=True)
    assert (zoom_in.zoom_start, zoom_in.zoom_end) == (1.0, 1.3)
    zoom_out = choose_motion(0, zoom=1.3, direction="out", pan=False, eased=True)
    assert (zoom_out.zoom_start, zoom_out.zoom_end) == (1.3, 1.0)
    assert choose_motion(4, zoom=1.3, direction="none", pan=True, eased=True).static
    assert choose_motion(4, zoom=1.0, direction="auto", pan=True, eased=True).static


def test_easing_starts_and_stops_gently() -> None:
    motion = Motion(1.0, 1.2, (0.2, 0.4), (0.8, 0.6), eased=True)
    assert motion.at(0.0) == pytest.approx((1.0, 0.2, 0.4))
    assert motion.at(1.0) == pytest.approx((1.2, 0.8, 0.6))
    assert motion.at(0.5)[0] == pytest.approx(1.1)
    early = motion.at(0.01)[0] - motion.at(0.0)[0]
    middle = motion.at(0.51)[0] - motion.at(0.5)[0]
    assert early < middle / 50
    zooms = [motion.at(t / 100)[0] for t in range(101)]
    assert all(b >= a for a, b in itertools.pairwise(zooms))


def test_linear_motion_is_linear() -> None:
    motion = Motion(1.0, 1.2, eased=False)
    for t in (0.1, 0.25, 0.7):
        assert motion.at(t)[0] == pytest.approx(1.0 + 0.2 * t)


def test_first_frame_of_a_zoom_in_shows_the_whole_still() -> None:
    source = textured_planes(even_ceil(OUT_W * 1.2), even_ceil(OUT_H * 1.2))
    frame = render(source, Motion(1.0, 1.2, eased=False), 2)[0]
    whole = cv2.resize(source.y, (OUT_W, OUT_H), interpolation=cv2.INTER_AREA).astype(np.float64)
    assert np.abs(frame - whole).mean() < 6


def test_slow_zoom_moves_by_sub_pixel_steps_smoothly() -> None:
    # 1.0 -> 1.03 over 90 frames: the edges move about 0.03 px per frame.
    source = textured_planes(even_ceil(OUT_W * 1.03), even_ceil(OUT_H * 1.03))
    frames = render(source, Motion(1.0, 1.03, eased=False), 90)
    steps = np.array([np.abs(b - a).mean() for a, b in itertools.pairwise(frames)])
    assert steps.min() > 0, "a frame repeats its predecessor: the motion steps"
    assert steps.max() < 1.0, "consecutive frames jump"
    assert steps.max() / np.median(steps) < 2.0, "uneven steps: jitter"
    # Never steps back: the distance from the first frame keeps growing.
    drift = [np.abs(f - frames[0]).mean() for f in frames[1:]]
    assert all(b > a for a, b in itertools.pairwise(drift))


def test_slow_pan_moves_by_sub_pixel_steps() -> None:
    source = textured_planes(even_ceil(OUT_W * 1.1), even_ceil(OUT_H * 1.1))
    motion = Motion(1.1, 1.1, (0.45, 0.5), (0.55, 0.5), eased=False)  # 1.6 px in 60 frames
    frames = render(source, motion, 60)
    steps = np.array([np.abs(b - a).mean() for a, b in itertools.pairwise(frames)])
    assert steps.min() > 0
    assert steps.max() / np.median(steps) < 2.0
    drift = [np.abs(f - frames[0]).mean() for f in frames[1:]]
    assert all(b > a for a, b in itertools.pairwise(drift))


def test_chroma_planes_follow_luma() -> None:
    width, height = even_ceil(OUT_W * 1.2), even_ceil(OUT_H * 1.2)
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = (255, 0, 0)
    rgb[:, width // 2 :] = (0, 0, 255)
    source = rgb_to_yuv420(rgb)
    y = np.zeros((OUT_H, OUT_W), np.uint8)
    u = np.zeros((OUT_H // 2, OUT_W // 2), np.uint8)
    v = np.zeros_like(u)
    warp_into(source, (y, u, v), Motion(1.2, 1.2, (0.5, 0.5), (0.5, 0.5)), 0.0)
    # Red on the left: high V (Cr); blue on the right: high U (Cb); the edge in the middle.
    assert v[:, : OUT_W // 4 - 2].mean() > 200 and u[:, : OUT_W // 4 - 2].mean() < 120
    assert u[:, OUT_W // 4 + 2 :].mean() > 200 and v[:, OUT_W // 4 + 2 :].mean() < 130
    luma_edge = int(np.argmax(np.abs(np.diff(y[OUT_H // 2].astype(int)))))
    chroma_edge = int(np.argmax(np.abs(np.diff(v[OUT_H // 4].astype(int)))))
    assert abs(luma_edge / 2 - chroma_edge) <= 1


def test_warp_writes_into_padded_views() -> None:
    # Encoder frames have padded rows: the destination views are not contiguous.
    source = textured_planes(even_ceil(OUT_W * 1.1), even_ceil(OUT_H * 1.1))
    y_buf = np.zeros((OUT_H, OUT_W + 32), np.uint8)
    u_buf = np.zeros((OUT_H // 2, OUT_W // 2 + 32), np.uint8)
    v_buf = np.zeros_like(u_buf)
    views = (y_buf[:, :OUT_W], u_buf[:, : OUT_W // 2], v_buf[:, : OUT_W // 2])
    warp_into(source, views, Motion(1.0, 1.1), 0.5)
    assert views[0].std() > 5
    assert not y_buf[:, OUT_W:].any(), "wrote past the end of the row"
    assert views[1].std() > 1
