"""The render's helper threads lower their own priority, and only their own."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from storyreel.render import priority

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a priority per thread is Linux's")


def _priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _in_a_thread() -> tuple[int, int]:
    """The priority a new thread has after giving way, and that of a thread it starts."""
    found: list[int] = []

    def child() -> None:
        found.append(_priority())

    def helper() -> None:
        priority.give_way()
        found.append(_priority())
        started = threading.Thread(target=child)
        started.start()
        started.join()

    thread = threading.Thread(target=helper)
    thread.start()
    thread.join()
    return found[0], found[1]


def test_a_helper_gets_the_lowest_priority_and_passes_it_on() -> None:
    before = _priority()
    assert _in_a_thread() == (19, 19)
    assert _priority() == before  # the caller's thread is not touched


def test_elsewhere_or_where_it_is_not_permitted_nothing_changes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = _priority()
    monkeypatch.setattr(priority.sys, "platform", "darwin")
    assert _in_a_thread() == (before, before)
    monkeypatch.setattr(priority.sys, "platform", "linux")

    def refused(*args: object) -> None:
        raise PermissionError("operation not permitted")

    monkeypatch.setattr(priority.os, "setpriority", refused)
    assert _in_a_thread() == (before, before)


def test_first_frame_holds_until_reached() -> None:
    first = priority.FirstFrame()
    answers: list[bool] = []
    waiter = threading.Thread(target=lambda: answers.append(first.wait(lambda: False)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and not first.is_reached()  # held
    first.reached()
    waiter.join()
    assert answers == [True]
    assert first.wait(lambda: True)  # reached: no one waits any more


def test_first_frame_lets_a_stopped_waiter_go() -> None:
    first = priority.FirstFrame()
    stop = threading.Event()
    answers: list[bool] = []
    waiter = threading.Thread(target=lambda: answers.append(first.wait(stop.is_set)))
    waiter.start()
    stop.set()
    waiter.join()
    assert answers == [False]
    assert not first.is_reached()


def test_first_frame_that_holds_nothing() -> None:
    first = priority.FirstFrame(hold=False)
    assert first.is_reached()
    assert first.wait(lambda: False)
