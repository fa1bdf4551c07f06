"""Whole-project checks: every problem at once, each naming the segment and the file."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, assert_never

import numpy as np

from storyreel.audio.music import MusicBed
from storyreel.audio.speech import narration_speech
from storyreel.errors import MediaError, Problem
from storyreel.frames.card import card_planes
from storyreel.frames.text import check_font
from storyreel.media.audio import MAX_NARRATION_SECONDS, SAMPLE_RATE, AudioReader, Samples
from storyreel.media.clip import probe_clip
from storyreel.media.focus import clip_focus, picture_focus
from storyreel.media.image import probe_image
from storyreel.model.project import Project, Segment
from storyreel.model.visual import Card, Still, Video
from storyreel.render.keys import FileDigests, focus_facts_key, narration_facts_key
from storyreel.timeline.framing import Focus
from storyreel.timeline.story import ClipFacts
from storyreel.timeline.words import Word, WordTimings, estimate_words

if TYPE_CHECKING:
    from storyreel.audio.align import Aligner

__all__ = ["Analysis", "FactStore", "FoundWords", "PendingWords", "analyse_project",
           "card_warnings", "find_words"]

Regions = list[tuple[int, int]]
_NO_WORDS = WordTimings((), "estimated")
#: Narrations up to this long are aligned to their text; aligning holds the whole
#: recording in memory, so longer ones get estimated word timings.
_ALIGN_SECONDS = 120
#: Decoded narrations kept from the analysis for the speech and words found later.
_HOLD_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Analysis:
    """What the media of a project turned out to be.

    Attributes:
        problems: Everything wrong, in segment order; empty when the project can render.
        narration_samples: Narration length of each segment at 48 kHz (0 where unusable).
        image_sizes: Width and height of each still or clip ((0, 0) where unusable, and
            for cards).
        speech: Sample ranges where the voice speaks, per segment.
        intro: The intro clip, when the project has a usable one.
        outro: The outro clip, when the project has a usable one.
        words: When each written word is spoken, per segment (empty timings where
            speech was not analysed or the segment has no text).
        warnings: Things worth knowing that do not stop a render (e.g. word timings
            that had to be estimated).
        clips: Each segment's trimmed clip (``None`` for other visuals and unusable
            clips).
        focus: The focus found in each segment's still or clip, when it sets none
            (``None`` where it sets one, where none was looked for or found).
        pending: Narrations whose speech and words are still to be found (by
            :func:`find_words`), when the analysis was asked to leave them for later;
            their ``speech`` and ``words`` are empty until then.
        pending_focus: 0-based segments whose picture's focus is still to be searched
            for (by :func:`search_focus`), when the analysis was asked to leave it for
            later; their ``focus`` is ``None`` until then.
    """

    problems: list[Problem]
    narration_samples: list[int]
    image_sizes: list[tuple[int, int]]
    speech: list[Regions] = field(default_factory=list)
    intro: ClipFacts | None = None
    outro: ClipFacts | None = None
    words: list[WordTimings] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    clips: list[ClipFacts | None] = field(default_factory=list)
    focus: list[Focus | None] = field(default_factory=list)
    pending: list[PendingWords] = field(default_factory=list)
    pending_focus: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


#: Threads checking stills ahead of the analysis (their decodes run side by side).
_PROBE_THREADS = 2


def analyse_project(
    project: Project, on_segment: Callable[[int], None] | None = None, *,
    speech: bool = False, words: Mapping[int, WordTimings] | None = None,
    facts: FactStore | None = None, digest: Callable[[Path], str] | None = None,
    defer_alignment: bool = False,
    focus: bool = False,
) -> Analysis:
    """Open every still and decode every narration, collecting all problems.

    Args:
        project: The validated project model.
        on_segment: Called with the number of segments checked so far.
        speech: Also find where the voice speaks in each narration that has text
            and when each word is said (for caption timing).
        words: Word timings already known (a synthesised narration's), by 0-based
            segment; the others are found by forced alignment, or estimated.
        facts: Where what was found about each narration is kept, by the hash of
            its contents (and the text it says), so the next render of an unchanged
            narration neither decodes nor aligns it again.
        digest: Hashes a file's contents (default: a fresh :class:`FileDigests`).
        defer_alignment: Leave speech detection and forced alignment for later: a
            narration whose words are not known yet gets only its length here, and is
            listed in :attr:`Analysis.pending` (the timeline's timing needs neither).
            So is the search for a picture's focus (listed in
            :attr:`Analysis.pending_focus`; it frames the picture, not the timing),
            when some narration is left for later and so the render overlaps them.
        focus: Also find the focus of each still and clip that sets none (kept in
            ``facts`` by the file's contents, so it is looked for once per picture).
    """
    problems: list[Problem] = []
    lengths: list[int] = []
    sizes: list[tuple[int, int]] = []
    regions: list[Regions] = []
    timings: list[WordTimings] = []
    warnings: list[str] = []
    clips: list[ClipFacts | None] = []
    pending: list[PendingWords] = []
    hold = _Held(_HOLD_BYTES)
    found_focus: list[Focus | None] = []
    pending_focus: list[int] = []
    aligner = None if defer_alignment else new_aligner()
    digest = digest or FileDigests()
    with _Probes(project) as probes:
        for number, segment in enumerate(project.segments, start=1):
            size, clip = _check_visual(project, segment, number, problems, warnings,
                                       probes)
            sizes.append(size)
            clips.append(clip)
            usable = size != (0, 0) and segment.focus is None and focus
            point, searched = (_focus_of(segment, clip, facts, digest, search=not defer_alignment)
                               if usable else (None, True))
            found_focus.append(point)
            pending_focus += [] if searched else [number - 1]
            if segment.audio is None:  # spoken from its text when the render starts
                if not segment.text.strip() and not segment.interlude:
                    problems.append(Problem("no narration: the segment has neither a recording "
                                            "nor text", number, None, "audio"))
                lengths.append(0)
                regions.append([])
                timings.append(_NO_WORDS)
                if on_segment is not None:
                    on_segment(number)
                continue
            wanted = speech and bool(segment.text.strip()) and segment.subtitles
            known = (words or {}).get(number - 1)
            try:
                if defer_alignment and wanted and known is None:
                    found, later = _recalled_or_pending(facts, digest, segment.audio, number,
                                                        segment.text, hold,
                                                        project.language_of(number - 1))
                    pending += [later] if later is not None else []
                else:
                    found = _remembered(facts, digest, segment.audio, number, segment.text,
                                        wanted, align=wanted and known is None, aligner=aligner,
                                        language=project.language_of(number - 1))
            except MediaError as exc:
                problems.append(_named(exc.problem, "audio"))
                lengths.append(0)
                regions.append([])
                timings.append(_NO_WORDS)
            else:
                lengths.append(found.length)
                regions.append(found.speech)
                timings.append(known if wanted and known is not None else found.words)
                warnings += [f"segment {number}: {found.note}"] if found.note else []
                if found.length < SAMPLE_RATE // 100:
                    problems.append(Problem("narration is shorter than 10 ms", number,
                                            segment.audio, "audio"))
            if on_segment is not None:
                on_segment(number)
    settings = project.settings
    intro = _clip(settings.intro.path, "intro", problems) if settings.intro else None
    outro = _clip(settings.outro.path, "outro", problems) if settings.outro else None
    _check_files(project, problems)
    if not pending:  # nothing else is left for later: no overlap to search in
        for unsearched in pending_focus:
            found_focus[unsearched] = _focus_of(project.segments[unsearched],
                                                clips[unsearched], facts, digest)[0]
        pending_focus = []
    return Analysis(problems, lengths, sizes, regions, intro, outro, timings, warnings, clips,
                    found_focus, pending, pending_focus)


def _focus_of(segment: Segment, clip: ClipFacts | None, store: FactStore | None,
              digest: Callable[[Path], str], *, search: bool = True
              ) -> tuple[Focus | None, bool]:
    """The focus found in a segment's still or clip (kept in ``store`` by its contents),
    and whether it is known: ``(None, False)`` when it is not kept and ``search`` is off."""
    visual = segment.visual
    if isinstance(visual, Card) or (isinstance(visual, Video) and clip is None):
        return None, True
    at = str(visual.clip.trim[0]) if isinstance(visual, Video) else None
    try:
        key = focus_facts_key(digest(visual.files()[0]), at) if store is not None else None
    except MediaError:
        return None, True  # opening it for the render names the problem
    kept = store.recall(key) if store is not None and key is not None else None
    if kept is not None and _is_focus(kept.get("focus", "")):
        point = kept["focus"]
        return ((float(point[0]), float(point[1])) if point is not None else None), True
    if not search:
        return None, False
    try:
        found = (clip_focus(visual.video, visual.clip.trim[0], clip.width, clip.height)
                 if isinstance(visual, Video) and clip is not None
                 else picture_focus(visual.image) if isinstance(visual, Still) else None)
    except MediaError:
        return None, True
    if store is not None and key is not None:
        store.remember(key, {"focus": list(found) if found is not None else None})
    return found, True


def search_focus(project: Project, analysis: Analysis, segment: int,
                 store: FactStore | None = None, digest: Callable[[Path], str] | None = None
                 ) -> Focus | None:
    """The focus of a segment's picture left for later (:attr:`Analysis.pending_focus`),
    found as :func:`analyse_project` finds it, and kept in ``store``."""
    clip = analysis.clips[segment] if segment < len(analysis.clips) else None
    return _focus_of(project.segments[segment], clip, store, digest or FileDigests())[0]


def _is_focus(point: Any) -> bool:
    """Whether kept facts hold a focus (or ``None``: none was found), as finding one gives."""
    return point is None or (isinstance(point, list) and len(point) == 2 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in point))


class _Probes:
    """Every still's check (:func:`probe_image`), started at once on
    :data:`_PROBE_THREADS` threads: its decode lets go of Python's lock, so the checks
    overlap each other and the narrations' while the analysis goes through the segments
    in order. A file shown by several segments is checked once. Leaving the ``with``
    block drops the checks not started and waits for the others."""

    def __init__(self, project: Project) -> None:
        self._pool = ThreadPoolExecutor(_PROBE_THREADS, thread_name_prefix="storyreel-probe")
        #: By file: the first segment showing it, and its check.
        self._ahead: dict[Path, tuple[int, Future[tuple[int, int]]]] = {}
        try:
            for number, segment in enumerate(project.segments, start=1):
                visual = segment.visual
                if isinstance(visual, Still) and visual.image not in self._ahead:
                    self._ahead[visual.image] = number, self._pool.submit(
                        probe_image, visual.image, number)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> _Probes:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def size(self, still: Still, number: int) -> tuple[int, int]:
        """The size of segment ``number``'s still, once checked.

        Raises:
            MediaError: As :func:`probe_image`, naming segment ``number``.
        """
        first, check = self._ahead[still.image]
        try:
            return check.result()
        except MediaError as exc:
            if first == number:
                raise
            # The same file's problem, named for this segment (not decoded again).
            raise MediaError(exc.problem.message, path=exc.path, segment=number) from exc


def _check_visual(project: Project, segment: Segment, number: int, problems: list[Problem],
                  warnings: list[str], probes: _Probes
                  ) -> tuple[tuple[int, int], ClipFacts | None]:
    """Open a segment's visual as the render will: its size, and its trimmed clip (a
    card's title is drawn once, for the characters no font has)."""
    visual = segment.visual
    match visual:
        case Still():
            try:
                return probes.size(visual, number), None
            except MediaError as exc:
                problems.append(_named(exc.problem, "image"))
                return (0, 0), None
        case Video():
            try:
                clip = _trimmed_clip(visual, number)
            except MediaError as exc:
                problems.append(_named(exc.problem, "video"))
                return (0, 0), None
            return (clip.width, clip.height), clip
        case Card():
            warnings += [f"segment {number} title: {note}" for note in _card_notes(project,
                                                                                  visual)]
            return (0, 0), None
        case _:
            assert_never(visual)


def card_warnings(project: Project) -> list[str]:
    """What drawing the cards' titles has to say at ``project``'s frame (another
    platform's shape may wrap or leave out a title that fits in the first's)."""
    return [f"segment {number} title: {note}"
            for number, segment in enumerate(project.segments, start=1)
            if isinstance(segment.visual, Card)
            for note in _card_notes(project, segment.visual)]


def _card_notes(project: Project, card: Card) -> list[str]:
    """What drawing a card's title has to say (the caption font's check names a bad font)."""
    if not card.title:
        return []
    settings = project.settings
    try:
        return card_planes(card.title, settings.background, settings.subtitles, project.width,
                           project.height, settings.safe_insets)[1]
    except MediaError:
        return []


def _trimmed_clip(visual: Video, number: int) -> ClipFacts:
    """Probe a segment's clip, its first and last frames decoded, and check its trim.

    Raises:
        MediaError: The clip is unusable (:func:`probe_clip` says why), or its trim lies
            outside it.
    """
    path = visual.video
    try:
        info = probe_clip(path, check_frames=True)
    except MediaError as exc:
        raise MediaError(exc.problem.message, path=path, segment=number) from exc
    start, stop = visual.clip.trim
    end = stop if stop is not None else info.duration
    for what, at, outside in (("start", start, start >= info.duration),
                              ("end", end, end > info.duration)):
        if outside:
            raise MediaError(f"clip trim {what} {float(at):g} s lies outside the clip "
                             f"({float(info.duration):.3f} s long)", path=path, segment=number)
    return ClipFacts(end - start, info.width, info.height)


@dataclass(frozen=True)
class _Found:
    """What a narration turned out to be."""

    length: int
    speech: Regions
    words: WordTimings
    note: str | None = None


class FactStore(Protocol):
    """Keeps what analysing a file found, under a key (a :class:`PartCache`)."""

    def recall(self, key: str) -> dict[str, Any] | None:
        """The facts kept under ``key``, or ``None``."""

    def remember(self, key: str, facts: dict[str, Any]) -> None:
        """Keep ``facts`` under ``key``."""


def _remembered(store: FactStore | None, digest: Callable[[Path], str], path: Path,
                number: int, text: str, speech: bool, *, align: bool,
                aligner: Aligner | None, language: str = "en") -> _Found:
    """What :func:`_narration_facts` finds, taken from ``store`` when it was found before."""
    try:
        content = digest(path) if store is not None else None
    except MediaError:
        content = None  # decoding it names the problem, with its segment
    if store is None or content is None:
        return _narration_facts(path, number, text, speech, align=align, aligner=aligner,
                                language=language)
    key = narration_facts_key(content, text, speech=speech, align=align, language=language)
    found = _from_json(store.recall(key))
    if found is None:
        found = _narration_facts(path, number, text, speech, align=align, aligner=aligner,
                                 language=language)
        store.remember(key, _to_json(found))
    return found


@dataclass(frozen=True)
class PendingWords:
    """A narration measured but for its speech and words (see ``defer_alignment``).

    Attributes:
        segment: 0-based segment index.
        path: The recording.
        text: What it says.
        length: Its length at 48 kHz.
        key: Where its full facts are kept once found (``None``: not kept).
        language: The language its text is aligned in.
        held: Its decoded blocks, kept from the analysis (``None``: decoded again);
            :func:`find_words` empties the list.
    """

    segment: int
    path: Path
    text: str
    length: int
    key: str | None
    language: str = "en"
    held: list[Samples] | None = None


@dataclass(frozen=True)
class FoundWords:
    """What :func:`find_words` found: where a narration speaks, its words and the note
    about them (if any)."""

    speech: Regions
    words: WordTimings
    note: str | None


def _recalled_or_pending(store: FactStore | None, digest: Callable[[Path], str], path: Path,
                         number: int, text: str, hold: _Held, language: str
                         ) -> tuple[_Found, PendingWords | None]:
    """A narration's full facts when they are kept; else its length, and what finding
    its speech and words later needs."""
    try:
        content = digest(path) if store is not None else None
    except MediaError:
        content = None  # decoding it names the problem, with its segment
    key = None
    if store is not None and content is not None:
        key = narration_facts_key(content, text, speech=True, align=True, language=language)
        found = _from_json(store.recall(key))
        if found is not None:
            return found, None
    length, _, _ = _narration(path, number, False, align=False, hold=hold)
    return (_Found(length, [], _NO_WORDS),
            PendingWords(number - 1, path, text, length, key, language, hold.take()))


def find_words(pending: PendingWords, aligner: Aligner, store: FactStore | None = None
               ) -> FoundWords:
    """The speech and words of a narration left for later, found as
    :func:`analyse_project` finds them (the recording decoded again), and kept in
    ``store`` with its other facts.

    Raises:
        MediaError: The recording no longer decodes, or no longer has the length it
            had (naming its segment and file).
    """
    number = pending.segment + 1
    if pending.held is not None:
        held = list(pending.held)
        pending.held.clear()  # freed as soon as this narration is done with
        length, regions, mono = _measured(held, pending.path, number, True, align=True)
        del held
    else:
        length, regions, mono = _narration(pending.path, number, True, align=True)
    if length != pending.length:
        raise MediaError("the recording changed while the video was rendered",
                         path=pending.path, segment=number)
    found = _words(pending.text, length, regions, mono, aligner, pending.language)
    if store is not None and pending.key is not None:
        store.remember(pending.key, _to_json(found))
    return FoundWords(found.speech, found.words, found.note)


def _narration_facts(path: Path, number: int, text: str, speech: bool, *, align: bool,
                     aligner: Aligner | None, language: str = "en") -> _Found:
    """A narration's length, where it speaks and when its words are said (when asked)."""
    length, regions, mono = _narration(path, number, speech, align=align)
    if not speech or not align:
        return _Found(length, regions, _NO_WORDS)
    return _words(text, length, regions, mono, aligner or new_aligner(), language)


def _words(text: str, length: int, regions: Regions, mono: Samples | None, aligner: Aligner,
           language: str = "en") -> _Found:
    """The facts of a narration whose words are found from its mono samples (``None``:
    too long to align, so estimated)."""
    if mono is None:
        return _Found(length, regions, estimate_words(text, regions, length),
                      f"word timings estimated (narrations over {_ALIGN_SECONDS // 60:g} "
                      "minutes are not aligned)")
    from storyreel.audio.align import align_narration

    aligned, why = align_narration(text, mono, regions, aligner, language)
    return _Found(length, regions, aligned, why)


def new_aligner() -> Aligner:
    """An aligner for :func:`find_words`. Its module is imported on first call: it brings
    Numba (and pocketsphinx once it aligns), which a render whose words are found on
    another thread (``defer_alignment``) does not need on its own."""
    from storyreel.audio.align import Aligner

    return Aligner()


def _to_json(found: _Found) -> dict[str, Any]:
    return {"length": found.length, "speech": found.speech, "note": found.note,
            "source": found.words.source,
            "words": [[w.text, w.start, w.end] for w in found.words.words]}


def _from_json(data: dict[str, Any] | None) -> _Found | None:
    """The facts kept, or ``None`` when there are none (or they do not read)."""
    if data is None:
        return None
    try:
        words = tuple(Word(str(t), int(a), int(b)) for t, a, b in data["words"])
        speech = [(int(a), int(b)) for a, b in data["speech"]]
        source = data["source"]
        if source not in ("engine", "aligned", "estimated"):
            return None
        note = data["note"]
        length = int(data["length"])
        spans = [*speech, *((w.start, w.end) for w in words)]
        if not 0 < length <= MAX_NARRATION_SECONDS * SAMPLE_RATE or any(
                not 0 <= a <= b <= length for a, b in spans):
            return None  # not what analysing a narration can find: found again
        return _Found(length, speech, WordTimings(words, source),
                      str(note) if note is not None else None)
    except (KeyError, TypeError, ValueError):
        return None


def _narration(path: Path, number: int, speech: bool, *, align: bool,
               hold: _Held | None = None) -> tuple[int, Regions, Samples | None]:
    """A narration's length at 48 kHz, where it speaks (when asked) and, for alignment,
    its mono samples: streamed, and kept only while it is short enough to align.
    ``hold`` keeps the decoded blocks, while they fit its budget."""
    with AudioReader(path, segment=number) as reader:
        source = reader.blocks() if hold is None else hold.keep(reader.blocks())
        return _measured(source, path, number, speech, align=align)


def _measured(source: Iterable[Samples], path: Path, number: int, speech: bool, *,
              align: bool) -> tuple[int, Regions, Samples | None]:
    """What :func:`_narration` finds, from the narration's decoded blocks."""
    kept: list[Samples] = []
    keeping = align
    limit = _ALIGN_SECONDS * SAMPLE_RATE
    read = 0

    def blocks() -> Iterator[Samples]:
        nonlocal keeping, read
        for block in source:
            read += block.shape[1]
            if keeping:
                kept.append(block.mean(axis=0, dtype=np.float32))
                if read > limit:
                    keeping = False
                    kept.clear()
            yield block

    if speech:
        length, found = narration_speech(blocks(), SAMPLE_RATE)
    else:
        length, found = sum(block.shape[1] for block in blocks()), []
    if length == 0:
        raise MediaError("audio is empty (no samples)", path=path, segment=number)
    mono = np.concatenate(kept) if keeping and kept else None
    return length, found, mono


class _Held:
    """Decoded narration blocks kept for the speech and words found later, within a
    budget shared by the whole analysis (a narration that does not fit is decoded again
    when its turn comes)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.blocks: list[Samples] | None = []

    def keep(self, source: Iterable[Samples]) -> Iterator[Samples]:
        self.blocks = []
        for block in source:
            if self.blocks is not None:
                self.blocks.append(block)
                self.budget -= block.nbytes
                if self.budget < 0:
                    self.budget += sum(b.nbytes for b in self.blocks)
                    self.blocks = None
            yield block

    def take(self) -> list[Samples] | None:
        """The blocks of the narration just decoded (``None``: not kept)."""
        blocks, self.blocks = self.blocks, []
        return blocks


def _clip(path: Path, field_name: str, problems: list[Problem]) -> ClipFacts | None:
    try:
        info = probe_clip(path, check_frames=True)
        return ClipFacts(info.duration, info.width, info.height)
    except MediaError as exc:
        problems.append(Problem(exc.problem.message, None, path, f"settings.{field_name}"))
        return None


def _check_files(project: Project, problems: list[Problem]) -> None:
    settings = project.settings
    if settings.music is not None:
        try:  # opening the bed decodes the start of the file: enough to know it plays
            MusicBed(settings.music.path, total_samples=SAMPLE_RATE).close()
        except MediaError as exc:
            problems.append(Problem(exc.problem.message, None, settings.music.path,
                                    "settings.music"))
    if settings.logo is not None:
        try:
            probe_image(settings.logo.path)
        except MediaError as exc:
            problems.append(Problem(exc.problem.message, None, settings.logo.path,
                                    "settings.logo"))
    font = settings.subtitles.font
    if font is not None:
        try:
            check_font(font)
        except MediaError as exc:
            problems.append(Problem(exc.problem.message, None, font, "settings.subtitles.font"))


def _named(problem: Problem, field_name: str) -> Problem:
    return Problem(problem.message, problem.segment, problem.path, field_name)
