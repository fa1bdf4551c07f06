"""A story's plan as an OpenTimelineIO timeline, written by the adapter of each format.

Every cut is a frame of the render's own plan: a clip per item lasting its span's
``frames`` (so the cuts fall on each span's ``first_frame``), a crossfade as an OTIO
transition ending on the cut (storyreel fades the next picture in over the silence
before its narration; the incoming clip's media starts that many frames before its cut,
as the render draws it), narrations placed on the frame of their first sample and
lasting up to the first frame after their last sample (the plan starts the next
narration no earlier), the music under the whole story, chapters as markers.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, assert_never

import opentimelineio as otio
from PIL import ImageColor

from storyreel.errors import ProjectError, RenderError, ValidationFailed, output_error
from storyreel.export.editors import fcpxml_pass, kdenlive_pass, media_start, teach_fcpx_writer
from storyreel.media.files import check_output_file, copy_file_atomic
from storyreel.media.sidecar import format_srt, sidecar_path, write_text_atomic
from storyreel.model.project import Project
from storyreel.model.visual import Card, Still, Video
from storyreel.render.analysis import analyse_project
from storyreel.render.pipeline import check_not_input
from storyreel.render.sidecars import caption_cues
from storyreel.timeline.plan import SAMPLE_RATE, Plan, ceil_frame, sample_to_frame
from storyreel.timeline.story import Item, Story, build_story
from storyreel.voice.narrate import Narrator, narrate_project

__all__ = ["FORMATS", "ExportResult", "export_project", "story_timeline"]

#: Export formats and the OpenTimelineIO adapter that writes each.
FORMATS: dict[str, str] = {
    "otio": "otio_json",
    "fcpxml": "fcpx_xml",
    "kdenlive": "kdenlive",
    "edl": "cmx_3600",
}


@dataclass(frozen=True)
class ExportResult:
    """A written timeline.

    Attributes:
        path: The timeline file.
        format: Its format (a key of :data:`FORMATS`).
        frames: Length of the timeline in frames (the render's ``total_frames``).
        fps: Exact frame rate.
        clips: Clips on the picture track (one per item of the story).
        captions: The SRT written beside it (``None`` when the story has no captions).
        warnings: What the format could not carry.
    """

    path: Path
    format: str
    frames: int
    fps: Fraction
    clips: int
    captions: Path | None = None
    warnings: list[str] = field(default_factory=list)


def export_project(project: Project, output: str | Path, fmt: str, *, relative: bool = False,
                   narrator: Narrator | None = None) -> ExportResult:
    """Write ``project`` as an editable timeline in format ``fmt``, captions beside it.

    Narrations the project leaves to the voice are spoken first (as a render would) and
    copied beside the timeline (``<name>.narration/NNN.wav``), so every audio reference
    resolves for as long as the timeline is kept.

    Args:
        project: A project from :func:`storyreel.load_project`.
        output: The timeline file to write.
        fmt: ``otio``, ``fcpxml``, ``kdenlive`` or ``edl``.
        relative: Media paths relative to the timeline's folder (default absolute).
        narrator: Speaks the segments that have text but no recording.

    Raises:
        ProjectError: Unknown format.
        ValidationFailed: The project has problems (all are listed), or the timeline or
            its captions would replace one of its inputs.
        RenderError: The format cannot carry this timeline; nothing was written.
        OutputError: The file cannot be written.
    """
    if fmt not in FORMATS:
        raise ProjectError(f"unknown export format {fmt!r}: choose one of "
                           f"{', '.join(FORMATS)}")
    target = Path(output).expanduser().absolute()
    check_output_file(target)
    check_not_input(project, target)
    with narrate_project(project, narrator) as narrated:
        spoken = narrated.project
        captions = spoken.settings.subtitles
        analysis = analyse_project(spoken, speech=captions.enabled or captions.sidecar,
                                   words=narrated.words)
        if analysis.problems:
            raise ValidationFailed(analysis.problems)
        story = build_story(spoken, analysis)
        kept = _keep_narrations(spoken, narrated.synthesised, target)
    timeline = story_timeline(spoken, story, base=target.parent if relative else None,
                              narrations=kept, **_SHAPES.get(fmt, {}))
    if fmt == "fcpxml":
        teach_fcpx_writer(story.plan.fps)
    text = _adapter_text(timeline, fmt)
    if fmt == "kdenlive":
        text = kdenlive_pass(text, spoken, story)
    elif fmt == "fcpxml":
        text = fcpxml_pass(text, spoken, story)
    write_text_atomic(target, text)
    srt = sidecar_path(target, ".srt")
    if story.captions:
        write_text_atomic(srt, format_srt(caption_cues(story)[0]))
    else:  # an earlier export's captions would no longer match the timeline
        try:
            srt.unlink(missing_ok=True)
        except OSError as exc:
            raise output_error(exc, srt) from exc
    return ExportResult(target, fmt, story.plan.total_frames, story.plan.fps,
                        len(story.items), srt if story.captions else None,
                        _limits(fmt, story, spoken.settings.background))


#: What a format's adapter cannot take, shaped out before it writes: the FCP X writer
#: has no generators (a card becomes a gap named by its title, which
#: :func:`~storyreel.export.editors.fcpxml_pass` makes a Basic Title), drops transitions
#: and misplaces what is anchored to a clip starting into its media (off the frame grid
#: at 29.97 fps), so the pass adds the crossfades; the EDL writer has no generators
#: either (its cards are black gaps, without dissolves).
_SHAPES: dict[str, dict[str, bool]] = {
    "fcpxml": {"cards_as_gaps": True, "transitions": False},
    "edl": {"cards_as_gaps": True},
}


def story_timeline(project: Project, story: Story, *, base: Path | None = None,
                   narrations: Mapping[int, Path] | None = None, cards_as_gaps: bool = False,
                   transitions: bool = True) -> Any:
    """The story as an ``opentimelineio.schema.Timeline`` at the project's frame rate.

    Args:
        project: The project the story was planned from (narrations in place).
        story: Its plan from :func:`~storyreel.timeline.story.build_story`.
        base: Write media paths relative to this folder (default: absolute).
        narrations: Narration files to use instead of the project's, by 0-based segment.
        cards_as_gaps: Title cards as gaps named by their title (for writers without
            generators), crossfades into and out of them cuts; otherwise solid-colour
            generators.
        transitions: Crossfades as dissolves, the incoming clip's media starting under
            them (otherwise cuts).
    """
    plan = story.plan
    rate = float(plan.fps)
    timeline = otio.schema.Timeline(name=project.title)
    timeline.global_start_time = otio.opentime.RationalTime(0, rate)
    timeline.tracks.append(_picture_track(project, story, rate, base,
                                          cards_as_gaps=cards_as_gaps,
                                          transitions=transitions))
    timeline.tracks.append(_narration_track(project, story, rate, base, narrations or {}))
    if project.settings.music is not None:
        timeline.tracks.append(_music_track(project.settings.music.path, plan, rate, base))
    for chapter in story.chapters:
        timeline.tracks.markers.append(otio.schema.Marker(
            name=chapter.title, marked_range=_range(chapter.start, 0, rate),
            color=otio.schema.MarkerColor.GREEN))
    return timeline


def _range(start: int, frames: int, rate: float) -> Any:
    return otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate),
                                   otio.opentime.RationalTime(frames, rate))


def _reference(path: Path, frames: int, rate: float, base: Path | None, start: int = 0) -> Any:
    path = path.expanduser().absolute()
    url = os.path.relpath(path, base) if base is not None else path.as_uri()
    return otio.schema.ExternalReference(target_url=url,
                                         available_range=_range(start, frames, rate))


def _picture_track(project: Project, story: Story, rate: float, base: Path | None, *,
                   cards_as_gaps: bool, transitions: bool) -> Any:
    track = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    for item, span in zip(story.items, story.plan.spans, strict=True):
        if cards_as_gaps and isinstance(item.visual, Card):
            track.append(otio.schema.Gap(name=item.visual.title or _item_name(item),
                                         source_range=_range(0, span.frames, rate)))
            continue
        # a dissolve out of a gap would be read as one from the picture before the gap
        after_gap = len(track) > 0 and isinstance(track[-1], otio.schema.Gap)
        lead = span.crossfade if transitions and not after_gap else 0
        if lead:
            track.append(otio.schema.Transition(
                name="crossfade", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                in_offset=otio.opentime.RationalTime(lead, rate),
                out_offset=otio.opentime.RationalTime(0, rate)))
        track.append(_picture(project, item, span.frames, lead, rate, base))
    return track


def _picture(project: Project, item: Item, frames: int, lead: int, rate: float,
             base: Path | None) -> Any:
    """The clip of one item, its media starting ``lead`` frames before its cut: the
    render shows those frames under the crossfade that ends on the cut, so the picture
    at the cut is its ``lead``-th (a still's motion, a video's frame)."""
    visual = item.visual
    name = _item_name(item)
    if isinstance(visual, Still):
        reference = _reference(visual.image, lead + frames, rate, base)
        return otio.schema.Clip(name=name, media_reference=reference,
                                source_range=_range(lead, frames, rate))
    if isinstance(visual, Video):
        start = media_start(visual, project.fps)
        reference = _reference(visual.video, lead + frames, rate, base, start)
        return otio.schema.Clip(name=name, media_reference=reference,
                                source_range=_range(start + lead, frames, rate),
                                metadata={"storyreel": {"fit": visual.clip.fit,
                                                        "crop": visual.clip.crop}})
    if isinstance(visual, Card):
        reference = otio.schema.GeneratorReference(
            name=visual.title or "card", generator_kind="SolidColor",
            parameters={"color": project.settings.background},
            available_range=_range(0, lead + frames, rate))
        return otio.schema.Clip(name=visual.title or name, media_reference=reference,
                                source_range=_range(lead, frames, rate))
    assert_never(visual)


def _item_name(item: Item) -> str:
    if item.segment is None:
        return item.kind
    return f"segment {item.segment + 1}"


def _narration_track(project: Project, story: Story, rate: float, base: Path | None,
                     narrations: Mapping[int, Path]) -> Any:
    plan = story.plan
    track = otio.schema.Track(name="Narration", kind=otio.schema.TrackKind.Audio)
    cursor = 0
    for index, segment in enumerate(project.segments):
        span = plan.spans[story.item_span_of_segment(index)]
        if segment.audio is None or span.narration == 0:
            continue
        start = sample_to_frame(span.audio_start, plan.fps, SAMPLE_RATE)
        frames = ceil_frame(span.narration_end, plan.fps, SAMPLE_RATE) - start
        if start > cursor:
            track.append(otio.schema.Gap(source_range=_range(0, start - cursor, rate)))
        track.append(otio.schema.Clip(
            name=f"narration {index + 1}",
            media_reference=_reference(narrations.get(index, segment.audio), frames, rate,
                                       base),
            source_range=_range(0, frames, rate)))
        cursor = start + frames
    if cursor < plan.total_frames:
        track.append(otio.schema.Gap(source_range=_range(0, plan.total_frames - cursor, rate)))
    return track


def _music_track(path: Path, plan: Plan, rate: float, base: Path | None) -> Any:
    track = otio.schema.Track(name="Music", kind=otio.schema.TrackKind.Audio)
    track.append(otio.schema.Clip(name="music",
                                  media_reference=_reference(path, plan.total_frames, rate,
                                                             base),
                                  source_range=_range(0, plan.total_frames, rate)))
    return track


def _keep_narrations(project: Project, synthesised: Sequence[int],
                     target: Path) -> dict[int, Path]:
    """Copy the spoken narrations beside the timeline (``<name>.narration/NNN.wav``): the
    narration cache may trim its entries at any time, the editor's project must not lose
    them."""
    if not synthesised:
        return {}
    folder = target.with_name(f"{target.stem}.narration")
    kept: dict[int, Path] = {}
    for index in synthesised:
        audio = project.segments[index].audio
        assert audio is not None  # narrate_project gave it a file
        kept[index] = copy_file_atomic(audio, folder / f"{index + 1:03d}.wav")
    return kept


def _adapter_text(timeline: Any, fmt: str) -> str:
    """The timeline in ``fmt``; the adapters' own printing is kept off the console."""
    try:
        with _quiet():
            text: str = otio.adapters.write_to_string(timeline, adapter_name=FORMATS[fmt])
    except Exception as exc:  # the adapters raise what they meet (ValueError, KeyError, ...)
        raise RenderError(f"the {fmt} format cannot carry this timeline: {exc}") from exc
    return text


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _limits(fmt: str, story: Story, background: str) -> list[str]:
    """What the format leaves out of this story (said, not silently dropped)."""
    warnings = _edl_limits(story) if fmt == "edl" else []
    if fmt in ("otio", "edl"):
        warnings.append("Ken Burns motion is not in the timeline: stills are placed static")
    cards = any(isinstance(item.visual, Card) for item in story.items)
    if cards and fmt == "fcpxml" and ImageColor.getrgb(background)[:3] != (0, 0, 0):
        warnings.append("title cards are over black in the FCPXML file (their titles are "
                        "Basic Titles; the background colour is not carried)")
    return warnings


def _edl_limits(story: Story) -> list[str]:
    warnings: list[str] = []
    if any(span.crossfade and any(isinstance(i.visual, Card) for i in (before, item))
           for before, item, span in zip(story.items, story.items[1:], story.plan.spans[1:],
                                         strict=False)):
        warnings.append("crossfades into and out of title cards are cuts in the EDL (its "
                        "cards are black gaps)")
    if story.chapters:
        warnings.append("chapters are not in the EDL (its writer has no markers)")
    warnings.append("the EDL holds the picture only (its writer leaves out the sound)")
    return warnings
