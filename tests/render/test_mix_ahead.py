"""The sound track mixed ahead of its encoder, on a thread (``MixAhead``)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from storyreel.errors import RenderCancelled
from storyreel.media.audio import Samples
from storyreel.render.ahead import MixAhead


class _Source:
    """Stands in for a mix: block ``k`` holds the sample positions it covers."""

    def __init__(self, fail_at: int | None = None, gate: threading.Event | None = None) -> None:
        self.pos = 0
        self.reads = 0
        self.threads: set[str] = set()
        self.fail_at = fail_at
        self.gate = gate

    def read_until(self, end: int) -> Samples:
        self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail_at is not None and self.reads == self.fail_at:
            raise OSError("the music file went away")
        self.reads += 1
        block = np.tile(np.arange(self.pos, end, dtype=np.float32), (2, 1))
        self.pos = end
        return block


def _ahead(source: _Source, ends: list[int], cancel: threading.Event, depth: int = 3
           ) -> MixAhead:
    return MixAhead(source, ends, cancel, depth=depth)  # type: ignore[arg-type]


def test_blocks_come_in_order_from_another_thread() -> None:
    source = _Source()
    ends = [7, 20, 21, 50]
    with _ahead(source, ends, threading.Event()) as ahead:
        blocks = list(ahead.blocks())
    assert [b.shape[1] for b in blocks] == [7, 13, 1, 29]
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1)[0], np.arange(50))
    assert source.threads == {"storyreel-mix"}


def test_an_error_on_the_thread_is_raised_in_the_reader_after_the_blocks_before_it() -> None:
    source = _Source(fail_at=2)
    got = []
    with _ahead(source, [10, 20, 30, 40], threading.Event()) as ahead, \
            pytest.raises(OSError, match="went away"):
        for block in ahead.blocks():
            got.append(block.shape[1])
    assert got == [10, 10]
    assert not any(t.name == "storyreel-mix" for t in threading.enumerate())


def test_cancel_while_waiting_raises_and_the_thread_ends() -> None:
    gate, cancel = threading.Event(), threading.Event()
    source = _Source(gate=gate)
    with _ahead(source, [10, 20, 30], cancel) as ahead:
        cancel.set()
        with pytest.raises(RenderCancelled):
            next(ahead.blocks())
        gate.set()  # the block being mixed ends; no other starts
    assert not any(t.name == "storyreel-mix" for t in threading.enumerate())
    assert source.reads == 1


def test_leaving_early_stops_a_thread_blocked_on_a_full_queue() -> None:
    source = _Source()
    ends = list(range(1, 1001))
    with _ahead(source, ends, threading.Event(), depth=2) as ahead:
        first = next(ahead.blocks())
        assert first.shape[1] == 1
    assert not any(t.name == "storyreel-mix" for t in threading.enumerate())
    assert source.reads < len(ends)  # bounded: it did not mix the rest


def test_an_interrupt_while_leaving_still_waits_for_the_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The mix is closed once the block is left: its thread must have ended by then, even
    # when a second Ctrl-C lands while waiting for it.
    gate = threading.Event()
    source = _Source(gate=gate)
    ahead = _ahead(source, [10, 20], threading.Event())
    thread = ahead._thread
    real_join = thread.join
    calls: list[float | None] = []

    def join(timeout: float | None = None) -> None:
        calls.append(timeout)
        if len(calls) == 1:
            gate.set()
            raise KeyboardInterrupt
        real_join(timeout)

    with pytest.raises(KeyboardInterrupt), ahead:
        monkeypatch.setattr(thread, "join", join)
    assert len(calls) >= 2
    assert not thread.is_alive()
