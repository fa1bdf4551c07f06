"""Process-wide allocator tuning for storyreel's own programs (CLI, studio workers).

Decoding stills allocates and frees buffers of tens of MB from a loader thread. With
glibc's default, the threshold above which ``malloc`` uses ``mmap`` rises after the
first such buffer is freed, so later ones come from the thread's heap and are kept
after ``free``: a render's memory then creeps up by about 100 MB over its first few
dozen stills. A fixed 1 MiB threshold gives every large buffer back on ``free``.
Library code never calls this; only entry points that own their process do.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util

__all__ = ["tune_malloc"]

_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 20


def tune_malloc() -> bool:
    """Fix glibc's mmap threshold at 1 MiB; returns False where that is not possible."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))
    return False
