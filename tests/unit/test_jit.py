"""Numba's array functions are loaded without importing SciPy's linear algebra, which
Numba's own BLAS users still get."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from storyreel.audio import dsp

    sos = dsp.highpass_sos(80.0, 48_000)
    filtered = dsp.sosfiltfilt(sos, np.zeros(4_800, np.float32), 9)  # compiled, loaded
    assert filtered.shape == (4_800,)
    print("linalg before:", "scipy.linalg" in sys.modules)

    import numba

    a = np.arange(12.0).reshape(3, 4)
    dot = numba.njit(lambda x, y: np.dot(x, y))
    assert np.array_equal(dot(a, a.T), a @ a.T)
    cov = numba.njit(lambda x: np.cov(x))
    assert np.allclose(cov(a), np.cov(a))
    print("linalg after:", "scipy.linalg" in sys.modules)
""")


def test_compiled_loops_do_not_import_scipy_linalg_and_blas_still_works() -> None:
    """In a fresh process: storyreel's compiled loops run without ``scipy.linalg``; a
    function compiled with ``np.dot`` (BLAS) and ``np.cov`` still gives NumPy's answers,
    and brings ``scipy.linalg`` in itself."""
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["linalg before: False", "linalg after: True"]
