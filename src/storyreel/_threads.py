"""Process-wide thread pools for storyreel's own render programs (CLI, render workers).

While a render encodes, libx264 keeps both cores busy and the threads working beside
it run at the lowest priority (:mod:`storyreel.render.priority`). NumPy's BLAS and
OpenCV each hand a large call to a pool of threads of their own, and wait, spinning,
until every share of it is done: beside a busy encoder, the share whose thread gets
no core keeps the caller spinning, on the core the encoder needed. On the reference
render that cost a few seconds of CPU a render (``bench/REPORT.md``). In a process
that exists to render, both libraries therefore do their work on the calling thread.
libx264's own threads are not theirs and are not touched. Library code never calls
this; only entry points that own their process do (like
:func:`storyreel._malloc.tune_malloc`).
"""

from __future__ import annotations

import os

import cv2
from threadpoolctl import threadpool_limits

__all__ = ["one_thread_pools"]


def one_thread_pools() -> None:
    """Have every OpenBLAS (those loaded now, those loaded later such as SciPy's own, and
    those of child processes) and OpenCV run on the calling thread.

    A count the user set (``OPENBLAS_NUM_THREADS``, ``OPENCV_FOR_THREADS_NUM``) is kept.
    """
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read by each OpenBLAS as it is loaded
        threadpool_limits(1, user_api="blas")
    if "OPENCV_FOR_THREADS_NUM" not in os.environ:
        cv2.setNumThreads(1)
