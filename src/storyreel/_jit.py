"""Numba, the one way storyreel compiles its inner loops.

Imported only when something is compiled (the Ken Burns warp, the aligner's warp, the
second-order sections of the speech detector and the loudness meter): Numba itself takes
a tenth of a second to import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numba

__all__ = ["compiled"]


def _array_functions_without_blas_check() -> None:
    """Import Numba's array functions, leaving their BLAS check to those that use BLAS.

    Numba loads them on the first compiled call, and on import they check that
    SciPy's BLAS is there by importing ``scipy.linalg``: a tenth of a second of Python
    before a render's first frame, for linear algebra storyreel never compiles. The
    check is left out of that import only: Numba's BLAS users (``np.dot``,
    ``np.linalg``) still make it, when they are compiled.
    """
    if "numba.np.arraymath" in sys.modules:
        return
    from numba.np import linalg

    check = getattr(linalg, "ensure_blas", None)
    if check is None:  # another Numba: nothing to leave out
        return
    def unchecked() -> None:
        return None

    linalg.ensure_blas = unchecked
    try:
        from numba.np import arraymath  # noqa: F401  (loaded here, unchecked)
    finally:
        linalg.ensure_blas = check
        # Every module that took the stand-in by name while it stood gets the check back.
        for module in list(sys.modules.values()):
            if getattr(module, "ensure_blas", None) is unchecked:
                module.ensure_blas = check  # type: ignore[attr-defined]


_array_functions_without_blas_check()


def compiled(function: Callable[..., object], *, boundscheck: bool | None = None) -> object:
    """``function`` compiled by Numba on first use, without the GIL.

    The machine code is kept in Numba's cache (beside the function's module, or in
    the user's cache folder when that one is read-only), so later processes load it
    in milliseconds. Where neither can be written, each process compiles it again.
    """
    try:
        return numba.njit(cache=True, nogil=True, boundscheck=boundscheck)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, boundscheck=boundscheck)(function)
