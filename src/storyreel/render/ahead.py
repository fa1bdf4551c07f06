"""Work done ahead of the encoder: the narrations' words, and the next part's still.

Timing the picture needs only each narration's length; its captions need where the
voice speaks and the words found by forced alignment. :class:`WordsAhead` finds them
for the narrations left for later
(:attr:`~storyreel.render.analysis.Analysis.pending`) on a thread of its own, in
segment order, while the first parts are encoded: a part waits only for the words
of the segments it can show. A second thread searches the pictures whose focus was
left for later (:attr:`~storyreel.render.analysis.Analysis.pending_focus`), in
segment order: a part waits for the focus of the pictures it shows. The two run side
by side because the first frame waits for both, and the face search (native code that
mostly lets go of Python's lock) fits beside the aligner's imports. Given the render's
:class:`~storyreel.render.priority.FirstFrame`, both do first what the first part
needs, and the rest once the first frame is with the encoder.
:class:`StillsAhead` prepares the still a part opens
with while the part before it is encoded.

Each owns its threads, started on entering its ``with`` block and stopped and joined
on leaving it (success, error and cancel alike); an error on a thread is raised in
the caller by the next call that needs its result.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING

from storyreel.errors import MediaError, Problem, ValidationFailed
from storyreel.frames.pictures import PreparedStills, cover_size
from storyreel.model.project import Project
from storyreel.model.visual import Still
from storyreel.render.analysis import (
    FactStore,
    FoundWords,
    PendingWords,
    find_words,
    new_aligner,
)
from storyreel.render.priority import FirstFrame, give_way
from storyreel.render.progress import CancelToken, raise_if_cancelled
from storyreel.timeline.framing import Focus

if TYPE_CHECKING:
    from storyreel.audio.align import Aligner

__all__ = ["StillsAhead", "WordsAhead"]

log = logging.getLogger("storyreel")

_POLL = 0.1  # seconds between looks at the cancel token while waiting


class WordsAhead:
    """Finds the words of ``pending`` narrations on a thread, in segment order.

    Args:
        pending: The narrations left for later, in segment order.
        store: Where each narration's facts are kept once found (the part cache).
        cancel: The render's cancel token: the thread stops at the next narration.
        focus: 0-based segments whose picture's focus is searched for (by ``search``),
            in segment order on a second thread.
        first_frame: Held until the render's first frame is with the encoder: until
            then only the segments in ``first`` (those the first part needs) are done.
        first: See ``first_frame``.
    """

    def __init__(self, pending: Sequence[PendingWords], store: FactStore | None,
                 cancel: CancelToken, focus: Sequence[int] = (),
                 search: Callable[[int], Focus | None] | None = None, *,
                 first_frame: FirstFrame | None = None, first: Collection[int] = ()
                 ) -> None:
        self._pending = list(pending)
        self._focus = list(focus) if search is not None else []
        self._search = search
        self._first_frame = first_frame if first_frame is not None else FirstFrame(hold=False)
        self._first = frozenset(first)
        self._focused: dict[int, Focus | None] = {}
        self._store = store
        self._cancel = cancel
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._found: dict[int, FoundWords] = {}
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
                         for work, name in ((self._find_words, "storyreel-words"),
                                            (self._find_focus, "storyreel-focus"))]

    def __enter__(self) -> WordsAhead:
        try:
            for thread in self._threads:
                thread.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join()

    def wait(self, segments: Iterable[int]) -> dict[int, FoundWords]:
        """What was found of the narrations of 0-based ``segments`` (and any others found
        so far), once all of those are found.

        Raises:
            ValidationFailed: A recording no longer decodes (naming its segment and file),
                as the analysis names it.
            RenderCancelled: The render was cancelled while waiting.
        """
        asked = set(segments)
        wanted = asked & {p.segment for p in self._pending}
        framed = asked & set(self._focus)
        if not (wanted | framed) <= self._first:
            self._first_frame.reached()  # held, they would never come
        with self._ready:
            while True:
                if self._error is not None:
                    _raise(self._error)
                if wanted <= self._found.keys() and framed <= self._focused.keys():
                    return dict(self._found)
                raise_if_cancelled(self._cancel)
                self._ready.wait(_POLL)

    def focus(self) -> dict[int, Focus | None]:
        """The focus found so far, by 0-based segment (those :meth:`wait` waited for
        among them)."""
        with self._ready:
            return dict(self._focused)

    def notes(self) -> list[str]:
        """What finding the words had to say, per segment in order (``segment N: ...``)."""
        with self._ready:
            return [f"segment {s + 1}: {found.note}" for s, found in sorted(self._found.items())
                    if found.note]

    def _run(self, work: Callable[[], None]) -> None:
        give_way()
        try:
            work()
        except BaseException as exc:  # raised in the caller by wait()
            with self._ready:
                if self._error is None:  # the first: the other thread stops on it
                    self._error = exc
                self._ready.notify_all()

    def _stopped(self) -> bool:
        return self._stop.is_set() or self._cancel.is_set() or self._error is not None

    def _order(self, segment: int) -> tuple[bool, int]:
        """The first part's segments first (the others wait for the first frame), each
        group in segment order."""
        return segment not in self._first, segment

    def _may_do(self, segment: int) -> bool:
        """Whether ``segment`` is to be done now (waiting for the first frame unless the
        first part needs it); ``False``: stop."""
        if segment not in self._first and not self._first_frame.wait(self._stopped):
            return False
        return not self._stopped()

    def _find_words(self) -> None:
        if not self._pending:
            return
        aligner: Aligner | None = None
        for pending in sorted(self._pending, key=lambda p: self._order(p.segment)):
            if not self._may_do(pending.segment):
                return
            if aligner is None:
                aligner = new_aligner()  # its imports, here
            found = find_words(pending, aligner, self._store)
            with self._ready:
                self._found[pending.segment] = found
                self._ready.notify_all()

    def _find_focus(self) -> None:
        if self._search is None:
            return
        for segment in sorted(self._focus, key=self._order):
            if not self._may_do(segment):
                return
            point = self._search(segment)
            with self._ready:
                self._focused[segment] = point
                self._ready.notify_all()


def _raise(error: BaseException) -> None:
    if isinstance(error, MediaError):
        problem = error.problem
        raise ValidationFailed([Problem(problem.message, problem.segment, problem.path,
                                        "audio")]) from error
    raise error


class StillsAhead:
    """Prepares stills into ``stills`` on a thread, one at a time, ahead of need.

    A still that fails to prepare is left alone: the part that shows it prepares it
    again and reports the error there, with its segment.
    """

    def __init__(self, project: Project, stills: PreparedStills) -> None:
        self._project = project
        self._stills = stills
        self._pool: ThreadPoolExecutor | None = None
        self._last: Future[object] | None = None
        self._stop = threading.Event()

    def __enter__(self) -> StillsAhead:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="storyreel-still-ahead",
                                        initializer=give_way)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._pool is not None
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def prepare(self, segment: int | None, after: FirstFrame | None = None) -> None:
        """Start preparing segment ``segment``'s still (nothing for other visuals), once
        ``after`` says the first frame is with the encoder (if given)."""
        if segment is None or not isinstance(self._project.segments[segment].visual, Still):
            return
        assert self._pool is not None
        if self._last is not None and not self._last.done():
            return  # one at a time: memory stays bounded
        width, height = cover_size(self._project, segment)
        self._last = self._pool.submit(self._quietly, segment, width, height, after)

    def _quietly(self, segment: int, width: int, height: int, after: FirstFrame | None
                 ) -> object:
        if after is not None and not after.wait(self._stop.is_set):
            return None
        with contextlib.suppress(Exception):
            visual = self._project.segments[segment].visual
            assert isinstance(visual, Still)
            return self._stills.get(visual, segment, width, height)
        log.debug("segment %d: its still could not be prepared ahead", segment + 1)
        return None
