"""Progress as data: phase, done, total, rate and ETA, throttled for the callback."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from storyreel.errors import RenderCancelled

__all__ = ["EXPORT_MESSAGE", "NARRATE_MESSAGE", "CancelToken", "Progress", "ProgressCallback",
           "ProgressReporter", "raise_if_cancelled"]

#: The phase message sent just before encoding starts.
EXPORT_MESSAGE = "Exporting final MP4..."
#: The phase message while narrations are synthesised from text.
NARRATE_MESSAGE = "Synthesising narration..."


@dataclass(frozen=True)
class Progress:
    """One progress update.

    Attributes:
        phase: ``narrate`` (speaking segments without a recording), ``analyse``,
            ``loudness`` (measuring the mix), ``export``, ``verify`` or ``done``.
        done: Units finished in this phase (segments, frames, ...).
        total: Units in this phase.
        rate: Units per second over the phase so far, once known.
        eta: Seconds left in this phase, once known.
        message: A short human-readable line.
        output: The platform whose video this phase is for, in a render of several
            (``""`` for one video and for what all share: narration, analysis).
        output_index: That video's place among them, from 0.
        outputs: How many videos the render makes.
    """

    phase: str
    done: int
    total: int
    rate: float | None = None
    eta: float | None = None
    message: str = ""
    output: str = ""
    output_index: int = 0
    outputs: int = 1

    @property
    def fraction(self) -> float:
        """``done / total`` in [0, 1] (1 when the phase has nothing to do)."""
        return min(1.0, self.done / self.total) if self.total > 0 else 1.0

    @property
    def overall_fraction(self) -> float:
        """The phase's share done over all the render's videos: the second of three
        videos half exported is (1 + 0.5) / 3 of its export."""
        if self.outputs <= 1:
            return self.fraction
        return min(1.0, (self.output_index + self.fraction) / self.outputs)


ProgressCallback = Callable[[Progress], None]


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool:
        """True once the render should stop."""
        ...


def raise_if_cancelled(token: CancelToken) -> None:
    """Raise :class:`~storyreel.errors.RenderCancelled` once ``token`` is set."""
    if token.is_set():
        raise RenderCancelled("render cancelled")


class ProgressReporter:
    """Sends :class:`Progress` to a callback at most every ``interval`` seconds.

    The first and last update of each phase are always sent.
    """

    def __init__(self, callback: ProgressCallback | None, interval: float = 0.1) -> None:
        self._callback = callback
        self._interval = interval
        self._phase = ""
        self._total = 0
        self._message = ""
        self._done = 0
        self._started = 0.0
        self._last_sent = 0.0
        self._output: tuple[str, int, int] = ("", 0, 1)

    def output(self, name: str, index: int, count: int) -> None:
        """Say which of the render's ``count`` videos the phases that follow are for."""
        self._output = (name, index, count)

    def phase(self, phase: str, total: int, message: str) -> None:
        """Start a phase; its first update (done = 0) is sent at once."""
        self._phase, self._total, self._message = phase, total, message
        self._started = time.monotonic()
        self._done = 0
        self._send(Progress(phase, 0, total, None, None, message, *self._output))

    def say(self, message: str) -> None:
        """Change the current phase's message; sent at once."""
        self._message = message
        self._send(Progress(self._phase, self._done, self._total, None, None, message,
                            *self._output))

    def update(self, done: int, *, force: bool = False) -> None:
        """Report ``done`` units of the current phase (throttled unless ``force`` or finished)."""
        now = time.monotonic()
        self._done = done
        last = done >= self._total
        if not (force or last) and now - self._last_sent < self._interval:
            return
        elapsed = now - self._started
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        eta = (self._total - done) / rate if rate else None
        self._send(Progress(self._phase, done, self._total, rate, eta, self._message,
                            *self._output))

    def _send(self, progress: Progress) -> None:
        self._last_sent = time.monotonic()
        if self._callback is not None:
            self._callback(progress)
