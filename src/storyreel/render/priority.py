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

Before the first frame, the encoder is not running yet and every helper competes with
the work that frame waits for (the first narration's words, the first still, drawing
it) for the cores and for Python's lock. A final render therefore holds the helpers'
other work (the later narrations' words and focus, the next part's still, the sound
track) until :class:`FirstFrame` says the first frame is with the encoder: all of it
is done long before the last frame, on the cores the encoder leaves.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable

__all__ = ["FirstFrame", "give_way"]

_NICE = 19
_POLL = 0.05  # seconds between looks at ``stopped`` while held


def give_way() -> None:
    """Lower the calling thread's priority to the lowest (only ever lowered)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError):  # not permitted (a sandbox): it keeps its priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)


class FirstFrame:
    """Whether the render's first frame is with the encoder; helpers wait for it.

    Args:
        hold: ``False`` never holds anyone (a draft, whose sound track can take longer
            than its few frames).
    """

    def __init__(self, *, hold: bool = True) -> None:
        self._reached = threading.Event()
        if not hold:
            self._reached.set()

    def reached(self) -> None:
        """The first frame is with the encoder (or none will be: the parts were reused,
        or the render ends); everyone waiting goes on."""
        self._reached.set()

    def is_reached(self) -> bool:
        """Whether :meth:`reached` was called (or nothing is held)."""
        return self._reached.is_set()

    def wait(self, stopped: Callable[[], bool]) -> bool:
        """Wait until the first frame is with the encoder (``True``), or until
        ``stopped()`` says the caller is to stop (``False``)."""
        while not self._reached.wait(_POLL):
            if stopped():
                return False
        return True
