"""What the studio API shows: rows of the store turned into the API's models.

Nothing here changes state; :class:`~storyreel.service.studio.Studio` holds the commands.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

from storyreel.media.audio import SAMPLE_RATE
from storyreel.media.sidecar import THUMBNAIL_SUFFIX, sidecar_path
from storyreel.model.language import DEFAULT_LANGUAGE
from storyreel.service.errors import NotFound
from storyreel.service.etags import etag
from storyreel.service.narration import narration_state
from storyreel.service.options import effective_options, missing_media
from storyreel.service.schemas import (
    AudioOut,
    ChaptersOut,
    ClipOut,
    GalleryItem,
    ImageOut,
    ProblemOut,
    ProjectDetail,
    ProjectSummary,
    SegmentOut,
    StatusOut,
    VideoOut,
)
from storyreel.service.store import JobRow, JobState, ProjectRow, SegmentRow, Store
from storyreel.words import estimated_seconds, phase_words, state_words

__all__ = ["GONE_PROJECT", "Views", "chapter_check", "gone_segment"]

#: A project that is not (or no longer) there, in the creator's words.
GONE_PROJECT = ("This project does not exist: it may have been deleted in another window. "
                "Reload the page to see your projects.")


def gone_segment(project: ProjectRow) -> str:
    """A segment that is not (or no longer) part of the project, in the creator's words."""
    return (f"This segment is no longer part of “{project.title}”: it may have been "
            "deleted in another window. Reload the page to see the story as it is now.")

#: YouTube's chapter rules: how many, and the shortest chapter in seconds.
YOUTUBE_MIN_CHAPTERS = 3
YOUTUBE_MIN_CHAPTER_SECONDS = 10.0


def project_language(options: dict[str, Any]) -> str:
    """The language of a project's text, from its stored options."""
    return str((options.get("settings") or {}).get("language") or DEFAULT_LANGUAGE)


def spoken_seconds(segment: SegmentRow, language: str) -> float:
    """How long the segment's narration lasts: its recording's length, or for a segment
    the voice has not spoken yet, estimated from its words in its own language (else
    ``language``, the project's)."""
    if segment.audio_samples:
        return segment.audio_samples / SAMPLE_RATE
    return estimated_seconds(segment.text, segment.language or language)


def chapter_check(segments: list[SegmentRow], gap: float,
                  language: str = DEFAULT_LANGUAGE) -> ChaptersOut:
    """Whether the segments' chapters will show on YouTube, in words, before any render.

    Start times are estimated from the narrations (from the words, counted in each
    segment's language, for a segment the voice has not spoken yet) and the pause after
    each.
    """
    starts: list[float] = []
    clock = 0.0
    first_at_start = True
    for number, segment in enumerate(segments):
        if segment.chapter and segment.chapter.strip():
            starts.append(clock)
            first_at_start = first_at_start and (len(starts) > 1 or number == 0)
        clock += spoken_seconds(segment, language) + gap
    count = len(starts)
    rule = (f"YouTube shows chapters when there are at least {YOUTUBE_MIN_CHAPTERS}, the "
            f"first starts at 0:00 and each lasts {YOUTUBE_MIN_CHAPTER_SECONDS:g} s or more.")
    if count == 0:
        return ChaptersOut(count=0, ok=False, note="Give a segment a chapter title to mark "
                                                   "where a chapter starts. " + rule)
    lengths = [end - start for start, end in zip(starts, [*starts[1:], clock], strict=True)]
    if count < YOUTUBE_MIN_CHAPTERS:
        note = f"{count} chapter{'s' if count != 1 else ''} so far. {rule}"
    elif not first_at_start:
        note = "The first segment has no chapter title, so the first chapter would not " \
               "start at 0:00. " + rule
    elif min(lengths) < YOUTUBE_MIN_CHAPTER_SECONDS:
        note = f"A chapter lasts only {min(lengths):.0f} s. {rule}"
    else:
        return ChaptersOut(count=count, ok=True, note=f"{count} chapters: YouTube will show "
                                                      "them; paste the list into the "
                                                      "video's description.")
    return ChaptersOut(count=count, ok=False, note=note)


def _chapters_usable(warnings: list[str]) -> bool:
    """False when the render reported a YouTube chapter rule that is not met."""
    return not any(w.startswith("chapters:") and "moved from" not in w for w in warnings)


