"""The public entry point: ``render(project, output, ...)`` and its result."""

from __future__ import annotations

import logging
import os
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyreel.errors import (
    PlatformFailed,
    Problem,
    RenderCancelled,
    StoryreelError,
    ValidationFailed,
)
from storyreel.media.files import check_output_file
from storyreel.media.sidecar import sidecar_path
from storyreel.model.load import problems_from
from storyreel.model.platforms import PlatformName
from storyreel.model.project import Project
from storyreel.render.cache import CACHE_DIR_NAME, DEFAULT_MAX_BYTES, PartCache
from storyreel.render.job import Job, JobOutcome, SharedSound
from storyreel.render.parts import PartDispatcher, machine_cores, workers_for
from storyreel.render.progress import (
    NARRATE_MESSAGE,
    CancelToken,
    ProgressCallback,
    ProgressReporter,
)
from storyreel.render.sidecars import SIDECAR_SUFFIXES
from storyreel.timeline.story import Story
from storyreel.timeline.words import WordTimings
from storyreel.voice.narrate import Narrator, narrate_project

__all__ = [
    "CancelToken",
    "RenderResult",
    "RenderedVideo",
    "apply_overrides",
    "check_not_input",
    "default_cache",
    "default_output",
    "output_targets",
    "render",
    "slugify",
    "written_files",
]

log = logging.getLogger("storyreel")

DRAFT_HEIGHT = 480
DRAFT_PRESET = "ultrafast"
DRAFT_BITRATE = 1_500_000


