"""Numba kept off the first frame's path: loops run as their NumPy twins until Numba is
ready, and each twin gives its loop's results bit for bit (``storyreel._jit``)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import storyreel._jit as jit
from storyreel.audio import dtw
from storyreel.errors import RenderError
from storyreel.frames import resample

# --- how a loop chooses -------------------------------------------------------------


def _double_py(x: NDArray[np.int64]) -> NDArray[np.int64]:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = 2 * x[i]
    return out


def _loop(numba: Any, twin: Any = None) -> Any:
    return jit._Loop(_double_py, twin, None, lambda: [(np.zeros(2, np.int64),)], numba)


def test_a_loop_runs_as_its_twin_until_numba_is_ready_and_compiled_after() -> None:
    numba = jit._Numba()
    calls: list[int] = []

    def twin(x: NDArray[np.int64]) -> NDArray[np.int64]:
        calls.append(x.size)
        return x * 2

    loop = _loop(numba, twin)
    np.testing.assert_array_equal(loop(np.arange(3)), [0, 2, 4])
    assert calls == [3]
    assert not numba.ready() and numba._thread is None  # the twin does not start it
    numba.start()
    numba.wait()
    assert numba.ready() and loop._jitted is not None  # compiled by the warm-up thread
    np.testing.assert_array_equal(loop(np.arange(4)), [0, 2, 4, 6])
    assert calls == [3]
    assert numba._thread is not None and numba._thread.name == "storyreel-numba"
    numba._thread.join(timeout=5)
    assert not numba._thread.is_alive()


def test_a_loop_without_a_twin_readies_numba_and_waits_for_it() -> None:
    numba = jit._Numba()
    loop = _loop(numba)
    np.testing.assert_array_equal(loop(np.arange(3)), [0, 2, 4])
    assert numba.ready() and numba._thread is not None


def test_warming_up_starts_one_thread_however_many_ask() -> None:
    numba = jit._Numba()
    _loop(numba)
    threads = [threading.Thread(target=numba.start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = numba._thread
    numba.wait()
    numba.start()
    assert numba._thread is first


def test_a_loop_known_after_the_warm_up_is_compiled_on_its_first_call() -> None:
    numba = jit._Numba()
    numba.start()
    numba.wait()
    late = _loop(numba, twin=lambda x: pytest.fail("the twin ran after Numba was ready"))
    np.testing.assert_array_equal(late(np.arange(2)), [0, 2])


def test_numba_that_does_not_work_is_a_render_error_not_a_silent_twin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(function: Any, boundscheck: Any) -> Any:
        raise ImportError("libllvmlite.so: cannot open shared object file")

    monkeypatch.setattr(jit, "_njit", broken)
    numba = jit._Numba()
    with_twin = _loop(numba, twin=lambda x: x * 2)
    without = _loop(numba)
    np.testing.assert_array_equal(with_twin(np.arange(2)), [0, 2])  # not ready yet
    with pytest.raises(RenderError, match=r"Numba.*does not work here.*libllvmlite"):
        without(np.arange(2))
    with pytest.raises(RenderError, match="Numba"):
        with_twin(np.arange(2))  # once it failed, the twin no longer hides it


# --- the twins, bit for bit -------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 70), m=st.integers(1, 70), band=st.integers(1, 40),
       levels=st.sampled_from([0, 1, 2, 8]), seed=st.integers(0, 2**16))
def test_the_warps_twin_makes_the_same_moves(n: int, m: int, band: int, levels: int,
                                             seed: int) -> None:
    """Few levels make many equal distances and costs: ties are broken alike."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 13)).astype(np.float32)
    b = rng.normal(size=(m, 13)).astype(np.float32)
    if levels:
        a, b = (np.round(x * levels) / levels for x in (a, b))
        a, b = a.astype(np.float32), b.astype(np.float32)
    compiled = dtw._moves.compile()
    np.testing.assert_array_equal(dtw._moves_np(a, b, band), compiled(a, b, band))


def test_the_warps_twin_follows_real_speech_onto_its_text() -> None:
    """Speech warped onto espeak-ng saying its text: long runs along a row, as in use."""
    from storyreel.media import espeak
    from storyreel.voice.hibari import HibariEngine
    from storyreel.voice.speaker import resample_to

    text = "The lighthouse keeper counted the ships, one by one, until the fog came in."
    speech = HibariEngine().synthesise(text, "heart", 1.0)
    mono = resample_to(speech.samples.astype(np.float32), speech.rate, dtw.RATE)
    synthetic, rate, _ = espeak.spoken_spans(text.split(), espeak.voice_for("en"))
    ours, theirs = dtw.mfcc(mono, dtw.RATE), dtw.mfcc(synthetic, rate)
    band = dtw._band(ours)
    compiled = dtw._moves.compile()
    moves = dtw._moves_np(ours, theirs, band)
    np.testing.assert_array_equal(moves, compiled(ours, theirs, band))
    assert (moves == 3).any() and (moves == 1).any() and (moves == 2).any()
    rows = dtw._path(moves, band, theirs.shape[0])
    assert rows[0, 0] == 0 and rows[1, -1] == ours.shape[0] - 1


@settings(max_examples=200, deadline=None)
@given(src_h=st.integers(1, 60), src_w=st.integers(1, 60),
       out_h=st.integers(1, 50), out_w=st.integers(1, 50),
       step_x=st.floats(0.05, 4.0), step_y=st.floats(0.05, 4.0),
       ox=st.floats(-10.0, 70.0), oy=st.floats(-10.0, 70.0),
       padded=st.booleans(), seed=st.integers(0, 2**16))
def test_the_samplers_twins_draw_the_same_pixels(
    src_h: int, src_w: int, out_h: int, out_w: int, step_x: float, step_y: float,
    ox: float, oy: float, padded: bool, seed: int,
) -> None:
    src = np.random.default_rng(seed).integers(0, 256, (src_h, src_w), dtype=np.uint8)
    sampler = resample.PlaneSampler(src)
    drawn = []
    for taps, rows_u8, rows_u16 in (
            (resample._taps_np, resample._rows_u8_np, resample._rows_u16_np),
            (resample._taps.compile(), resample._rows_u8.compile(),
             resample._rows_u16.compile())):
        cols, col_w = taps(ox, step_x, out_w, sampler._width)
        rows, row_w = taps(oy, step_y, out_h, sampler._height)
        lo = int(rows[0])
        span = int(rows[-1]) + 2 - lo
        by_column = np.empty((out_w, span), np.uint16)
        rows_u8(sampler._columns, cols, col_w, lo, by_column)
        by_row = np.ascontiguousarray(by_column.T)
        base = np.zeros((out_h, out_w + 3), np.uint8)
        dst = base[:, :out_w] if padded else np.zeros((out_h, out_w), np.uint8)
        rows_u16(by_row, rows - lo, row_w, dst)
        drawn.append((cols, col_w, rows, row_w, dst.copy()))
    for twin, compiled in zip(*drawn, strict=True):
        assert twin.dtype == compiled.dtype
        np.testing.assert_array_equal(twin, compiled)
