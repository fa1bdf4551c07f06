"""The second aligner's dynamic time warping, checked against a plain full-matrix one."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from storyreel.audio.dtw import _dtw, mfcc


def _optimal_cost(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """The least total distance of a path from (0, 0) to the end (steps down, right, both)."""
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    cost = np.full((a.shape[0] + 1, b.shape[0] + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(1, a.shape[0] + 1):
        for j in range(1, b.shape[0] + 1):
            before = min(cost[i - 1, j], cost[i - 1, j - 1], cost[i, j - 1])
            cost[i, j] = d[i - 1, j - 1] + (0.0 if i == j == 1 else before)
    return float(cost[-1, -1])


def _path_cost(a: NDArray[np.float32], b: NDArray[np.float32],
               rows: NDArray[np.int64]) -> float:
    """The distance summed over the path's cells: each column's rows, first to last."""
    cells = set()
    for j in range(b.shape[0]):
        cells |= {(i, j) for i in range(rows[0, j], rows[1, j] + 1)}
    for i in range(a.shape[0]):  # a row the path crosses in one step right has one cell
        assert any((i, j) in cells for j in range(b.shape[0]))
    return float(sum(np.linalg.norm(a[i] - b[j]) for i, j in cells))


@pytest.mark.parametrize(("n", "m", "seed"), [(40, 30, 0), (25, 60, 1), (50, 50, 2)])
def test_the_banded_warp_finds_the_optimal_path_when_the_band_covers_all(
        n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 4)).astype(np.float32)
    b = rng.standard_normal((m, 4)).astype(np.float32)
    rows = _dtw(a, b, max(n, m))
    assert rows[0, 0] == 0 and rows[1, -1] == n - 1
    assert np.all(np.diff(rows[0]) >= 0) and np.all(rows[1] >= rows[0])
    assert _path_cost(a, b, rows) == pytest.approx(_optimal_cost(a, b), rel=1e-4)


def test_a_stretched_copy_is_warped_back_onto_the_original() -> None:
    rng = np.random.default_rng(3)
    b = rng.standard_normal((60, 5)).astype(np.float32)
    a = np.repeat(b, 2, axis=0)  # the same sequence at half speed
    rows = _dtw(a, b, 30)
    assert list(rows[0]) == [2 * j for j in range(60)]


def test_a_band_that_cannot_reach_the_end_gives_no_path() -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal((100, 5)).astype(np.float32)
    # The band's centre jumps 49 columns a row: 2 either side of it never meet.
    assert (_dtw(a, b, 2) == -1).all()
    assert _dtw(a, b, 60)[0, 0] == 0
    one = rng.standard_normal((1, 5)).astype(np.float32)
    assert list(_dtw(one, one, 1)[:, 0]) == [0, 0]  # one cell: the path is that cell


_MEMORY_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from storyreel.audio.dtw import _band, _dtw
rng = np.random.default_rng(0)
frames = rng.standard_normal((50, 13)).astype(np.float32)
_dtw(frames, frames, 5)  # compiled before the peak is read
def peak_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
a = rng.standard_normal((18_000, 13)).astype(np.float32)  # 3 minutes of narration
b = rng.standard_normal((16_000, 13)).astype(np.float32)
before = peak_kb()
rows = _dtw(a, b, _band(a))
assert rows[0, 0] == 0 and rows[1, -1] == a.shape[0] - 1
print((peak_kb() - before) * 1024, a.shape[0] * (2 * _band(a) + 1))
"""


def test_a_long_narrations_warp_holds_about_a_byte_a_cell() -> None:
    """Only each cell's move is kept, and two rows of costs: 3 minutes of narration against
    3 minutes of synthetic speech is 20 M cells (costs kept for every cell, as floats beside
    the moves, took five times as much)."""
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(src)], capture_output=True,
                          text=True, timeout=120, check=True)
    grown, cells = (int(value) for value in done.stdout.split())
    assert cells > 20_000_000
    assert grown < 1.5 * cells, f"{grown / cells:.2f} bytes a cell"


def test_mfcc_frames_every_10_ms_at_any_rate() -> None:
    t = np.arange(48_000) / 48_000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    at_48k = mfcc(tone, 48_000)
    at_16k = mfcc(tone[::3].copy(), 16_000)
    assert at_48k.shape[1] == 13
    assert abs(at_48k.shape[0] - 98) <= 1 and abs(at_16k.shape[0] - at_48k.shape[0]) <= 1
    assert np.all(np.isfinite(at_48k))
    silent = mfcc(np.zeros(8000, np.float32), 16_000)
    assert np.all(np.isfinite(silent))


def test_mfcc_are_the_textbook_ones_scipy_computes() -> None:
    """The same coefficients as SciPy's FFT, a sparse product with the whole mel bank and
    SciPy's orthonormal DCT give (the reference the bank's runs and the DCT matrix stand for)."""
    import scipy.fft
    import scipy.sparse

    from storyreel.audio import dtw

    rng = np.random.default_rng(3)
    t = np.arange(48_000 * 2) / 48_000
    voiced = np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    samples = (0.3 * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    got = mfcc(samples, 48_000)
    audio = dtw.resample_poly(samples, 16_000, 48_000).astype(np.float32)
    frames = 1 + (audio.size - 400) // 160
    emphasised = np.append(audio[0], audio[1:] - 0.97 * audio[:-1])
    index = np.arange(400)[None, :] + 160 * np.arange(frames)[:, None]
    power = np.abs(scipy.fft.rfft(emphasised[index] * np.hamming(400), 512)) ** 2 / 512
    mel = np.asarray(power @ scipy.sparse.csr_array(dtw._BANK.T.astype(np.float64)))
    cepstra = scipy.fft.dct(np.log(np.maximum(mel, 1e-10)), type=2, axis=1, norm="ortho")
    cepstra = cepstra[:, 1:13] - cepstra[:, 1:13].mean(axis=0)
    energy = np.log(np.maximum(power.sum(axis=1), 1e-10))
    want = np.column_stack([cepstra, (energy - energy.max()) / 10.0])
    assert got.shape == want.shape == (frames, 13)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
