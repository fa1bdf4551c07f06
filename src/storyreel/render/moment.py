"""Any frame of a project's video, drawn on its own, as the render will draw it.

:func:`plan_moments` plans the timeline as a render does: the same analysis of the
media (what it finds about a narration is kept in the part cache, so a narration is
analysed once for renders and previews alike) and the same story. A segment whose
narration is not spoken yet (a render speaks it first) is given the length its words
take at :data:`~storyreel.words.WORDS_PER_SECOND`, with its word timings spread over
it: :attr:`Timeline.estimated` names those segments.

:class:`Moments` draws frame *n* with the frame producer's own step
(:func:`~storyreel.render.frames.draw_frame`) over the pictures a render opens
(:func:`~storyreel.frames.pictures.open_picture`), decorated by the render's
:class:`~storyreel.render.decor.Decorator`: the caption with the word spoken at that
frame lit, the logo, the fades. A picture that cannot be read (not added yet) is drawn
neutral grey.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from storyreel.errors import OutsideVideo
from storyreel.frames.pictures import open_picture
from storyreel.frames.still import yuv420_to_rgb
from storyreel.media.audio import SAMPLE_RATE
from storyreel.media.encoder import PlaneViews
from storyreel.media.image import Planes
from storyreel.model.project import Project
from storyreel.model.visual import Still
from storyreel.render.analysis import Analysis, FactStore, analyse_project
from storyreel.render.decor import Decorator, fade_frames
from storyreel.render.frames import Picture, draw_frame, scratch_like
from storyreel.render.preview import StillCache
from storyreel.timeline.framing import CENTRE, Focus
from storyreel.timeline.plan import Plan
from storyreel.timeline.story import Story, build_story
from storyreel.timeline.words import estimate_words
from storyreel.words import WORDS_PER_SECOND

__all__ = ["KeptMoments", "Moments", "Timeline", "frame_at_time", "plan_moments"]

#: Pictures kept open between frames: the segment shown, the one fading in, one more.
_OPEN_PICTURES = 3
#: Neutral grey in YUV: what a picture not added yet looks like.
_GREY = 128


@dataclass(frozen=True)
class Timeline:
    """A project planned for drawing single frames.

    Attributes:
        project: The project (at the size the frames are drawn).
        story: Its story, planned as a render plans it.
        draft_plan: The same timeline on a draft's frame grid (each segment's length
            rounded on its own, so a segment may start a frame or two from where the
            final video starts it).
        estimated: 1-based segments whose narration length and word timings are
            estimated from their text (not spoken yet).
        unreadable: 0-based segments whose picture cannot be read (drawn grey).
    """

    project: Project
    story: Story
    draft_plan: Plan
    estimated: tuple[int, ...] = ()
    unreadable: frozenset[int] = frozenset()

    @property
    def total_frames(self) -> int:
        """Frames in the video."""
        return self.story.plan.total_frames


def plan_moments(project: Project, *, facts: FactStore | None = None,
                 digest: Callable[[Path], str] | None = None) -> Timeline:
    """Plan ``project``'s timeline as a render would, estimating what is not spoken yet.

    Args:
        project: The project, at the size its frames are to be drawn.
        facts: Where what was found about each narration is kept (a render's part
            cache): a narration analysed before is not decoded again.
        digest: Hashes a file's contents (for ``facts``).
    """
    captions = project.settings.subtitles
    analysis = analyse_project(project, speech=captions.enabled or captions.sidecar
                               or captions.words_json, facts=facts, digest=digest)
    estimated = [i for i, segment in enumerate(project.segments)
                 if analysis.narration_samples[i] == 0 and segment.text.strip()]
    unreadable = frozenset(p.segment - 1 for p in analysis.problems
                           if p.segment is not None and p.field in ("image", "video"))
    timed = _estimated(project, analysis, estimated)
    story = build_story(project, timed)
    return Timeline(project, story, build_story(project, timed, stable=True).plan,
                    tuple(i + 1 for i in estimated), unreadable)


def _estimated(project: Project, analysis: Analysis, segments: list[int]) -> Analysis:
    """``analysis`` with the narrations of ``segments`` estimated from their words."""
    if not segments:
        return analysis
    lengths = list(analysis.narration_samples)
    words = list(analysis.words)
    speech = list(analysis.speech)
    for index in segments:
        text = project.segments[index].text
        lengths[index] = max(1, round(len(text.split()) / WORDS_PER_SECOND * SAMPLE_RATE))
        words[index] = estimate_words(text, [], lengths[index])
        speech[index] = []
    return replace(analysis, narration_samples=lengths, words=words, speech=speech)


def frame_at_time(seconds: Fraction, timeline: Timeline) -> int:
    """The frame of the video at ``seconds``: the one whose start is nearest, rounded once
    on the exact frame grid (the last frame up to the video's end).

    Raises:
        OutsideVideo: ``seconds`` is outside ``[0, length)``.
    """
    total = timeline.total_frames
    fps = timeline.story.plan.fps
    length = Fraction(total) / fps
    if not 0 <= seconds < length:
        raise OutsideVideo(f"the video lasts {float(length):.3f} s; a time is from 0 up to "
                           "(not including) that")
    return min(int(seconds * fps + Fraction(1, 2)), total - 1)


class _CoveredStills:
    """A segment's still from a preview's cache of decoded stills, framed as a render
    frames it (around its focus, when it has one)."""

    def __init__(self, stills: StillCache) -> None:
        self._stills = stills

    def get(self, visual: Still, segment: int, width: int, height: int
            ) -> tuple[Planes, Focus]:
        if visual.focus is None:  # centred: the focus is not used
            return self._stills(visual.image, width, height, segment + 1), CENTRE
        return self._stills.framed(visual.image, width, height, segment + 1, visual.focus)


class _Grey:
    """The picture of a segment whose visual cannot be read yet."""

    def draw(self, dest: PlaneViews, index: int, t: float) -> None:
        for plane in dest:
            plane.fill(_GREY)

    def close(self) -> None:
        """Nothing is held."""


class Moments:
    """Draws single frames of a planned timeline, in any order, as the render draws them.

    Keeps the last few pictures open (a scrub stays within a segment or two) and the
    render's decorator; :meth:`close` releases them. Safe to share between threads
    (frames are drawn one at a time).

    Args:
        timeline: From :func:`plan_moments`.
        stills: Decodes the stills and keeps them (shared with the other previews).
    """

    def __init__(self, timeline: Timeline, stills: StillCache) -> None:
        self.timeline = timeline
        self._stills = _CoveredStills(stills)
        self._decorator = Decorator(timeline.project, timeline.story,
                                    *fade_frames(timeline.project))
        self._firsts = [span.first_frame for span in timeline.story.plan.spans]
        self._open: OrderedDict[int, Picture] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def frame(self, index: int) -> NDArray[np.uint8]:
        """Frame ``index`` of the video as an ``(height, width, 3)`` RGB array.

        Raises:
            MediaError: A still, clip, font or logo cannot be read.
        """
        project = self.timeline.project
        spans = self.timeline.story.plan.spans
        if not 0 <= index < self.timeline.total_frames:
            raise IndexError(f"frame {index} is outside the video")
        views: PlaneViews = (np.empty((project.height, project.width), np.uint8),
                             np.empty((project.height // 2, project.width // 2), np.uint8),
                             np.empty((project.height // 2, project.width // 2), np.uint8))
        with self._lock:
            span = spans[max(0, bisect.bisect_right(self._firsts, index) - 1)]
            following = spans[span.index + 1] if span.index + 1 < len(spans) else None
            incoming, scratch = None, None
            if following is not None and index >= following.visible_start:
                incoming = following, self._picture(following.index)
                scratch = scratch_like(views)
            try:
                draw_frame(views, index, span, self._picture(span.index), incoming, scratch)
                if self._decorator.active:
                    self._decorator(index, views)
            finally:
                if self._closed:  # closed while this frame was asked for: hold nothing
                    self._close_pictures()
        return yuv420_to_rgb(*views)

    def _picture(self, position: int) -> Picture:
        """The picture of item ``position``, opened once while it is in use."""
        picture = self._open.get(position)
        if picture is not None:
            self._open.move_to_end(position)
            return picture
        item = self.timeline.story.items[position]
        if item.segment is not None and item.segment in self.timeline.unreadable:
            picture = _Grey()
        else:
            picture = open_picture(self.timeline.project, self.timeline.story, position,
                                   self._stills)
        self._open[position] = picture
        while len(self._open) > _OPEN_PICTURES:
            self._open.popitem(last=False)[1].close()
        return picture

    def close(self) -> None:
        """Close the pictures kept open (decoders of clips); a frame asked for later
        closes what it opened."""
        with self._lock:
            self._closed = True
            self._close_pictures()

    def _close_pictures(self) -> None:
        while self._open:
            self._open.popitem()[1].close()


class KeptMoments:
    """The :class:`Moments` of the last few timelines planned, by a key of what shaped
    them; the least recently used is closed past ``size``. Safe to share between threads.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._kept: OrderedDict[str, Moments] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Moments | None:
        """The moments kept under ``key``, or ``None``."""
        with self._lock:
            moments = self._kept.get(key)
            if moments is not None:
                self._kept.move_to_end(key)
            return moments

    def keep(self, key: str, moments: Moments) -> Moments:
        """Keep ``moments`` under ``key`` and return what is kept there (the first kept
        wins a race; the other is closed)."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                self._kept[key] = kept = moments
            dropped = [self._kept.popitem(last=False)[1]
                       for _ in range(len(self._kept) - self.size)]
        if kept is not moments:
            dropped.append(moments)
        for old in dropped:
            old.close()
        return kept

    def close(self) -> None:
        """Close every kept timeline's pictures."""
        with self._lock:
            dropped = list(self._kept.values())
            self._kept.clear()
        for old in dropped:
            old.close()
