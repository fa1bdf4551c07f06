"""The threads working ahead of the encoder: words and focus side by side, in order, and
their errors and cancel."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from storyreel.errors import RenderCancelled
from storyreel.render import ahead as ahead_module
from storyreel.render.ahead import WordsAhead
from storyreel.render.analysis import PendingWords
from storyreel.render.priority import FirstFrame
from storyreel.timeline.framing import Focus

_WAIT = 10  # seconds a step may take before the test gives up on it


def _pending(segments: range) -> list[PendingWords]:
    return [PendingWords(s, Path(f"{s}.wav"), "Hello.", 48_000, None, "en", None)
            for s in segments]


@pytest.fixture
def words(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Words found (fakes, by segment) in the order asked for; the aligner is not loaded."""
    asked: list[int] = []

    def find_words(pending: PendingWords, aligner: Any, store: Any) -> Any:
        asked.append(pending.segment)
        return f"words of {pending.segment}"

    monkeypatch.setattr(ahead_module, "new_aligner", object)
    monkeypatch.setattr(ahead_module, "find_words", find_words)
    return asked


def test_the_focus_is_searched_while_the_words_are_found(words: list[int]) -> None:
    """The first frame waits for both: neither waits for the other. Here the first
    search ends only once the first words are found: one thread doing both in turn
    never finds them, and the search gives up."""

    def search(segment: int) -> Focus | None:
        for _ in range(_WAIT * 100):
            if words:
                return (0.5, 0.25 * segment)
            threading.Event().wait(0.01)
        raise AssertionError("the words were not found while the focus was searched")

    with WordsAhead(_pending(range(3)), None, threading.Event(), [0, 1, 2], search) as ahead:
        got = ahead.wait([0])
        assert got[0] == "words of 0"  # type: ignore[comparison-overlap]
        assert set(ahead.wait([0, 1, 2])) == {0, 1, 2}
        assert ahead.focus() == {0: (0.5, 0.0), 1: (0.5, 0.25), 2: (0.5, 0.5)}
    assert words == [0, 1, 2]  # in segment order


def test_a_failed_focus_search_is_raised_by_the_next_wait_and_stops_both_threads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[int] = []
    asked: list[int] = []
    failed = threading.Event()

    def find_words(pending: PendingWords, aligner: Any, store: Any) -> Any:
        asked.append(pending.segment)
        failed.wait(_WAIT)  # every narration after the failure: none is aligned
        return "words"

    def search(segment: int) -> Focus | None:
        searched.append(segment)
        if segment == 1:
            failed.set()
            raise OSError("the picture went away")
        return None

    monkeypatch.setattr(ahead_module, "new_aligner", object)
    monkeypatch.setattr(ahead_module, "find_words", find_words)
    with WordsAhead(_pending(range(4)), None, threading.Event(), [0, 1, 2, 3],
                    search) as ahead, pytest.raises(OSError, match="went away"):
        ahead.wait([3])
    assert searched == [0, 1]
    assert asked == [0]  # the narration being aligned ends; no other is started


def test_the_first_error_is_the_one_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    focus_failed = threading.Event()

    def find_words(pending: PendingWords, aligner: Any, store: Any) -> Any:
        focus_failed.wait(_WAIT)
        raise ValueError("second")

    def search(segment: int) -> Focus | None:
        try:
            raise OSError("first")
        finally:
            focus_failed.set()

    monkeypatch.setattr(ahead_module, "new_aligner", object)
    monkeypatch.setattr(ahead_module, "find_words", find_words)
    with WordsAhead(_pending(range(1)), None, threading.Event(), [0], search) as ahead, \
            pytest.raises(OSError, match="first"):
        ahead.wait([0])
    # both threads have ended once the block has: the first error is still the one kept
    with pytest.raises(OSError, match="first"):
        ahead.wait([0])


def test_waiting_ends_when_the_render_is_cancelled() -> None:
    cancel = threading.Event()
    release = threading.Event()

    def search(segment: int) -> Focus | None:
        release.wait(_WAIT)
        return None

    with WordsAhead([], None, cancel, [0], search) as ahead:
        cancel.set()
        with pytest.raises(RenderCancelled):
            ahead.wait([0])
        release.set()


def test_held_until_the_first_frame_the_first_parts_segments_come_first(
        words: list[int]) -> None:
    """The first part's segments are found first, whatever their place (here the last),
    and the others only once the first frame is with the encoder."""
    searched: list[int] = []

    def search(segment: int) -> Focus | None:
        searched.append(segment)
        return None

    first_frame = FirstFrame()
    give_up = threading.Event()  # in segment order alone, the wait below never ends
    timer = threading.Timer(_WAIT, give_up.set)
    timer.start()
    with WordsAhead(_pending(range(4)), None, give_up, [0, 1, 2, 3], search,
                    first_frame=first_frame, first={2, 3}) as ahead:
        assert set(ahead.wait([2, 3])) == {2, 3}
        timer.cancel()
        assert not first_frame.is_reached()
        assert words == [2, 3] and searched == [2, 3]  # and no more, while held
        first_frame.reached()
        assert set(ahead.wait([0, 1, 2, 3])) == {0, 1, 2, 3}
    assert words == [2, 3, 0, 1] and searched == [2, 3, 0, 1]


def test_waiting_for_more_than_the_first_part_lets_the_held_ones_go(
        words: list[int]) -> None:
    first_frame = FirstFrame()
    with WordsAhead(_pending(range(3)), None, threading.Event(), first_frame=first_frame,
                    first={0}) as ahead:
        assert set(ahead.wait([0, 1, 2])) == {0, 1, 2}  # would wait for ever if held
    assert first_frame.is_reached()
    assert words == [0, 1, 2]


def test_held_threads_stop_on_cancel(words: list[int]) -> None:
    cancel = threading.Event()
    with WordsAhead(_pending(range(3)), None, cancel, first_frame=FirstFrame(),
                    first={0}) as ahead:
        ahead.wait([0])
        cancel.set()
        with pytest.raises(RenderCancelled):
            ahead.wait([0, 1])
    assert words == [0]  # the held ones were never found