class Views:
    """Read-only views of one data folder's projects, segments and renders.

    Args:
        store: The database.
        media_root: Folder holding one sub-folder per project.
    """

    def __init__(self, store: Store, media_root: Path) -> None:
        self.store = store
        self.media_root = media_root

    # -- lookups ---------------------------------------------------------------------------

    def folder(self, project_id: int) -> Path:
        """The project's media folder (``images/``, ``audio/``, ``output/`` inside)."""
        return self.media_root / str(project_id)

    def project(self, project_id: int) -> ProjectRow:
        """The project, or :class:`NotFound`."""
        project = self.store.get_project(project_id)
        if project is None:
            raise NotFound(GONE_PROJECT)
        return project

    def segment(self, project_id: int, segment_id: int) -> SegmentRow:
        """The segment of that project, or :class:`NotFound`."""
        project = self.project(project_id)
        segment = self.store.get_segment(project_id, segment_id)
        if segment is None:
            raise NotFound(gone_segment(project))
        return segment

    # -- segments --------------------------------------------------------------------------

    def _media_url(self, project_id: int, segment: SegmentRow, what: str) -> str:
        """The file's address, versioned by the file itself: each upload is stored under a
        new name, so the address changes when the file does and not when the text, the
        focus or the clip's trim do (the page keeps the pictures it has loaded)."""
        kind = "image" if what == "thumbnail" else what
        name = getattr(segment, f"{kind}_file") or ""
        version = hashlib.blake2s(name.encode(), digest_size=6).hexdigest()
        return f"/api/projects/{project_id}/segments/{segment.id}/{what}/?v={version}"

    def segment_out(self, segment: SegmentRow, number: int) -> SegmentOut:
        """A segment as the API shows it."""
        folder = self.folder(segment.project_id)
        image = audio = None
        if segment.image_file and segment.image_width and segment.image_height:
            image = ImageOut(url=self._media_url(segment.project_id, segment, "image"),
                             thumbnail_url=self._media_url(segment.project_id, segment,
                                                           "thumbnail"),
                             width=segment.image_width, height=segment.image_height)
        if segment.audio_file and segment.audio_samples:
            audio = AudioOut(url=self._media_url(segment.project_id, segment, "audio"),
                             duration=round(segment.audio_samples / SAMPLE_RATE, 3))
        video = None
        if segment.video_file and segment.video_width and segment.video_height:
            video = ClipOut(url=self._media_url(segment.project_id, segment, "video"),
                            duration=segment.video_seconds or 0.0, width=segment.video_width,
                            height=segment.video_height,
                            fps=float(Fraction(segment.video_fps or "0")))
        options = self.store.get_project(segment.project_id)
        state = narration_state(segment, options.options if options else {})
        language = project_language(options.options if options else {})
        return SegmentOut(id=segment.id, number=number, text=segment.text,
                          chapter=segment.chapter, image_prompt=segment.image_prompt,
                          image=image, audio=audio, title=segment.title, video=video,
                          clip=segment.clip, focus=segment.focus, language=segment.language,
                          missing=missing_media(segment, folder),
                          narration=state, seconds=round(spoken_seconds(segment, language), 3),
                          etag=etag("s", segment.id, segment.version))

    def segment_view(self, project_id: int, segment_id: int) -> SegmentOut:
        """One segment with its number in the project."""
        for number, segment in enumerate(self.store.segments(project_id), start=1):
            if segment.id == segment_id:
                return self.segment_out(segment, number)
        raise NotFound(gone_segment(self.project(project_id)))

    def segment_list(self, project_id: int) -> list[SegmentOut]:
        """The project's segments in order."""
        segments = self.store.segments(project_id)
        return [self.segment_out(s, n) for n, s in enumerate(segments, start=1)]

    # -- renders ---------------------------------------------------------------------------

    def video(self, job: JobRow, project: ProjectRow) -> VideoOut | None:
        """A finished render as the history shows it (``None`` when its file is gone); of
        a render for several platforms, its first video."""
        return next(iter(self.videos(job, project)), None)

    def videos(self, job: JobRow, project: ProjectRow) -> list[VideoOut]:
        """The videos of a finished render whose files are still there: one, or one per
        platform of a render for several."""
        if job.status != JobState.COMPLETED or not job.output_file:
            return []
        if not job.outputs:
            found = self._video(job, project, job.output_file, None, (job.width, job.height),
                                job.size or 0, captions=bool(job.captions_file))
            return [found] if found is not None else []
        made = (self._video(job, project, str(o["file"]), str(o["platform"]),
                            (int(o["width"]), int(o["height"])), int(o["size"]))
                for o in job.outputs)
        return [video for video in made if video is not None]

    def _video(self, job: JobRow, project: ProjectRow, file: str, platform: str | None,
               size: tuple[int | None, int | None], length: int, *,
               captions: bool | None = None) -> VideoOut | None:
        path = self.folder(job.project_id) / file
        if not path.is_file():
            return None
        if captions is None:
            captions = path.with_suffix(".srt").is_file()
        base = f"/api/renders/{job.id}"
        which = f"?platform={platform}" if platform else ""
        chapters = path.with_suffix(".chapters.txt").is_file() and _chapters_usable(job.warnings)
        return VideoOut(
            job_id=job.id, platform=platform, draft=job.draft, width=size[0], height=size[1],
            size=length, duration=job.duration or 0.0,
            finished_at=job.finished_at or 0.0, video_url=f"{base}/video/{which}",
            download_url=f"{base}/download/{which}",
            poster_url=f"{base}/poster.jpg{which}" if path.with_suffix(".jpg").is_file()
            else None,
            captions_url=f"{base}/captions.srt{which}" if captions else None,
            vtt_url=f"{base}/captions.vtt{which}" if captions else None,
            chapters_url=f"{base}/chapters.txt{which}" if chapters else None,
            thumbnail_url=f"{base}/thumbnail.jpg{which}" if sidecar_path(
                path, THUMBNAIL_SUFFIX).is_file() else None, cut=job.cut,
            warnings=job.warnings,
            stale=job.project_version is not None
            and project.updated_at > job.project_version + 1e-6,
        )

    def history(self, project_id: int) -> list[VideoOut]:
        """Every finished video of the project whose file is still there, newest first
        (a render for several platforms gives one per platform, in its order)."""
        project = self.project(project_id)
        return [video for job in self.store.completed_jobs(project_id)
                for video in self.videos(job, project)]

    def status(self, project_id: int) -> StatusOut:
        """Where the project's latest render stands, with the newest video to show."""
        project = self.project(project_id)
        return self._status(project, self.store.latest_job(project_id))

    def _status(self, project: ProjectRow, job: JobRow | None) -> StatusOut:
        shown = next(iter(self.history(project.id)), None)
        if job is None:
            return StatusOut(project_id=project.id, job_id=None, status="new",
                             state_words=state_words("new"), phase_words="", phase="",
                             percent=0, frames_done=None, frames_total=None, eta=None,
                             rate=None, message=state_words("new"), error=None, problems=None,
                             warnings=[], video_url=None, download_url=None,
                             captions_url=None, chapters_url=None, updated_at=None,
                             video=shown)
        latest = shown if shown is not None and shown.job_id == job.id else None
        exporting = job.phase == "export" or job.status == JobState.COMPLETED
        cancelling = job.cancel_requested and job.status == JobState.PROCESSING
        state = "cancelling" if cancelling else job.status
        return StatusOut(
            project_id=project.id, job_id=job.id, kind=job.kind, status=job.status,
            state_words=phase_words("narrate") if job.kind == "narrate" and job.status ==
            JobState.PROCESSING else state_words(state), phase_words=phase_words(job.phase),
            cancelling=cancelling, draft=job.draft, video=shown,
            phase=job.phase, percent=job.percent,
            frames_done=job.done if exporting else None,
            frames_total=job.total if exporting else None,
            eta=job.eta, rate=job.rate, message=self._message(job, state, shown),
            detail=self._detail(job),
            error=job.error,
            problems=[ProblemOut(**p) for p in job.problems] if job.problems else None,
            warnings=job.warnings, timings=job.timings,
            video_url=latest.video_url if latest else None,
            download_url=latest.download_url if latest else None,
            captions_url=latest.captions_url if latest else None,
            chapters_url=latest.chapters_url if latest else None,
            updated_at=job.updated_at,
        )

    @staticmethod
    def _detail(job: JobRow) -> str:
        """What a render is doing in the engine's words ("Encoding 1 of 7 parts (6 reused)"),
        or what it did once finished; its closing line names only a temporary file."""
        if job.kind != "render" or job.status not in (JobState.PROCESSING, JobState.COMPLETED):
            return ""
        return "" if job.status == JobState.PROCESSING and job.phase == "done" else job.message

    @staticmethod
    def _message(job: JobRow, state: str, shown: VideoOut | None) -> str:
        if job.kind == "narrate":
            return {JobState.COMPLETED: job.message, JobState.FAILED: "The narration could "
                    "not be generated.", JobState.CANCELLED: "Narration stopped.",
                    "cancelling": "Stopping the narration..."}.get(state, phase_words("narrate"))
        kind = "draft" if job.draft else "video"
        if state == JobState.COMPLETED:
            return f"Your {kind} is ready: {job.duration or 0:.1f} s."
        if state == JobState.PROCESSING:
            return phase_words(job.phase)
        if state == JobState.QUEUED:
            return "Waiting for the render before it to finish." if job.attempts == 0 \
                else "Starting again: the studio stopped during the render."
        kept = " Your previous video is kept." if shown is not None else ""
        if state == "cancelling":
            return "Stopping the render..."
        if state == JobState.CANCELLED:
            return "Render stopped." + kept
        return "The video could not be made." + kept

    # -- projects --------------------------------------------------------------------------

    def _summary(self, project: ProjectRow, job: JobRow | None, stats: tuple[int, int],
                 image: tuple[int, str] | None) -> ProjectSummary:
        thumb = None
        if image is not None:
            thumb = f"/api/projects/{project.id}/segments/{image[0]}/thumbnail/"
        video = self.video(job, project) if job else None
        status = job.status if job else "new"
        if job is not None and job.kind == "narrate" and not JobState(job.status).active:
            # A finished narration job says nothing about the video: show the render's state.
            made = self.store.completed_jobs(project.id)
            status, video = ("completed", self.video(made[0], project)) if made else ("new", None)
        return ProjectSummary(
            id=project.id, title=project.title, status=status,
            percent=job.percent if job else 0.0, segments=stats[0],
            duration=round(stats[1] / SAMPLE_RATE, 3), thumbnail_url=thumb,
            video_url=video.video_url if video else None,
            created_at=project.created_at, updated_at=project.updated_at,
        )

    def _summaries(self) -> list[tuple[ProjectRow, ProjectSummary]]:
        jobs = self.store.latest_jobs()
        stats = self.store.segment_stats()
        images = self.store.first_images()
        return [(project, self._summary(project, jobs.get(project.id),
                                        stats.get(project.id, (0, 0)), images.get(project.id)))
                for project in self.store.list_projects()]

    def list_projects(self) -> list[ProjectSummary]:
        """Every project with its status and thumbnail, most recently changed first."""
        return [summary for _, summary in self._summaries()]

    def detail(self, project_id: int) -> ProjectDetail:
        """A project with its ordered segments, options, render status and chapter check."""
        project = self.project(project_id)
        segments = self.store.segments(project_id)
        job = self.store.latest_job(project_id)
        first = next(((s.id, s.image_file) for s in segments if s.image_file), None)
        samples = sum(s.audio_samples or 0 for s in segments)
        summary = self._summary(project, job, (len(segments), samples), first)
        options = effective_options(project.options, self.folder(project_id))
        gap = float((options.get("settings") or {}).get("gap") or 0.0)
        return ProjectDetail(
            **summary.model_dump(), options=options,
            segment_list=[self.segment_out(s, n) for n, s in enumerate(segments, start=1)],
            render=self._status(project, job),
            chapters=chapter_check(segments, gap, project_language(options)),
            etag=etag("p", project.id, project.version),
        )

    def gallery(self) -> list[GalleryItem]:
        """Every finished render whose file is still there, newest first."""
        items = []
        summaries = {project.id: (project, summary) for project, summary in self._summaries()}
        for job in self.store.completed_jobs():
            found = summaries.get(job.project_id)
            videos = self.videos(job, found[0]) if found else []
            if found is None:
                continue
            items += [GalleryItem(
                job_id=job.id, project_id=job.project_id, title=found[1].title,
                video_url=video.video_url, download_url=video.download_url,
                captions_url=video.captions_url,
                thumbnail_url=video.poster_url or found[1].thumbnail_url, size=video.size,
                duration=video.duration, finished_at=video.finished_at, draft=video.draft,
                width=video.width, height=video.height, platform=video.platform)
                for video in videos]
        return items
