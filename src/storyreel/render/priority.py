"""The render's helper threads give way to the encoder's.

While parts are encoded libx264 keeps both cores busy, but not every moment: its threads
wait for each other now and then. The threads that work beside it (drawing frames,
making the sound track, finding the other narrations' words and focus, preparing the
next still) run at the lowest priority (nice 19), so that they take those pauses
instead of stretching the encoder's own path. They still get every core the encoder
leaves idle, and the encoder waits for frames only when they are not drawn yet, which
leaves the cores to the thread that draws them.

The thread that encodes, and the encoder threads it starts, keep their priority.
Threads a helper starts inherit its priority. Linux sets a priority per thread; on
other systems this does nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

__all__ = ["give_way"]

_NICE = 19


def give_way() -> None:
    """Lower the calling thread's priority to the lowest (only ever lowered)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError):  # not permitted (a sandbox): it keeps its priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)
