"""From a project and its analysis to the exact story timeline.

The story is the list of *items* shown in order (an optional intro clip, the
segments, an optional outro clip), each with its visual, their plan on the frame
grid, and the caption cues and chapters placed on it. A segment lasts its narration
and the pause after it; an ``extend`` clip at least its trimmed clip; an interlude
(a video with neither text nor recording) its trimmed clip. Everything here is pure
arithmetic on integer frames and samples; nothing is decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, Protocol

from storyreel.model.project import Project
from storyreel.model.visual import Card, ClipOptions, Video, Visual
from storyreel.timeline.captions import CaptionWord, frame_words, split_chunks, word_cues
from storyreel.timeline.framing import Focus
from storyreel.timeline.plan import (
    SAMPLE_RATE,
    Plan,
    plan_timeline,
    sample_to_frame,
    seconds_to_samples,
)
from storyreel.timeline.wordbreak import is_spaceless
from storyreel.timeline.words import WORD_BREAK, WordTimings

__all__ = ["Caption", "Chapter", "ClipFacts", "Item", "Measured", "Story", "build_story",
           "seconds_to_frames"]


@dataclass(frozen=True)
class ClipFacts:
    """A clip as a segment shows it.

    Attributes:
        length: Length of the trimmed clip in seconds.
        width: Width of its upright picture.
        height: Height of its upright picture.
    """

    length: Fraction
    width: int
    height: int


class Measured(Protocol):
    """What planning needs to know of the media (the render's analysis provides it)."""

    @property
    def narration_samples(self) -> Sequence[int]:
        """Narration length of each segment at :data:`SAMPLE_RATE`."""
        ...

    @property
    def speech(self) -> Sequence[Sequence[tuple[int, int]]]:
        """Sample ranges where the voice speaks, per segment."""
        ...

    @property
    def words(self) -> Sequence[WordTimings]:
        """When each written word is spoken, per segment."""
        ...

    @property
    def clips(self) -> Sequence[ClipFacts | None]:
        """Each segment's trimmed clip (``None`` for other visuals)."""
        ...

    @property
    def focus(self) -> Sequence[Focus | None]:
        """The focus found in each segment's picture (``None``: set, or none found)."""
        ...

    @property
    def intro(self) -> ClipFacts | None:
        """The usable intro clip, if any."""
        ...

    @property
    def outro(self) -> ClipFacts | None:
        """The usable outro clip, if any."""
        ...

_NO_WORDS = WordTimings((), "estimated")


@dataclass(frozen=True)
class Item:
    """One thing shown on the timeline.

    Attributes:
        kind: Where it sits: ``intro``, ``segment`` or ``outro``.
        visual: What it shows (intro and outro show a contained video).
        segment: 0-based segment index for segments, else ``None``.
        gain: Level of the visual's own sound in dB (``None``: silent).
        clip: Its trimmed clip, for a video.
    """

    kind: Literal["intro", "segment", "outro"]
    visual: Visual
    segment: int | None = None
    gain: float | None = None
    clip: ClipFacts | None = None


@dataclass(frozen=True)
class Caption:
    """A caption shown from ``start`` up to (not including) frame ``end``, and its words."""

    start: int
    end: int
    text: str
    segment: int
    words: tuple[CaptionWord, ...] = ()


@dataclass(frozen=True)
class Chapter:
    """A chapter starting at frame ``start``."""

    start: int
    title: str


@dataclass(frozen=True)
class Story:
    """Items, their plan, captions and chapters."""

    items: tuple[Item, ...]
    plan: Plan
    captions: tuple[Caption, ...]
    chapters: tuple[Chapter, ...]

    def item_span_of_segment(self, segment: int) -> int:
        """Index in ``items`` (and ``plan.spans``) of a 0-based segment."""
        return segment + (1 if self.items[0].kind == "intro" else 0)


def seconds_to_frames(seconds: float, fps: Fraction) -> int:
    """Seconds (as written in a manifest) to the nearest whole frame."""
    return int(Fraction(seconds).limit_denominator(1000) * fps + Fraction(1, 2))


def build_story(project: Project, analysis: Measured, *, stable: bool = False) -> Story:
    """Plan the timeline: pauses stretched to hold transitions, clips placed, cues timed.

    ``stable``: a draft's frame grid, each segment's length rounded on its own (see
    :func:`~storyreel.timeline.plan.plan_timeline`).
    """
    fps, settings = project.fps, project.settings
    fades = settings.transitions
    items: list[Item] = []
    narrations: list[int] = []
    gaps: list[int] = []
    crossfades: list[int] = []

    def crossfade_after(segment: int | None) -> int:
        seg = project.segments[segment] if segment is not None else None
        if seg is not None and seg.crossfade is not None:
            return seconds_to_frames(seg.crossfade, fps)
        return seconds_to_frames(fades.crossfade, fps)

    if settings.intro is not None and analysis.intro is not None:
        items.append(_bookend("intro", settings.intro.path, settings.intro.volume,
                              analysis.intro))
        narrations.append(0)
        gaps.append(seconds_to_samples(analysis.intro.length))
        crossfades.append(0)
    for index, segment in enumerate(project.segments):
        visual = _focused(segment.visual, analysis.focus[index] if index < len(
            analysis.focus) else None)
        items.append(Item("segment", visual, index,
                          visual.sound_gain(interlude=segment.interlude),
                          analysis.clips[index]))
        narrations.append(analysis.narration_samples[index])
        previous = index - 1 if index > 0 else None
        crossfades.append(crossfade_after(previous) if len(items) > 1 else 0)
        gaps.append(0)
    has_outro = settings.outro is not None and analysis.outro is not None
    for position, item in enumerate(items):
        if item.segment is None:
            continue
        is_last = position == len(items) - 1
        follow = crossfade_after(item.segment) if not is_last or has_outro else 0
        tail = fades.fade_out if is_last and not has_outro else 0.0
        pause = max(settings.gap, float(follow / fps), tail)
        gaps[position] = max(round(pause * SAMPLE_RATE),
                             _clip_pause(project, item, narrations[position]))
    if has_outro:
        assert settings.outro is not None and analysis.outro is not None
        fade = crossfade_after(len(project.segments) - 1)
        items.append(_bookend("outro", settings.outro.path, settings.outro.volume,
                              analysis.outro))
        narrations.append(0)
        crossfades.append(fade)
        gaps.append(max(1, seconds_to_samples(analysis.outro.length)
                        - seconds_to_samples(fade / fps)))
    lead = 0 if items[0].kind == "intro" else round(fades.fade_in * SAMPLE_RATE)
    plan = plan_timeline(narrations, fps=fps, sample_rate=SAMPLE_RATE, gap=gaps, lead=lead,
                         crossfade=crossfades, stable=stable)
    story = Story(tuple(items), plan, (), ())
    return Story(story.items, plan, _captions(project, analysis, story), _chapters(project, story))


def _focused(visual: Visual, found: Focus | None) -> Visual:
    """``visual`` with the focus found in it, when it sets none of its own."""
    if found is None or isinstance(visual, Card) or visual.focus is not None:
        return visual
    return visual.model_copy(update={"focus": found})


def _bookend(kind: Literal["intro", "outro"], path: Path, volume: float,
             clip: ClipFacts) -> Item:
    """An intro or outro: its clip letterboxed, played once, with its sound."""
    options = ClipOptions(crop="contain", volume=volume)
    return Item(kind, Video(video=path, clip=options), None, volume, clip)


def _clip_pause(project: Project, item: Item, narration: int) -> int:
    """The pause a segment's clip asks for after its narration: an interlude lasts its
    clip, an ``extend`` clip lasts at least its own length; others ask for none."""
    assert item.segment is not None
    if item.clip is None:
        return 0
    if project.segments[item.segment].interlude:
        return seconds_to_samples(item.clip.length)
    clip = project.segments[item.segment].clip
    if clip is not None and clip.fit == "extend":
        return seconds_to_samples(item.clip.length) - narration
    return 0


def _captions(project: Project, analysis: Measured, story: Story) -> tuple[Caption, ...]:
    options = project.settings.subtitles
    if not (options.enabled or options.sidecar or options.words_json):
        return ()
    plan = story.plan
    captions: list[Caption] = []
    for index, segment in enumerate(project.segments):
        if not segment.subtitles or not segment.text.strip():
            continue
        span = plan.spans[story.item_span_of_segment(index)]
        chunks = split_chunks(segment.text, min_words=options.min_words,
                              max_words=options.max_words, language=project.language_of(index))
        timings = analysis.words[index] if index < len(analysis.words) else _NO_WORDS
        cues = word_cues(chunks, timings, analysis.speech[index], span.narration)
        for cue in cues:
            start = sample_to_frame(span.audio_start + cue.start, plan.fps, SAMPLE_RATE)
            end = sample_to_frame(span.audio_start + cue.end, plan.fps, SAMPLE_RATE)
            end = min(max(end, start + 1), span.end_frame)
            if start < end:
                words = frame_words(cue.words, span.audio_start, plan.fps, start, end)
                captions.append(Caption(start, end, cue.text, index, words))
    return tuple(_no_overlap(captions))


def _no_overlap(captions: list[Caption]) -> list[Caption]:
    """Trim cues so none overlaps; a cue left without a frame of its own joins the previous."""
    result: list[Caption] = []
    for caption in captions:
        if result and result[-1].end > caption.start:
            last = result[-1]
            if caption.start <= last.start:  # no frame to show ``last`` alone: merge them
                result[-1] = Caption(last.start, max(last.end, caption.end),
                                     _joined(last.text, caption.text), last.segment,
                                     last.words + caption.words)
                continue
            result[-1] = Caption(last.start, caption.start, last.text, last.segment,
                                 last.words)
        result.append(caption)
    return result


def _joined(first: str, second: str) -> str:
    """Two captions' texts as one: a space between them, or a word break between two
    words of a script written without spaces."""
    spaceless = bool(first and second) and is_spaceless(first[-1]) and is_spaceless(second[0])
    return f"{first}{WORD_BREAK if spaceless else ' '}{second}"


def _chapters(project: Project, story: Story) -> tuple[Chapter, ...]:
    chapters: list[Chapter] = []
    for index, segment in enumerate(project.segments):
        if segment.chapter and segment.chapter.strip():
            span = story.plan.spans[story.item_span_of_segment(index)]
            chapters.append(Chapter(span.first_frame, segment.chapter.strip()))
    return tuple(chapters)