@dataclass(frozen=True)
class RenderedVideo:
    """One video a render published (a render for several platforms makes one each).

    Attributes:
        platform: Its platform preset (``None`` without one).
        path: The published MP4.
        width: Its width in pixels.
        height: Its height in pixels.
        size: File size in bytes.
        duration: Video duration in seconds.
        sidecars: Caption and chapter files written beside it.
    """

    platform: PlatformName | None
    path: Path
    width: int
    height: int
    size: int
    duration: float
    sidecars: list[Path] = field(default_factory=list)


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
        sidecars: Caption (``.srt``, ``.vtt``) and chapter files written beside the video.
        loudness_before: Integrated loudness of the mix before normalisation, in LUFS.
        loudness: Integrated loudness of the published sound track, in LUFS, read back
            from the file (``None`` when loudness normalisation is off).
        true_peak: True peak of the published sound track, in dBTP (likewise).
        chunks_encoded: Parts of the picture encoded by this render.
        chunks_reused: Parts taken unchanged from the part cache.
        words: When each written word is spoken, per segment, in samples at 48 kHz
            from the start of that segment's narration (empty when captions are off).
        narration_starts: Where each segment's narration starts in the video, in
            samples at 48 kHz (add it to a word's samples for its time in the video).
        synthesised: 0-based segments whose narration was spoken from their text.
        videos: Every video published, with its platform and size: one, or one per
            platform of ``settings.platforms`` (``path``, ``size`` and ``sidecars``
            above are then the first one's; the parts counts cover them all).
        timings: Seconds each step of the render took (``narrate``, ``analyse``,
            ``loudness``, ``sound``, ``parts``, ``assemble``, ``verify``, ``publish``;
            the sound track is made while the parts are encoded, so the two overlap;
            summed over the videos of several platforms).
    """

    path: Path
    size: int
    duration: float
    frames: int
    fps: Fraction
    warnings: list[str] = field(default_factory=list)
    sidecars: list[Path] = field(default_factory=list)
    loudness_before: float | None = None
    loudness: float | None = None
    true_peak: float | None = None
    chunks_encoded: int = 0
    chunks_reused: int = 0
    words: list[WordTimings] = field(default_factory=list)
    narration_starts: list[int] = field(default_factory=list)
    synthesised: list[int] = field(default_factory=list)
    videos: list[RenderedVideo] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def size_mb(self) -> float:
        """File size in megabytes (10^6 bytes)."""
        return self.size / 1_000_000


def slugify(title: str) -> str:
    """A file-name-safe slug of a title (``"The Lost City!"`` -> ``"the-lost-city"``)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:80].strip("-") or "story"


def default_output(project: Project, *, draft: bool = False) -> Path:
    """``output/<title-slug>.mp4`` beside the manifest (``<slug>.draft.mp4`` for drafts)."""
    suffix = ".draft.mp4" if draft else ".mp4"
    return project.base_dir / "output" / f"{slugify(project.title)}{suffix}"


def default_cache(project: Project) -> PartCache:
    """The part cache the command line uses: ``.storyreel-cache/`` beside the manifest.

    Its size cap is ``STORYREEL_CACHE_GB`` gigabytes (default 4).
    """
    wanted = os.environ.get("STORYREEL_CACHE_GB", "").strip()
    try:
        cap = int(float(wanted) * 1e9) if wanted else DEFAULT_MAX_BYTES
    except ValueError:
        log.warning("STORYREEL_CACHE_GB=%r is not a number: ignored", wanted)
        cap = DEFAULT_MAX_BYTES
    return PartCache(project.base_dir / CACHE_DIR_NAME, cap)


_PROJECT_KEYS = {"width", "height", "fps", "title"}


def apply_overrides(project: Project, overrides: dict[str, Any]) -> Project:
    """Return ``project`` with top-level or settings fields replaced, re-validated.

    Nested settings given as dicts are merged (``subtitles={"enabled": False}``);
    ``draft=True`` selects a quick 480p preview at the fastest preset; ``platform``
    replaces the size, frame rate and bitrate with the platform's unless they are
    overridden too.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    draft = bool(overrides.pop("draft", False))
    if not overrides and not draft:
        return project
    data = project.model_dump()
    settings = data["settings"]
    chosen = [key for key in ("platform", "platforms") if overrides.get(key) is not None]
    if chosen:
        # A platform chosen for this render brings its own size, rate and bitrate,
        # unless this render also sets them; it replaces the project's platform(s).
        for key in ("width", "height", "fps"):
            data.pop(key, None)
        settings.pop("video_bitrate", None)
        settings["subtitles"].pop("size", None)
        settings["platform" if chosen == ["platforms"] else "platforms"] = None
    for key, value in overrides.items():
        if key in _PROJECT_KEYS:
            data[key] = value
        elif key in settings:
            current = settings[key]
            # Nested options merge: subtitles={"enabled": False} keeps the other fields.
            settings[key] = {**current, **value} if isinstance(current, dict) and isinstance(
                value, dict) else value
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
        raise ValidationFailed(problems_from(exc)) from exc
    updated._base_dir = project._base_dir
    updated._manifest = project._manifest
    return updated


def output_targets(project: Project, target: Path) -> list[tuple[PlatformName | None, Path]]:
    """Each video a render of ``project`` to ``target`` writes, with its platform.

    One video: ``target`` itself. Several platforms: ``<stem>-<platform>.mp4`` beside it
    for each (``story.mp4`` gives ``story-youtube.mp4``, ``story-shorts.mp4``...).
    """
    names = project.settings.outputs
    if not names:
        return [(project.settings.platform or _only(project.settings.platforms), target)]
    return [(name, target.with_name(f"{target.stem}-{name}{target.suffix}")) for name in names]


def _only(names: Sequence[PlatformName] | None) -> PlatformName | None:
    return names[0] if names else None


def written_files(target: Path) -> list[Path]:
    """The files a render to ``target`` may write: the video and the sidecars beside it."""
    return [target, *(sidecar_path(target, suffix) for suffix in SIDECAR_SUFFIXES)]


def check_not_input(project: Project, target: Path) -> None:
    """Refuse an output (or a caption file beside it) that would replace one of the inputs.

    Raises:
        ValidationFailed: Naming the input the output would overwrite.
    """
    written = written_files(target)
    for source in project.input_files():
        for path in written:
            if _same_file(source, path):
                raise ValidationFailed([Problem(
                    f"would overwrite {source}, an input of the project; choose another output",
                    path=path, field="output")])


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (yet)
        return a.expanduser().absolute() == b.expanduser().absolute()


def render(
    project: Project,
    output: str | Path | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    cache: PartCache | bool = True,
    parts: PartDispatcher | None = None,
    narrator: Narrator | None = None,
    **overrides: Any,
) -> RenderResult:
    """Render ``project`` to a verified MP4.

    Args:
        project: A project from :func:`storyreel.load_project` (or built in code).
        output: Target file; default ``output/<title-slug>.mp4`` beside the manifest.
        on_progress: Receives throttled :class:`~storyreel.Progress` updates.
        cancel: Stops the render within a second once ``cancel.is_set()``.
        cache: Where encoded parts are kept, so the next render re-encodes only what
            changed: ``True`` for ``.storyreel-cache/`` beside the manifest, a
            :class:`~storyreel.PartCache`, or ``False`` for none.
        parts: Encodes the parts elsewhere, e.g. ``storyreel.distributed.RemoteParts``
            (workers through Redis); the sound track, the joining and the checks stay here.
        narrator: Speaks the segments that have text but no recording (default: in this
            process, through the user's narration cache); e.g. a
            :class:`~storyreel.voice.narrate.Narrator` with a shared cache and a
            ``storyreel.distributed.RemoteSpeaker`` to speak them on workers.
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
    draft = bool(overrides.get("draft"))
    project = apply_overrides(project, overrides)
    target = Path(output) if output is not None else default_output(project, draft=draft)
    targets = output_targets(project, target.expanduser().absolute())
    for platform, path in targets:
        _named(platform, len(targets), check_not_input, project, path)
        _named(platform, len(targets), check_output_file, path)  # before narration
    reporter = ProgressReporter(on_progress)
    store = default_cache(project) if cache is True else cache or None

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise RenderCancelled("render cancelled")

    started = time.perf_counter()
    with narrate_project(project, narrator,
                         on_start=lambda n: reporter.phase("narrate", n, NARRATE_MESSAGE),
                         on_segment=reporter.update, cancel=check_cancel) as narrated:
        said = time.perf_counter() - started
        spoken = narrated.project
        first = Job(_for(spoken, targets[0][0]), targets[0][1], reporter, cancel,
                    narrated.words, cache=store, workers=_workers(), parts=parts, draft=draft)
        outcomes = _write_all(first, first.prepare(), spoken, targets)
    result = _result(project, narrated.warnings, list(narrated.synthesised), outcomes, said)
    log.info("Rendered %s (%.1f MB, %.2f s; %d parts encoded, %d reused)",
             ", ".join(str(v.path) for v in result.videos), result.size_mb, result.duration,
             result.chunks_encoded, result.chunks_reused)
    reporter.output("", 0, 1)
    reporter.phase("done", 1, f"Done: {', '.join(v.path.name for v in result.videos)}")
    reporter.update(1, force=True)
    return result


def _for(project: Project, platform: PlatformName | None) -> Project:
    """The project as rendered for ``platform`` (as it is without one)."""
    if platform is None or not project.settings.platforms:
        return project
    return project.for_platform(platform)


def _named(platform: PlatformName | None, count: int, check: Callable[..., None],
           *args: Any) -> None:
    """Run ``check``; with several videos, a failure names the platform."""
    try:
        check(*args)
    except StoryreelError as exc:
        if count == 1 or platform is None:
            raise
        raise PlatformFailed(platform, exc, []) from exc


@dataclass(frozen=True)
class _Written:
    platform: PlatformName | None
    job: Job
    outcome: JobOutcome

    def video(self) -> RenderedVideo:
        o, project = self.outcome, self.job.project
        return RenderedVideo(self.platform, self.job.target, project.width, project.height,
                             o.verified.size, float(o.story.plan.duration), list(o.sidecars))


def _write_all(first: Job, story: Story, project: Project,
               targets: list[tuple[PlatformName | None, Path]]) -> list[_Written]:
    """Write every video of ``story``: one, or one per platform sharing one sound track.

    A video that fails stops the render; the ones published before it stay.
    """
    if len(targets) == 1:
        return [_Written(targets[0][0], first, first.write(story))]
    outcomes: list[_Written] = []
    with first.workspace() as folder:
        shared = SharedSound(folder)
        for number, (platform, path) in enumerate(targets):
            assert platform is not None  # several videos are several platforms
            job = first if number == 0 else first.sibling(_for(project, platform), path)
            first.reporter.output(platform, number, len(targets))
            try:
                outcomes.append(_Written(platform, job, job.write(story, shared)))
                # The first video found the words its analysis left for later: the
                # others are drawn from its complete story.
                story = outcomes[0].outcome.story
            except RenderCancelled as exc:
                if not outcomes:
                    raise
                raise RenderCancelled(kept=[w.job.target for w in outcomes]) from exc
            except StoryreelError as exc:
                finished = [w.job.target for w in outcomes]
                raise PlatformFailed(platform, exc, finished) from exc
    return outcomes


def _result(project: Project, warnings: list[str], synthesised: list[int],
            written: list[_Written], narrating: float = 0.0) -> RenderResult:
    """The result of a render from what each of its videos' jobs made (``narrating``:
    seconds spent speaking first)."""
    videos = [w.video() for w in written]
    outcomes = [w.outcome for w in written]
    outcome = outcomes[0]
    story = outcome.story
    plan = story.plan
    for other in outcomes:
        warnings = warnings + list(other.warnings)
    return RenderResult(
        videos[0].path, videos[0].size, float(plan.duration), plan.total_frames, project.fps,
        list(dict.fromkeys(warnings)), list(outcome.sidecars),
        outcome.loudness[0] if outcome.loudness else None,
        outcome.loudness_after[0] if outcome.loudness_after else None,
        outcome.loudness_after[1] if outcome.loudness_after else None,
        sum(o.parts_encoded for o in outcomes), sum(o.parts_reused for o in outcomes),
        list(outcome.words),
        [plan.spans[story.item_span_of_segment(i)].audio_start
         for i in range(len(project.segments))],
        synthesised, videos, _timings(narrating, outcomes),
    )


def _timings(narrating: float, outcomes: list[JobOutcome]) -> dict[str, float]:
    """Seconds per step, summed over the videos' jobs."""
    timings = {"narrate": narrating}
    for outcome in outcomes:
        for step, seconds in outcome.timings:
            timings[step] = timings.get(step, 0.0) + seconds
    return timings


def _workers() -> int:
    """Encoders to run side by side: ``STORYREEL_WORKERS``, else what the machine allows."""
    wanted = os.environ.get("STORYREEL_WORKERS", "").strip()
    if wanted:
        if wanted.isdigit() and int(wanted) > 0:
            return int(wanted)
        log.warning("STORYREEL_WORKERS=%r is not a positive number: ignored", wanted)
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return workers_for(machine_cores(), free)
