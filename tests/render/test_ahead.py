"""The threads working ahead of the encoder: their priority, their order and their errors."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from storyreel.errors import RenderCancelled
from storyreel.render.ahead import WordsAhead, yield_to_encoder
from storyreel.timeline.framing import Focus

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="thread priorities are set on Linux only")


def _priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@linux_only
def test_yielding_lowers_only_the_calling_thread() -> None:
    before = _priority()
    seen: list[int] = []

    def work() -> None:
        yield_to_encoder()
        seen.append(_priority())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [max(before, 10)]
    assert _priority() == before  # the caller's thread (and so the encoder's) is untouched


@linux_only
@pytest.mark.parametrize("background", [True, False])
def test_the_focus_search_runs_below_the_encoder_only_for_a_final_render(
        background: bool) -> None:
    base = _priority()
    seen: dict[int, int] = {}

    def search(segment: int) -> Focus | None:
        seen[segment] = _priority()
        return (0.25 * segment, 0.5)

    with WordsAhead([], None, threading.Event(), [0, 1, 2], search,
                    background=background) as ahead:
        ahead.wait([0, 1, 2])
        assert ahead.focus() == {0: (0.0, 0.5), 1: (0.25, 0.5), 2: (0.5, 0.5)}
    assert seen == dict.fromkeys((0, 1, 2), max(base, 10) if background else base)


def test_a_failed_focus_search_is_raised_by_the_next_wait_and_stops_the_rest() -> None:
    searched: list[int] = []

    def search(segment: int) -> Focus | None:
        searched.append(segment)
        if segment == 1:
            raise OSError("the picture went away")
        return None

    with WordsAhead([], None, threading.Event(), [0, 1, 2, 3], search) as ahead:
        with pytest.raises(OSError, match="went away"):
            ahead.wait([2])
    assert searched == [0, 1]


def test_waiting_ends_when_the_render_is_cancelled() -> None:
    cancel = threading.Event()
    release = threading.Event()

    def search(segment: int) -> Focus | None:
        release.wait(5)
        return None

    with WordsAhead([], None, cancel, [0], search) as ahead:
        cancel.set()
        with pytest.raises(RenderCancelled):
            ahead.wait([0])
        release.set()
