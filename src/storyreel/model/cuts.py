"""Cuts: a project of some of a story's segments, rendered with its own timing.

A cut is a new project holding the chosen segments in their order, with the same
settings, so its plan, captions and chapters are made for it alone (a Short from a
long story), not trimmed out of the whole video. Segments are chosen by number
(1-based, as the studio and error messages count them) or by chapter: a chapter runs
from the segment that starts it up to the next one that starts another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from storyreel.errors import Problem, ValidationFailed
from storyreel.model.project import Project

__all__ = ["chapter_numbers", "cut", "segment_numbers"]

_PIECE = re.compile(r"^\s*(\d+)?\s*(-)?\s*(\d+)?\s*$")


def segment_numbers(spec: str, count: int) -> list[int]:
    """The 1-based segment numbers ``spec`` names among ``count``: ``"3"``, ``"2-5"``,
    ``"2-"`` (to the end), ``"-4"`` (from the start) or several joined by commas
    (``"1,4-6"``); in order, each once.

    Raises:
        ValidationFailed: ``spec`` does not read, or names a segment the project lacks.
    """
    chosen: set[int] = set()
    for piece in spec.split(","):
        match = _PIECE.match(piece)
        if match is None or not piece.strip() or (match[2] is None and match[1] is None):
            raise _problem(f"{spec!r} is not a list of segments (e.g. 3, 2-5, 2- or 1,4-6)")
        first = int(match[1]) if match[1] is not None else 1
        last = first if match[2] is None else int(match[3]) if match[3] is not None else count
        if first < 1 or last > count or first > last:
            raise _problem(f"{piece.strip()} lies outside the project (it has segments "
                           f"1-{count})" if first <= last else
                           f"{piece.strip()} runs backwards (write {last}-{first})")
        chosen.update(range(first, last + 1))
    return sorted(chosen)


def chapter_numbers(project: Project, name: str) -> list[int]:
    """The 1-based numbers of the segments of the chapter called ``name`` (compared
    without case or surrounding spaces).

    Raises:
        ValidationFailed: No segment starts a chapter of that name.
    """
    starts = [(n, s.chapter.strip()) for n, s in enumerate(project.segments, start=1)
              if s.chapter and s.chapter.strip()]
    wanted = name.strip().casefold()
    for k, (start, title) in enumerate(starts):
        if title.casefold() == wanted:
            end = starts[k + 1][0] if k + 1 < len(starts) else len(project.segments) + 1
            return list(range(start, end))
    known = ", ".join(repr(title) for _, title in starts) or "none"
    raise ValidationFailed([Problem(f"no chapter is called {name.strip()!r} (chapters: "
                                    f"{known})", field="chapter")])


def cut(project: Project, numbers: Sequence[int]) -> Project:
    """``project`` holding only the segments ``numbers`` (1-based), in their order.

    Raises:
        ValidationFailed: ``numbers`` is empty or names a segment the project lacks.
    """
    count = len(project.segments)
    if not numbers:
        raise _problem("a cut needs at least one segment")
    outside = [n for n in numbers if not 1 <= n <= count]
    if outside:
        raise _problem(f"segment {outside[0]} lies outside the project (it has segments "
                       f"1-{count})")
    chosen = sorted(set(numbers))
    segments = [project.segments[n - 1] for n in chosen]
    settings = project.settings
    cover = settings.thumbnail
    if cover is not None:  # the cover shows the same segment, at its place in the cut
        place = chosen.index(cover.segment) + 1 if cover.segment in chosen else 1
        settings = settings.model_copy(update={
            "thumbnail": cover.model_copy(update={"segment": place})})
    # A copy keeps the manifest's folder and path: media still resolve, the cache is shared.
    return project.model_copy(update={"segments": segments, "settings": settings})


def _problem(message: str) -> ValidationFailed:
    return ValidationFailed([Problem(message, field="segments")])
