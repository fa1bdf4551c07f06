"""The render orchestrator: project -> plan -> frames + narration -> encoder -> verified file."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from storyreel.audio.track import NarrationTrack
from storyreel.errors import RenderCancelled, ValidationFailed
from storyreel.frames.blend import fade_black, smooth
from storyreel.frames.kenburns import Motion, StillPicture, choose_motion
from storyreel.media.audio import SAMPLE_RATE, decode_audio
from storyreel.media.encoder import EncoderSettings, Mp4Encoder, PlaneViews
from storyreel.media.image import even_ceil, load_cover_planes
from storyreel.model.load import problems_from
from storyreel.model.project import Project, Segment
from storyreel.render.frames import Decorate, FrameProducer, Picture
from storyreel.render.output import check_output_dir, publish, sweep_stale, temp_output
from storyreel.render.progress import EXPORT_MESSAGE, ProgressCallback, ProgressReporter
from storyreel.render.verify import Expected, verify_mp4
from storyreel.timeline.plan import Plan, frame_to_sample, plan_timeline
from storyreel.validate import analyse_project

__all__ = ["CancelToken", "RenderResult", "apply_overrides", "default_output", "render", "slugify"]

log = logging.getLogger("storyreel")

DRAFT_HEIGHT = 480
DRAFT_PRESET = "ultrafast"
DRAFT_BITRATE = 1_500_000


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool:
        """True once the render should stop."""
        ...


@dataclass(frozen=True)
class RenderResult:
    """A finished, verified render.

    Attributes:
        path: The published MP4.
        size: File size in bytes.
        duration: Video duration in seconds.
        frames: Number of video frames.
        fps: Exact frame rate.
        warnings: Things the user may want to know (nothing fatal).
    """

    path: Path
    size: int
    duration: float
    frames: int
    fps: Fraction
    warnings: list[str] = field(default_factory=list)

    @property
    def size_mb(self) -> float:
        """File size in megabytes (10^6 bytes)."""
        return self.size / 1_000_000


def _frames(seconds: float, fps: Fraction) -> int:
    return int(Fraction(seconds).limit_denominator(1000) * fps + Fraction(1, 2))


def slugify(title: str) -> str:
    """A file-name-safe slug of a title (``"The Lost City!"`` -> ``"the-lost-city"``)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:80].strip("-") or "story"


def default_output(project: Project) -> Path:
    """``output/<title-slug>.mp4`` beside the manifest."""
    return project.base_dir / "output" / f"{slugify(project.title)}.mp4"


_PROJECT_KEYS = {"width", "height", "fps", "title"}


