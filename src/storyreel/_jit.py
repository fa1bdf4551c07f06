"""Numba, the one way storyreel compiles its inner loops.

Imported only when something is compiled (the Ken Burns warp, the aligner's warp, the
second-order sections of the speech detector and the loudness meter): Numba itself takes
a tenth of a second to import.
"""

from __future__ import annotations

from collections.abc import Callable

import numba

__all__ = ["compiled"]


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
