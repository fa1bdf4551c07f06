"""The studio's operations: what the routes do, independent of HTTP.

:class:`Studio` ties the store, the media folders and the dispatcher together and
turns rows into API models. Errors are raised as :class:`StudioError` with an HTTP
status and a sentence for the creator; the app maps them to JSON answers.
"""

from __future__ import annotations

import io
import logging
import secrets
import threading
import time
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

from PIL import Image
from pydantic import ValidationError

from storyreel.errors import ManifestError, MediaError, Problem, ValidationFailed
from storyreel.media.audio import SAMPLE_RATE
from storyreel.model.load import (
    MAX_MANIFEST_BYTES,
    parse_json,
    problems_from,
    project_from_dict,
)
from storyreel.model.project import MAX_SEGMENTS
from storyreel.render.pipeline import slugify
from storyreel.render.preview import SAMPLE_CAPTION, caption_preview
from storyreel.service import uploads
from storyreel.service.importers import (
    ImportFailed,
    ParsedProject,
    check_directory,
    detect_kind,
    parse_storyflow,
    parse_text_blocks,
    read_bundle,
    read_capped,
)
from storyreel.service.jobs import CANCEL_GRACE, Dispatcher
from storyreel.service.narration import narration_state, targets_for
from storyreel.service.options import (
    asset_settings,
    build_manifest,
    effective_options,
    merge_options,
    missing_media,
    render_problems,
)
from storyreel.service.schemas import (
    AudioOut,
    GalleryItem,
    ImageOut,
    ProblemOut,
    ProjectCreate,
    ProjectDetail,
    ProjectSummary,
    SegmentOut,
    StatusOut,
    UploadOut,
)
from storyreel.service.store import ActiveJobExists, JobRow, ProjectRow, SegmentRow, Store

__all__ = ["VOICE_SAMPLE", "Studio", "StudioError"]

#: What the "listen" button says.
VOICE_SAMPLE = "Once upon a time, in a valley far away, a story began."

log = logging.getLogger("storyreel.service")


class StudioError(Exception):
    """A request the studio refuses: ``status`` is the HTTP status, the message is for people."""

    def __init__(self, status: int, message: str, problems: list[ProblemOut] | None = None,
                 **extra: Any) -> None:
        self.status = status
        self.problems = problems
        self.extra = extra
        super().__init__(message)


def _problem_out(problem: Problem, segments: list[SegmentRow] | None = None) -> ProblemOut:
    segment_id = None
    if segments and problem.segment is not None and 0 < problem.segment <= len(segments):
        segment_id = segments[problem.segment - 1].id
    return ProblemOut(message=problem.message, segment=problem.segment, segment_id=segment_id,
                      field=problem.field)


def _invalid(exc: ValidationFailed, message: str = "Some options are not valid.") -> StudioError:
    return StudioError(400, message, [_problem_out(p) for p in exc.problems])