def apply_overrides(project: Project, overrides: dict[str, Any]) -> Project:
    """Return ``project`` with top-level or settings fields replaced, re-validated.

    ``draft=True`` selects a quick 480p preview at the fastest preset.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    draft = bool(overrides.pop("draft", False))
    if not overrides and not draft:
        return project
    data = project.model_dump()
    settings = data["settings"]
    for key, value in overrides.items():
        if key in _PROJECT_KEYS:
            data[key] = value
        elif key in settings:
            settings[key] = value
        else:
            raise TypeError(f"unknown render option {key!r}")
    if draft:
        height = min(DRAFT_HEIGHT, int(data["height"]))
        data["width"] = max(64, round(int(data["width"]) * height / int(data["height"]) / 2) * 2)
        data["height"] = height
        settings["preset"] = DRAFT_PRESET
        settings["video_bitrate"] = min(DRAFT_BITRATE, int(settings["video_bitrate"]))
    try:
        updated = Project.model_validate(data, context={"base_dir": project.base_dir})
    except ValidationError as exc:
        raise ValidationFailed(problems_from(exc)) from None
    updated._base_dir = project._base_dir
    return updated


def render(
    project: Project,
    output: str | Path | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    **overrides: Any,
) -> RenderResult:
    """Render ``project`` to a verified MP4.

    Args:
        project: A project from :func:`storyreel.load_project` (or built in code).
        output: Target file; default ``output/<title-slug>.mp4`` beside the manifest.
        on_progress: Receives throttled :class:`~storyreel.Progress` updates.
        cancel: Stops the render within a second once ``cancel.is_set()``.
        **overrides: Project fields (``width``, ``height``, ``fps``) or settings
            (``preset``, ``gap``, ...) to change for this render; ``draft=True`` for a
            quick low-resolution preview.

    Returns:
        The published file's :class:`RenderResult`.

    Raises:
        ValidationFailed: The project has problems (all are listed).
        RenderError: Encoding, writing or verification failed; nothing was published.
        RenderCancelled: ``cancel`` was set; nothing was published.
    """
    project = apply_overrides(project, overrides)
    target = Path(output) if output is not None else default_output(project)
    target = target.expanduser().absolute()
    reporter = ProgressReporter(on_progress)
    job = _Job(project, target, reporter, cancel)
    return job.run()


class _Job:
    """One render's state; every resource it opens is closed in ``run``'s ``finally``."""

    def __init__(self, project: Project, target: Path, reporter: ProgressReporter,
                 cancel: CancelToken | None) -> None:
        self.project = project
        self.target = target
        self.reporter = reporter
        self.cancel = cancel or threading.Event()
        self.settings = project.settings

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise RenderCancelled("render cancelled")

    def run(self) -> RenderResult:
        plan = self.analyse()
        check_output_dir(self.target)
        sweep_stale(self.target.parent)
        with temp_output(self.target) as temp:
            self.export(plan, temp)
            self.check_cancel()
            self.reporter.phase("verify", 1, "Verifying output...")
            verified = verify_mp4(temp, Expected(
                self.project.width, self.project.height, self.project.fps,
                plan.total_frames, plan.total_samples, SAMPLE_RATE,
            ))
            self.reporter.update(1)
            self.check_cancel()
            publish(temp, self.target)
        result = RenderResult(self.target, verified.size, float(plan.duration),
                              plan.total_frames, self.project.fps)
        log.info("Rendered %s (%.1f MB, %.2f s)", result.path, result.size_mb, result.duration)
        self.reporter.phase("done", 1, f"Done: {result.path.name}")
        return result

    def analyse(self) -> Plan:
        segments = self.project.segments
        self.reporter.phase("analyse", len(segments), "Checking media...")

        def on_segment(done: int) -> None:
            self.check_cancel()
            self.reporter.update(done)

        analysis = analyse_project(self.project, on_segment)
        if analysis.problems:
            raise ValidationFailed(analysis.problems)
        return self.plan(analysis.narration_samples)

    def plan(self, narrations: list[int]) -> Plan:
        """Timeline with the pauses stretched to hold the transitions."""
        fps, settings = self.project.fps, self.settings
        fades = settings.transitions
        segments = self.project.segments
        crossfades = [0] + [
            _frames(seg.crossfade if seg.crossfade is not None else fades.crossfade, fps)
            for seg in segments[:-1]
        ]
        gaps = [
            max(settings.gap, float(crossfades[i + 1] / fps) if i + 1 < len(segments)
                else fades.fade_out)
            for i in range(len(segments))
        ]
        return plan_timeline(
            narrations, fps=fps, sample_rate=SAMPLE_RATE,
            gap=[round(g * SAMPLE_RATE) for g in gaps],
            lead=round(fades.fade_in * SAMPLE_RATE), crossfade=crossfades,
        )

    def _max_zoom(self, segment: Segment) -> float:
        kb = self.settings.ken_burns
        return segment.zoom if segment.zoom is not None else kb.zoom

    def motion(self, index: int) -> Motion:
        kb = self.settings.ken_burns
        segment = self.project.segments[index]
        return choose_motion(
            index, zoom=self._max_zoom(segment), direction=segment.direction or kb.direction,
            pan=kb.pan, eased=kb.easing == "ease-in-out",
        )

    def load_picture(self, index: int) -> Picture:
        segment = self.project.segments[index]
        motion = self.motion(index)
        zoom = 1.0 if motion.static else self._max_zoom(segment)
        width = even_ceil(self.project.width * zoom)
        height = even_ceil(self.project.height * zoom)
        return StillPicture(load_cover_planes(segment.image, width, height, index + 1), motion)

    def decorate(self, plan: Plan) -> Decorate | None:
        fades = self.settings.transitions
        fade_in = _frames(fades.fade_in, plan.fps)
        fade_out = _frames(fades.fade_out, plan.fps)
        total = plan.total_frames
        if not fade_in and not fade_out:
            return None

        def draw(frame_index: int, views: PlaneViews) -> None:
            level = 1.0
            if frame_index < fade_in:
                level = smooth((frame_index + 1) / (fade_in + 1))
            if total - frame_index <= fade_out:
                level = min(level, smooth((total - frame_index - 1) / (fade_out + 1)))
            fade_black(views, level)

        return draw

    def load_narration(self, index: int) -> Any:
        return decode_audio(self.project.segments[index].audio, index + 1)

    def export(self, plan: Plan, temp: Path) -> None:
        project, settings = self.project, self.settings
        enc_settings = EncoderSettings(
            project.width, project.height, project.fps, settings.preset,
            settings.video_bitrate, settings.audio_bitrate, SAMPLE_RATE,
        )
        track = NarrationTrack(plan, self.load_narration)
        self.reporter.phase("export", plan.total_frames, EXPORT_MESSAGE)
        with Mp4Encoder(temp, enc_settings) as encoder, FrameProducer(
            plan, self.load_picture, encoder.new_frame, self.decorate(plan)
        ) as producer:
            for frame in producer.frames(poll=self.check_cancel):
                self.check_cancel()
                encoder.write_video(frame)
                done = encoder.frames_written
                encoder.write_audio(track.read_until(frame_to_sample(done, plan.fps, SAMPLE_RATE)))
                self.reporter.update(done)
            encoder.write_audio(track.read_until(plan.total_samples))
            encoder.finish()
