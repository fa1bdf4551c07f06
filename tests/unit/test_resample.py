"""The separable bilinear resampler behind Ken Burns frames, against exact arithmetic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from storyreel.frames.resample import PlaneSampler


def bilinear(src: NDArray[np.uint8], shape: tuple[int, int], origin: tuple[float, float],
             step: tuple[float, float]) -> NDArray[np.float64]:
    """Exact bilinear sampling in float64, the nearest edge pixel outside the plane."""
    height, width = src.shape
    plane = np.pad(src.astype(np.float64), ((0, 1), (0, 1)), mode="edge")
    xs = np.clip(origin[0] + np.arange(shape[1]) * step[0], 0, width - 1)
    ys = np.clip(origin[1] + np.arange(shape[0]) * step[1], 0, height - 1)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = (xs - x0)[np.newaxis, :], (ys - y0)[:, np.newaxis]
    top = plane[y0][:, x0] * (1 - fx) + plane[y0][:, x0 + 1] * fx
    bottom = plane[y0 + 1][:, x0] * (1 - fx) + plane[y0 + 1][:, x0 + 1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float64)


def noise(height: int, width: int, seed: int = 0) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)


@settings(max_examples=150, deadline=None)
@given(
    src_h=st.integers(1, 80), src_w=st.integers(1, 80),
    out_h=st.integers(1, 60), out_w=st.integers(1, 60),
    step_x=st.floats(0.2, 3.0), step_y=st.floats(0.2, 3.0),
    ox=st.floats(-5.0, 85.0), oy=st.floats(-5.0, 85.0), seed=st.integers(0, 2**16),
)
def test_any_scale_and_offset_is_bilinear_within_rounding(
    src_h: int, src_w: int, out_h: int, out_w: int, step_x: float, step_y: float,
    ox: float, oy: float, seed: int,
) -> None:
    # Worst case on noise: positions rounded to 1/256 px move a value by up to
    # 255/512 a level on each axis, and the result is rounded once.
    src = noise(src_h, src_w, seed)
    dst = np.zeros((out_h, out_w), np.uint8)
    PlaneSampler(src).draw(dst, (ox, oy), (step_x, step_y))
    error = np.abs(dst - bilinear(src, (out_h, out_w), (ox, oy), (step_x, step_y)))
    assert error.max() <= 1.5


def test_smooth_pictures_are_within_half_a_level() -> None:
    coarse = noise(12, 20).astype(np.float32)
    src = np.clip(cv2.resize(coarse, (400, 240), interpolation=cv2.INTER_CUBIC), 0, 255
                  ).astype(np.uint8)
    dst = np.zeros((180, 320), np.uint8)
    PlaneSampler(src).draw(dst, (13.37, 21.05), (1.137, 1.137))
    error = np.abs(dst - bilinear(src, dst.shape, (13.37, 21.05), (1.137, 1.137)))
    assert error.max() <= 0.6
    assert error.mean() < 0.3


def test_whole_pixel_offsets_at_scale_one_copy_exactly() -> None:
    src = noise(50, 70)
    dst = np.zeros((30, 40), np.uint8)
    PlaneSampler(src).draw(dst, (7.0, 11.0), (1.0, 1.0))
    assert np.array_equal(dst, src[11:41, 7:47])


def test_a_flat_plane_stays_flat() -> None:
    src = np.full((90, 160), 201, np.uint8)
    dst = np.zeros((72, 128), np.uint8)
    PlaneSampler(src).draw(dst, (3.71, 2.29), (1.173, 1.173))
    assert (dst == 201).all()


def test_sub_pixel_offsets_move_the_picture_by_that_much() -> None:
    # A ramp sampled a quarter pixel further along reads a quarter step higher.
    ramp = np.tile(np.arange(0, 200, 4, dtype=np.uint8), (20, 1))
    sampler = PlaneSampler(ramp)
    a = np.zeros((10, 30), np.uint8)
    b = np.zeros((10, 30), np.uint8)
    sampler.draw(a, (2.0, 3.0), (1.0, 1.0))
    sampler.draw(b, (2.25, 3.0), (1.0, 1.0))
    assert np.array_equal(b.astype(int) - a, np.ones_like(a))


def test_agrees_with_an_affine_warp() -> None:
    coarse = noise(30, 50, 5).astype(np.float32)
    src = np.clip(cv2.resize(coarse, (552, 324), interpolation=cv2.INTER_CUBIC), 0, 255
                  ).astype(np.uint8)
    ours = np.zeros((270, 480), np.uint8)
    origin, step = (17.31, 9.87), (1.1, 1.1)
    PlaneSampler(src).draw(ours, origin, step)
    matrix = np.array([[step[0], 0, origin[0]], [0, step[1], origin[1]]])
    warped = cv2.warpAffine(src, matrix, (480, 270), flags=cv2.INTER_LINEAR |
                            cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(ours.astype(int) - warped).max() <= 1


def test_writes_only_inside_a_padded_view_and_reuses_its_buffers() -> None:
    sampler = PlaneSampler(noise(120, 200))
    rows = np.zeros((60, 100 + 28), np.uint8)
    view = rows[:, :100]
    for k in range(3):
        sampler.draw(view, (1.5 + k, 2.5), (1.2 - 0.1 * k, 1.2 - 0.1 * k))
        expected = bilinear(noise(120, 200), view.shape, (1.5 + k, 2.5),
                            (1.2 - 0.1 * k, 1.2 - 0.1 * k))
        assert np.abs(view - expected).max() <= 1.5
    assert not rows[:, 100:].any(), "wrote past the end of the row"
    small = np.zeros((10, 12), np.uint8)  # a smaller frame after larger ones
    sampler.draw(small, (0.0, 0.0), (2.0, 2.0))
    assert np.abs(small - bilinear(noise(120, 200), small.shape, (0.0, 0.0), (2.0, 2.0))
                  ).max() <= 1.5


def test_a_widening_view_keeps_its_working_buffers() -> None:
    """A zoom out spans a row more of the plane on most frames: the working buffers are
    made once for the frame's width, not again each time (fresh buffers of several MB a
    frame cost the kernel a page fault per 4 KiB)."""
    plane = noise(300, 400)
    sampler = PlaneSampler(plane)
    out = np.zeros((90, 160), np.uint8)
    buffers = []
    for k in range(12):
        step = 1.0 + 0.15 * k  # each frame sees more of the plane
        sampler.draw(out, (2.0, 1.0), (step, step))
        assert np.abs(out - bilinear(plane, out.shape, (2.0, 1.0), (step, step))).max() <= 1.5
        buffers.append(sampler._by_column)
    assert all(b is buffers[0] for b in buffers), "working buffers were made again"


@pytest.mark.parametrize("step", [(0.0, 1.0), (1.0, -1.0), (float("nan"), 1.0)])
def test_steps_must_be_positive(step: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        PlaneSampler(noise(10, 10)).draw(np.zeros((4, 4), np.uint8), (0.0, 0.0), step)


def test_an_empty_plane_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        PlaneSampler(np.zeros((0, 5), np.uint8))


def test_works_where_no_cache_folder_can_be_written(monkeypatch: pytest.MonkeyPatch) -> None:
    # A read-only install with no writable home: Numba finds nowhere to keep the
    # compiled loops, and they are compiled in the process instead of failing.
    import importlib.util

    from numba.core import caching

    import storyreel.frames.resample as resample

    class Nowhere(caching._CacheLocator):
        @classmethod
        def from_function(cls, py_func: object, py_file: str) -> None:
            return None

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [Nowhere])
    spec = importlib.util.spec_from_file_location("resample_uncached", resample.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    src = noise(40, 60)
    dst = np.zeros((20, 30), np.uint8)
    module.PlaneSampler(src).draw(dst, (3.3, 4.4), (1.5, 1.5))
    assert np.abs(dst - bilinear(src, dst.shape, (3.3, 4.4), (1.5, 1.5))).max() <= 1.5