class Studio:
    """Projects, segments, uploads and renders of one data folder.

    Args:
        data_dir: Holds ``studio.db`` and ``projects/<id>/{images,audio,output}``.
        store: The database.
        dispatcher: Runs the render jobs.
        limits: Upload caps.
    """

    def __init__(self, data_dir: Path, store: Store, dispatcher: Dispatcher,
                 limits: uploads.Limits) -> None:
        self.data_dir = data_dir
        self.media_root = data_dir / "projects"
        self.store = store
        self.dispatcher = dispatcher
        self.limits = limits
        self._media_lock = threading.Lock()  # swaps of a file setting or segment media

    # -- folders and lookups ---------------------------------------------------------------

    def folder(self, project_id: int) -> Path:
        """The project's media folder (``images/``, ``audio/``, ``output/`` inside)."""
        return self.media_root / str(project_id)

    def _make_folders(self, project_id: int) -> None:
        for name in ("images", "audio", "output"):
            (self.folder(project_id) / name).mkdir(parents=True, exist_ok=True)

    def project(self, project_id: int) -> ProjectRow:
        """The project, or a 404."""
        project = self.store.get_project(project_id)
        if project is None:
            raise StudioError(404, f"Project {project_id} does not exist.")
        return project

    def segment(self, project_id: int, segment_id: int) -> SegmentRow:
        """The segment of that project, or a 404."""
        self.project(project_id)
        segment = self.store.get_segment(project_id, segment_id)
        if segment is None:
            raise StudioError(404, f"Segment {segment_id} is not part of project {project_id}.")
        return segment

    def _not_rendering(self, project_id: int, action: str) -> None:
        job = self.store.active_job(project_id)
        if job is not None and job.status == "processing":
            raise StudioError(409, f"A render of this project is running; cancel it or wait "
                                   f"for it to finish before you {action}.", job_id=job.id)

    # -- views -----------------------------------------------------------------------------

    def _media_url(self, project_id: int, segment: SegmentRow, what: str) -> str:
        return (f"/api/projects/{project_id}/segments/{segment.id}/{what}/"
                f"?v={int(segment.updated_at * 1000)}")

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
        options = self.store.get_project(segment.project_id)
        state = narration_state(segment, options.options if options else {})
        return SegmentOut(id=segment.id, number=number, text=segment.text,
                          chapter=segment.chapter, image_prompt=segment.image_prompt,
                          image=image, audio=audio, missing=missing_media(segment, folder),
                          narration=state)

    def status(self, project_id: int) -> StatusOut:
        """Where the project's latest render stands (``draft`` when never rendered)."""
        self.project(project_id)
        return self._status(project_id, self.store.latest_job(project_id))

    def _status(self, project_id: int, job: JobRow | None) -> StatusOut:
        if job is None:
            return StatusOut(project_id=project_id, job_id=None, status="draft", phase="",
                             percent=0, frames_done=None, frames_total=None, eta=None,
                             rate=None, message="Not rendered yet", error=None, problems=None,
                             warnings=[], video_url=None, download_url=None, captions_url=None,
                             chapters_url=None,
                             updated_at=None)
        exporting = job.phase == "export" or job.status == "completed"
        urls = self._render_urls(job)
        return StatusOut(
            project_id=project_id, job_id=job.id, kind=job.kind, status=job.status,
            phase=job.phase, percent=job.percent,
            frames_done=job.done if exporting else None,
            frames_total=job.total if exporting else None,
            eta=job.eta, rate=job.rate, message=job.message, error=job.error,
            problems=[ProblemOut(**p) for p in job.problems] if job.problems else None,
            warnings=job.warnings,
            video_url=urls[0], download_url=urls[1], captions_url=urls[2],
            chapters_url=self._chapters_url(job),
            updated_at=job.updated_at,
        )

    def _chapters_url(self, job: JobRow) -> str | None:
        """YouTube chapters the engine wrote beside the video, when the story has chapters."""
        if job.status != "completed" or not job.output_file:
            return None
        video = self.folder(job.project_id) / job.output_file
        exists = video.with_suffix(".chapters.txt").is_file()
        return f"/api/renders/{job.id}/chapters.txt" if exists else None

    def _render_urls(self, job: JobRow) -> tuple[str | None, str | None, str | None]:
        if job.status != "completed" or not job.output_file:
            return None, None, None
        base = f"/api/renders/{job.id}"
        captions = f"{base}/captions.srt" if job.captions_file else None
        return f"{base}/video/", f"{base}/download/", captions

    def _summaries(self) -> list[tuple[ProjectRow, ProjectSummary]]:
        jobs = self.store.latest_jobs()
        stats = self.store.segment_stats()
        images = self.store.first_images()
        out = []
        for project in self.store.list_projects():
            out.append((project, self._summary(project, jobs.get(project.id),
                                               stats.get(project.id, (0, 0)),
                                               images.get(project.id))))
        return out

    def _summary(self, project: ProjectRow, job: JobRow | None, stats: tuple[int, int],
                 image: tuple[int, str] | None) -> ProjectSummary:
        thumb = None
        if image is not None:
            thumb = f"/api/projects/{project.id}/segments/{image[0]}/thumbnail/"
        return ProjectSummary(
            id=project.id, title=project.title,
            status=job.status if job else "draft",
            percent=job.percent if job else 0.0, segments=stats[0],
            duration=round(stats[1] / SAMPLE_RATE, 3), thumbnail_url=thumb,
            video_url=self._render_urls(job)[0] if job else None,
            created_at=project.created_at, updated_at=project.updated_at,
        )

    def list_projects(self) -> list[ProjectSummary]:
        """Every project with its status and thumbnail, most recently changed first."""
        return [summary for _, summary in self._summaries()]

    def detail(self, project_id: int) -> ProjectDetail:
        """A project with its ordered segments, options and render status."""
        project = self.project(project_id)
        segments = self.store.segments(project_id)
        job = self.store.latest_job(project_id)
        first = next(((s.id, s.image_file) for s in segments if s.image_file), None)
        samples = sum(s.audio_samples or 0 for s in segments)
        summary = self._summary(project, job, (len(segments), samples), first)
        return ProjectDetail(
            **summary.model_dump(),
            options=effective_options(project.options, self.folder(project_id)),
            segment_list=[self.segment_out(s, n) for n, s in enumerate(segments, start=1)],
            render=self._status(project_id, job),
        )

    # -- projects --------------------------------------------------------------------------

    def create(self, parsed: ParsedProject) -> ProjectDetail:
        """Store a new project (bounds and options checked first); its folders are made at once.

        Every way a project comes in (request body, JSON, text or zip import) ends here, so
        the model's bounds on title, text and segment count hold for all of them.
        """
        try:
            ProjectCreate.model_validate({"title": parsed.title, "segments": parsed.segments})
        except ValidationError as exc:
            raise StudioError(400, "The project is too large or has fields that are too long.",
                              [_problem_out(p) for p in problems_from(exc)]) from exc
        try:
            merge_options({}, parsed.options, self.media_root / "new")
        except ValidationFailed as exc:
            raise _invalid(exc, "The project's render options are not valid.") from None
        project = self.store.create_project(parsed.title, parsed.options, parsed.segments)
        self._make_folders(project.id)
        return self.detail(project.id)

    def update(self, project_id: int, title: str | None, patch: dict[str, Any]) -> ProjectDetail:
        """Change the title and/or render options (settings merge into the current ones)."""
        project = self.project(project_id)
        options = project.options
        if patch:
            try:
                options = merge_options(project.options, patch, self.folder(project_id))
            except ValidationFailed as exc:
                raise _invalid(exc) from None
        clean_title = title.strip() if title is not None else None
        if title is not None and not clean_title:
            raise StudioError(400, "The title cannot be empty.")
        self.store.update_project(project_id, title=clean_title, options=options)
        return self.detail(project_id)

    def delete(self, project_id: int) -> None:
        """Delete a project, its renders and its media (a running render is stopped first)."""
        self.project(project_id)
        job = self.store.request_cancel(project_id)
        if job is not None and job.status == "processing":
            self.dispatcher.cancel(job.id)
            deadline = time.monotonic() + CANCEL_GRACE + 5
            while time.monotonic() < deadline:
                current = self.store.get_job(job.id)
                if current is None or current.status != "processing":
                    break
                time.sleep(0.1)
        self.store.delete_project(project_id)
        uploads.remove_tree(self.folder(project_id))

    def import_file(self, source: IO[bytes]) -> ProjectDetail:
        """Create a project from an uploaded JSON, text or zip file (type read from content)."""
        head = source.read(8)
        source.seek(0)
        kind = detect_kind(head)
        try:
            if kind == "zip":
                return self._import_zip(source)
            raw = read_capped(source, MAX_MANIFEST_BYTES)
            if kind == "text":
                return self.import_text(raw)
            parsed = parse_storyflow(parse_json(raw))
        except ManifestError as exc:
            raise StudioError(400, f"The file is not a usable StoryFlow JSON: {exc}.") from exc
        except ImportFailed as exc:
            raise self._import_error(exc) from exc
        return self.create(parsed)

    def import_text(self, raw: bytes) -> ProjectDetail:
        """Create a project from StoryFlow's plain-text block format (UTF-8)."""
        try:
            return self.create(parse_text_blocks(raw.decode("utf-8-sig")))
        except UnicodeDecodeError as exc:
            raise StudioError(400, "The file is neither a zip bundle nor UTF-8 text "
                                   "(StoryFlow JSON or text blocks).") from exc
        except ImportFailed as exc:
            raise self._import_error(exc) from exc

    def _import_error(self, exc: ImportFailed) -> StudioError:
        problems = [_problem_out(p) for p in exc.problems] or None
        return StudioError(400, str(exc), problems)

    def _import_zip(self, source: IO[bytes]) -> ProjectDetail:
        try:
            check_directory(source)
            archive = zipfile.ZipFile(source)
        except ImportFailed as exc:
            raise self._import_error(exc) from exc
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise StudioError(400, "The zip file is damaged and cannot be opened.") from exc
        with archive:
            try:
                parsed = read_bundle(archive, self.limits.import_bytes)
            except ImportFailed as exc:
                raise self._import_error(exc) from None
            detail = self.create(parsed)
            try:
                self._attach_bundle_media(detail.id, archive, parsed)
                for name, (member, fields) in parsed.assets.items():
                    with archive.open(member) as handle:
                        self.upload_asset(detail.id, name, handle, fields)
            except BaseException:
                self.store.delete_project(detail.id)
                uploads.remove_tree(self.folder(detail.id))
                raise
        return self.detail(detail.id)

    def _attach_bundle_media(self, project_id: int, archive: zipfile.ZipFile,
                             parsed: ParsedProject) -> None:
        """Check and store each distinct member once; segments naming it share the file.

        What the import writes in total is capped at the import limit, whatever the
        archive declares.
        """
        segments = self.store.segments(project_id)
        problems: list[ProblemOut] = []
        stored: dict[str, dict[str, Any]] = {}  # member name -> the segment fields it gave
        budget = self.limits.import_bytes
        for number, (segment, media) in enumerate(zip(segments, parsed.media, strict=True), 1):
            for what, member in (("image", media.image), ("audio", media.audio)):
                if member is None:  # no recording: the text is spoken
                    continue
                known = stored.get(member.filename)
                if known is not None:
                    self.store.update_segment(project_id, segment.id, known)
                    continue
                try:
                    with archive.open(member) as handle:
                        self._store_upload(segment, what, handle, budget)
                except StudioError as exc:
                    problems.append(ProblemOut(message=str(exc), segment=number,
                                               segment_id=segment.id, field=what))
                    continue
                except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError,
                        EOFError, zlib.error) as exc:
                    problems.append(ProblemOut(message=f"cannot be read from the zip ({exc})",
                                               segment=number, segment_id=segment.id,
                                               field=what))
                    continue
                row = self.store.get_segment(project_id, segment.id)
                assert row is not None
                stored[member.filename] = _media_fields(row, what)
                budget -= member.file_size
        if problems:
            raise StudioError(400, "Some media in the bundle cannot be used.", problems)

    # -- segments --------------------------------------------------------------------------

    def add_segment(self, project_id: int, fields: dict[str, Any],
                    position: int | None) -> SegmentOut:
        """Add a segment (at a 1-based position, default at the end)."""
        self.project(project_id)
        if len(self.store.segments(project_id)) >= MAX_SEGMENTS:
            raise StudioError(400, f"A project holds at most {MAX_SEGMENTS} segments.")
        segment = self.store.add_segment(project_id, fields,
                                         None if position is None else position - 1)
        return self._segment_view(project_id, segment.id)

    def _segment_view(self, project_id: int, segment_id: int) -> SegmentOut:
        segments = self.store.segments(project_id)
        for number, segment in enumerate(segments, start=1):
            if segment.id == segment_id:
                return self.segment_out(segment, number)
        raise StudioError(404, f"Segment {segment_id} is not part of project {project_id}.")

    def edit_segment(self, project_id: int, segment_id: int, fields: dict[str, Any],
                     position: int | None) -> SegmentOut:
        """Change a segment's text fields and/or move it."""
        self.segment(project_id, segment_id)
        self.store.update_segment(project_id, segment_id, fields)
        if position is not None:
            self.store.move_segment(project_id, segment_id, position - 1)
        return self._segment_view(project_id, segment_id)

    def reorder(self, project_id: int, order: list[int]) -> list[SegmentOut]:
        """Put every segment in a new order."""
        self.project(project_id)
        if not self.store.reorder_segments(project_id, order):
            raise StudioError(400, "The new order must list every segment of the project "
                                   "exactly once.")
        segments = self.store.segments(project_id)
        return [self.segment_out(s, n) for n, s in enumerate(segments, start=1)]

    def delete_segment(self, project_id: int, segment_id: int) -> None:
        """Delete a segment and its media."""
        self.segment(project_id, segment_id)
        self._not_rendering(project_id, "delete a segment")
        deleted = self.store.delete_segment(project_id, segment_id)
        if deleted is not None:
            self._remove_media(deleted, "image", "audio")

    def _remove_media(self, segment: SegmentRow, *what: str) -> None:
        """Delete a segment's former media files, unless another segment still uses them."""
        folder = self.folder(segment.project_id)
        in_use = {name for row in self.store.segments(segment.project_id)
                  for name in (row.image_file, row.audio_file) if name}
        for kind in what:
            name = segment.image_file if kind == "image" else segment.audio_file
            if name and name not in in_use:
                uploads.remove_quietly(folder / name)
                if kind == "image":
                    uploads.remove_quietly(_thumb(folder / name))

    def media_file(self, project_id: int, segment_id: int, what: str) -> Path:
        """The file behind a segment's image, thumbnail or audio (404 when there is none)."""
        segment = self.segment(project_id, segment_id)
        name = segment.audio_file if what == "audio" else segment.image_file
        if not name:
            raise StudioError(404, f"Segment {segment_id} has no {what} yet.")
        path = self.folder(project_id) / name
        if what == "thumbnail":
            thumb = _thumb(path)
            path = thumb if thumb.is_file() else path
        if not path.is_file():
            raise StudioError(404, f"The {what} file of segment {segment_id} is missing.")
        return path

    # -- uploads ---------------------------------------------------------------------------

    def upload(self, project_id: int, segment_id: int, what: str,
               source: IO[bytes]) -> UploadOut:
        """Check and store an image or narration for a segment, replacing the old one.

        The old file stays in place unless the new one passes every check.
        """
        segment = self.segment(project_id, segment_id)
        self._not_rendering(project_id, f"replace the {what}")
        result = self._store_upload(segment, what, source)
        view = self._segment_view(project_id, segment_id)
        return UploadOut(segment=view, **result)

    def _store_upload(self, segment: SegmentRow, what: str, source: IO[bytes],
                      budget: int | None = None) -> dict[str, Any]:
        folder = self.folder(segment.project_id) / ("images" if what == "image" else "audio")
        folder.mkdir(parents=True, exist_ok=True)
        temp = uploads.temp_name(folder)
        cap = self.limits.image_bytes if what == "image" else self.limits.audio_bytes
        if budget is not None and budget < cap:
            cap = max(0, budget)
        with uploads.removing(temp):
            try:
                uploads.spooled_copy(source, temp, cap)
                if what == "image":
                    return self._publish_image(segment, temp)
                return self._publish_audio(segment, temp)
            except uploads.UploadRejected as exc:
                raise StudioError(exc.status, str(exc)) from None

    def _final_name(self, segment: SegmentRow, kind: str, ext: str) -> str:
        sub = "images" if kind == "image" else "audio"
        return f"{sub}/seg-{segment.id}-{secrets.token_hex(4)}.{ext}"

    def _publish_image(self, segment: SegmentRow, temp: Path) -> dict[str, Any]:
        info = uploads.check_image(temp, self.limits)
        name = self._final_name(segment, "image", info.ext)
        target = self.folder(segment.project_id) / name
        uploads.make_thumbnail(temp, _thumb(target))
        self._swap_media(segment, "image", temp, target, {
            "image_file": name, "image_width": info.width, "image_height": info.height})
        return {"kind": "image", "width": info.width, "height": info.height,
                "format": info.format}

    def _publish_audio(self, segment: SegmentRow, temp: Path) -> dict[str, Any]:
        info = uploads.check_audio(temp, self.limits)
        name = self._final_name(segment, "audio", info.ext)
        target = self.folder(segment.project_id) / name
        self._swap_media(segment, "audio", temp, target, {
            "audio_file": name, "audio_samples": info.samples, "narration_from": None})
        return {"kind": "audio", "duration": round(info.duration, 3), "format": info.format}

    def _swap_media(self, segment: SegmentRow, what: str, temp: Path, target: Path,
                    fields: dict[str, Any]) -> None:
        """Publish a checked file as the segment's media and delete the file it replaces.

        Uploads to one segment may run at the same time: the swap is serialised and the
        replaced file is the one the segment held at that moment, so none is orphaned.
        """
        with self._media_lock:
            current = self.store.get_segment(segment.project_id, segment.id)
            if current is None:  # deleted meanwhile
                uploads.remove_quietly(target, _thumb(target))
                raise StudioError(404, f"Segment {segment.id} was deleted during the upload.")
            uploads.publish(temp, target)
            self.store.update_segment(segment.project_id, segment.id, fields)
            self._remove_media(current, what)

    # -- file settings (music, logo, intro, outro...) --------------------------------------

    def _asset_kind(self, name: str) -> str:
        kind = asset_settings().get(name)
        if kind is None:
            known = ", ".join(sorted(asset_settings())) or "none"
            raise StudioError(404, f"'{name}' is not a setting that takes a file "
                                   f"(those are: {known}).")
        return kind

    def _asset_path(self, project: ProjectRow, name: str) -> str | None:
        value = (project.options.get("settings") or {}).get(name)
        path = value.get("path") if isinstance(value, dict) else None
        return path if isinstance(path, str) and path.startswith("assets/") else None

    def upload_asset(self, project_id: int, name: str, source: IO[bytes],
                     fields: dict[str, Any] | None = None) -> ProjectDetail:
        """Check and attach a file setting (background music, logo, intro/outro clip).

        Its other fields (volume, corner...) are kept, or set from ``fields``; the previous
        file is replaced only once the new one passed every check.
        """
        kind = self._asset_kind(name)
        self.project(project_id)
        self._not_rendering(project_id, f"replace the {name}")
        folder = self.folder(project_id) / "assets"
        folder.mkdir(parents=True, exist_ok=True)
        temp = uploads.temp_name(folder)
        with uploads.removing(temp):
            try:
                uploads.spooled_copy(source, temp, self.limits.audio_bytes)
                ext = self._check_asset(temp, kind)
            except uploads.UploadRejected as exc:
                raise StudioError(exc.status, str(exc)) from None
            relative = f"assets/{name}-{secrets.token_hex(4)}.{ext}"
            uploads.publish(temp, self.folder(project_id) / relative)
        with self._media_lock:  # the file replaced is the one attached at this moment
            project = self.project(project_id)
            try:
                change = {**(fields or {}), "path": relative}
                options = merge_options(project.options, {"settings": {name: change}},
                                        self.folder(project_id))
            except ValidationFailed as exc:
                uploads.remove_quietly(self.folder(project_id) / relative)
                raise _invalid(exc, f"The {name} cannot be used.") from exc
            self.store.update_project(project_id, options=options)
            old = self._asset_path(project, name)
            if old:
                uploads.remove_quietly(self.folder(project_id) / old)
        return self.detail(project_id)

    def _check_asset(self, path: Path, kind: str) -> str:
        if kind == "image":
            return uploads.check_image(path, self.limits).ext
        if kind == "audio":
            return uploads.check_audio(path, self.limits).ext
        if kind == "video":
            return uploads.check_video(path).ext
        try:
            return uploads.check_image(path, self.limits).ext
        except uploads.UploadRejected:
            return uploads.check_audio(path, self.limits).ext

    def remove_asset(self, project_id: int, name: str) -> ProjectDetail:
        """Turn a file setting off and delete its file."""
        self._asset_kind(name)
        project = self.project(project_id)
        self._not_rendering(project_id, f"remove the {name}")
        options = merge_options(project.options, {"settings": {name: None}},
                                self.folder(project_id))
        self.store.update_project(project_id, options=options)
        old = self._asset_path(project, name)
        if old:
            uploads.remove_quietly(self.folder(project_id) / old)
        return self.detail(project_id)

    def asset_file(self, project_id: int, name: str) -> Path:
        """The file of a file setting (404 when none is attached)."""
        self._asset_kind(name)
        relative = self._asset_path(self.project(project_id), name)
        path = self.folder(project_id) / relative if relative else None
        if path is None or not path.is_file():
            raise StudioError(404, f"No {name} file is attached to this project.")
        return path

    def caption_preview(self, project_id: int) -> bytes:
        """A PNG of one frame drawn by the engine: the first still (or a neutral
        background) with a caption in the project's style, size and safe area."""
        project = self.project(project_id)
        rows = self.store.segments(project_id)
        manifest = build_manifest(project.title, project.options, rows)
        manifest["segments"] = [  # no narration is needed to draw a frame
            {**seg, "image": seg["image"] or "images/.none"}
            for seg in manifest["segments"]] or [
            {"image": "images/.none", "text": SAMPLE_CAPTION}]
        try:
            engine_project = project_from_dict(manifest, base_dir=self.folder(project_id))
            pixels = caption_preview(engine_project)
        except ValidationFailed as exc:
            raise _invalid(exc) from None
        except MediaError as exc:
            raise StudioError(400, f"The preview cannot be drawn: {exc}") from None
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="PNG", compress_level=1)
        return out.getvalue()

    # -- renders ---------------------------------------------------------------------------

    def render(self, project_id: int) -> JobRow:
        """Queue a render after checking that every segment is complete."""
        project = self.project(project_id)
        segments = self.store.segments(project_id)
        active = self.store.active_job(project_id)
        if active is not None:
            raise StudioError(409, f"This project is already being rendered (render "
                                   f"{active.id} is {active.status}).", job_id=active.id)
        problems = render_problems(project.title, project.options, segments,
                                   self.folder(project_id))
        if problems:
            count = len(problems)
            raise StudioError(400, f"The project cannot render yet: {count} problem"
                                   f"{'s' if count != 1 else ''} to fix.",
                              [_problem_out(p, segments) for p in problems])
        try:
            job = self.store.create_job(project_id)
        except ActiveJobExists as exc:
            raise StudioError(409, "This project is already being rendered.",
                              job_id=exc.job.id) from None
        self.dispatcher.submitted(job.id)
        return job

    def render_all(self) -> tuple[list[int], dict[int, str]]:
        """Queue a render of every project that is ready and not already rendering.

        Returns:
            The projects queued, and the others with the reason each was left.
        """
        queued, skipped = [], {}
        for project in self.store.list_projects():
            try:
                self.render(project.id)
            except StudioError as exc:
                skipped[project.id] = str(exc)
            else:
                queued.append(project.id)
        return queued, skipped

    def narrate(self, project_id: int, segment_id: int | None,
                replace: bool) -> tuple[JobRow, list[int]]:
        """Queue a job that generates narration from text (one segment, or all that need it).

        Returns:
            The job, and the segments left alone because they have an uploaded recording.
        """
        project = self.project(project_id)
        if segment_id is not None:
            segment = self.segment(project_id, segment_id)
            if not segment.text.strip():
                raise StudioError(400, "This segment has no text to speak.")
        segments = self.store.segments(project_id)
        targets, kept = targets_for(segments, project.options, segment_id, replace)
        if segment_id is not None and kept:
            raise StudioError(409, "This segment has an uploaded recording: confirm to "
                                   "replace it with a generated narration.")
        if not targets:
            raise StudioError(400, "Every segment with text already has an up-to-date "
                                   "narration.")
        try:
            job = self.store.create_job(project_id, "narrate", targets)
        except ActiveJobExists as exc:
            raise StudioError(409, "This project already has a job running.",
                              job_id=exc.job.id) from None
        self.dispatcher.submitted(job.id)
        return job, kept

    def voice_sample(self, engine: str, voice: str | None, speed: float) -> Path:
        """A cached WAV of a short sentence in a voice (for the "listen" button)."""
        from pydantic import ValidationError

        from storyreel.errors import VoiceError
        from storyreel.model.project import Voice
        from storyreel.voice.narrate import Narrator

        try:
            chosen = Voice.model_validate({"engine": engine, "voice": voice, "speed": speed})
            return Narrator().speak(VOICE_SAMPLE, chosen).entry.wav
        except ValidationError as exc:
            raise StudioError(400, "Those voice settings are not valid.",
                              [_problem_out(p) for p in problems_from(exc)]) from exc
        except VoiceError as exc:
            raise StudioError(400, str(exc)) from exc

    def cancel(self, project_id: int) -> StatusOut:
        """Cancel a queued render at once, or stop a running one within seconds."""
        self.project(project_id)
        job = self.store.request_cancel(project_id)
        if job is None:
            raise StudioError(409, "There is no queued or running render to cancel.")
        self.dispatcher.cancel(job.id)
        return self.status(project_id)

    def finished(self, job_id: int) -> tuple[JobRow, ProjectRow]:
        """A completed render and its project (404 otherwise)."""
        job = self.store.get_job(job_id)
        project = self.store.get_project(job.project_id) if job else None
        if job is None or project is None or job.status != "completed" or not job.output_file:
            raise StudioError(404, f"Render {job_id} does not exist or has not finished.")
        return job, project

    def render_file(self, job_id: int, kind: str) -> tuple[Path, str]:
        """The video or captions of a finished render and a sensible download name."""
        job, project = self.finished(job_id)
        folder = self.folder(project.id)
        stem = f"{slugify(project.title)}-{job.id}"
        assert job.output_file is not None
        if kind == "video":
            path, name = folder / job.output_file, f"{stem}.mp4"
        elif kind == "chapters":
            path = (folder / job.output_file).with_suffix(".chapters.txt")
            name = f"{stem}.chapters.txt"
        else:
            if not job.captions_file:
                raise StudioError(404, "This render has no captions (the story has no text).")
            path = (folder / job.captions_file).with_suffix(f".{kind}")
            name = f"{stem}.{kind}"
        if not path.is_file():
            raise StudioError(404, "The file of this render is missing from the data folder.")
        return path, name

    def gallery(self) -> list[GalleryItem]:
        """Every finished render whose file is still there, newest first."""
        items = []
        summaries = {project.id: summary for project, summary in self._summaries()}
        for job in self.store.completed_jobs():
            summary = summaries.get(job.project_id)
            if summary is None or not job.output_file:
                continue
            if not (self.folder(job.project_id) / job.output_file).is_file():
                continue
            video, download, captions = self._render_urls(job)
            assert video is not None and download is not None
            items.append(GalleryItem(
                job_id=job.id, project_id=job.project_id, title=summary.title, video_url=video,
                download_url=download, captions_url=captions,
                thumbnail_url=summary.thumbnail_url, size=job.size or 0,
                duration=job.duration or 0.0, finished_at=job.finished_at or 0.0))
        return items


def _media_fields(segment: SegmentRow, what: str) -> dict[str, Any]:
    """The columns an upload of ``what`` set on a segment (to share the file with another)."""
    if what == "image":
        return {"image_file": segment.image_file, "image_width": segment.image_width,
                "image_height": segment.image_height}
    return {"audio_file": segment.audio_file, "audio_samples": segment.audio_samples,
            "narration_from": segment.narration_from}


def _thumb(image: Path) -> Path:
    return image.with_name(image.stem + ".thumb.jpg")
