"""The studio's operations: what the routes do, independent of HTTP.

:class:`Studio` ties the store, the media folders and the dispatcher together and
turns rows into API models. Errors are raised from the tree in
:mod:`storyreel.service.errors`, in a sentence for the creator; the app maps them to
answers.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import IO, Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import ValidationError

from storyreel.demo import make_demo_project
from storyreel.errors import ManifestError, MediaError, OutsideVideo, Problem, ValidationFailed
from storyreel.frames.text import check_font
from storyreel.media.image import even_ceil
from storyreel.media.sidecar import THUMBNAIL_SUFFIX, sidecar_path
from storyreel.model.cuts import segment_numbers
from storyreel.model.load import (
    MAX_MANIFEST_BYTES,
    parse_json,
    problems_from,
    project_from_dict,
)
from storyreel.model.platforms import PlatformName
from storyreel.model.project import MAX_SEGMENTS, MAX_TEXT_LENGTH, Project
from storyreel.model.visual import Video
from storyreel.render.cache import PartCache
from storyreel.render.moment import KeptMoments, Moments, frame_at_time, plan_moments
from storyreel.render.pipeline import apply_overrides, slugify
from storyreel.render.preview import (
    SAMPLE_CAPTION,
    StillCache,
    caption_preview,
    clip_filmstrip,
    clip_first_frame,
    segment_frame,
)
from storyreel.service import uploads
from storyreel.service.errors import (
    Busy,
    Conflict,
    Invalid,
    NotFound,
    OutOfRange,
    PreconditionFailed,
    StudioError,
    UploadRejected,
    invalid_request,
)
from storyreel.service.etags import IfMatch
from storyreel.service.importers import (
    ImportFailed,
    ParsedProject,
    check_directory,
    detect_kind,
    parse_storyflow,
    parse_text_blocks,
    read_bundle,
    read_capped,
    split_story,
)
from storyreel.service.jobs import Dispatcher
from storyreel.service.limits import Limits
from storyreel.service.narration import narration_state, recording_from, targets_for
from storyreel.service.options import (
    asset_settings,
    build_manifest,
    merge_options,
    render_problems,
)
from storyreel.service.schemas import (
    FrameGridOut,
    ProblemOut,
    ProjectCreate,
    ProjectDetail,
    SegmentOut,
    SegmentStartOut,
    SkippedProject,
    StatusOut,
    UploadOut,
)
from storyreel.service.store import (
    ActiveJobExists,
    Expected,
    JobRow,
    JobState,
    ProjectRow,
    SegmentRow,
    StaleVersion,
    Store,
)
from storyreel.service.views import Views

__all__ = ["VOICE_SAMPLE", "Frame", "Studio"]

#: What the "listen" button says.
VOICE_SAMPLE = "Once upon a time, in a valley far away, a story began."

log = logging.getLogger("storyreel.service")

#: Longest side of an engine preview, in pixels: small enough to draw in well under a second.
PREVIEW_LONGEST = 640
#: Previews drawn at once (each may decode a large still); more wait for a turn.
PREVIEW_SLOTS = 2
#: Seconds a preview waits for a turn before it is answered 503 (try again).
PREVIEW_WAIT = 20.0
#: Planned timelines kept for frame previews, with the pictures each has open.
FRAME_TIMELINES = 6  # every platform of a render for several, and one more
#: JPEG quality of a frame preview.
FRAME_QUALITY = 90
#: Longest time accepted as sent (``123456.789``; longer texts are not times).
_MAX_TIME_CHARS = 32
#: Digits before the point beyond which a time is simply past the end of any video.
_MAX_TIME_DIGITS = 12
_T = TypeVar("_T")
#: Event streams open at once; past this, a new one is answered 503 (each polls the store).
MAX_EVENT_STREAMS = 64
_FONT_EXTS = frozenset({"ttf", "otf", "ttc", "otc"})
#: Any version: the write of a request without ``If-Match`` (or with ``*``).
ANY = IfMatch()


def _problem_out(problem: Problem, segments: list[SegmentRow] | None = None) -> ProblemOut:
    segment_id = None
    if segments and problem.segment is not None and 0 < problem.segment <= len(segments):
        segment_id = segments[problem.segment - 1].id
    return ProblemOut(message=problem.message, segment=problem.segment, segment_id=segment_id,
                      field=problem.field)


def _invalid(exc: ValidationFailed, message: str = "Some options are not valid.") -> Invalid:
    return Invalid(message, [_problem_out(p) for p in exc.problems])


@dataclass(frozen=True)
class Frame:
    """A frame of the video drawn for a preview.

    Attributes:
        jpeg: The picture.
        index: Its frame number in the video (0-based).
        fps: The video's exact frame rate.
        estimated: 1-based segments whose narration is not spoken yet: their length
            (and so where the frame falls) is estimated from their words.
    """

    jpeg: bytes
    index: int
    fps: Fraction
    estimated: tuple[int, ...]


class Studio:
    """Projects, segments, uploads and renders of one data folder.

    Args:
        data_dir: Holds ``studio.db`` and ``projects/<id>/{images,audio,output}``.
        store: The database.
        dispatcher: Runs the render jobs.
        limits: Upload caps.
    """

    def __init__(self, data_dir: Path, store: Store, dispatcher: Dispatcher,
                 limits: Limits) -> None:
        self.data_dir = data_dir
        self.media_root = data_dir / "projects"
        self.store = store
        self.dispatcher = dispatcher
        self.limits = limits
        self.views = Views(store, self.media_root)
        self._media_lock = threading.Lock()  # swaps of a file setting or segment media
        self.stills = StillCache()  # decoded stills of previews, by file digest and size
        self.preview_slots = threading.BoundedSemaphore(PREVIEW_SLOTS)
        self.preview_wait = PREVIEW_WAIT
        self.moments = KeptMoments(FRAME_TIMELINES)  # timelines planned for frame previews
        # What renders found about each narration, shared with frame previews.
        self._facts = PartCache(data_dir / "cache")
        self.event_streams = 0  # open now (counted on the event loop only)
        self.max_event_streams = MAX_EVENT_STREAMS

    # -- lookups -------------------------------------------------------------------------

    def folder(self, project_id: int) -> Path:
        """The project's media folder (``images/``, ``audio/``, ``output/`` inside)."""
        return self.views.folder(project_id)

    def project(self, project_id: int) -> ProjectRow:
        """The project, or :class:`NotFound`."""
        return self.views.project(project_id)

    def segment(self, project_id: int, segment_id: int) -> SegmentRow:
        """The segment of that project, or :class:`NotFound`."""
        return self.views.segment(project_id, segment_id)

    def stale_project(self, project_id: int) -> PreconditionFailed:
        """The 412 of a write to a project changed since the writer read it."""
        current = self.views.detail(project_id)
        return PreconditionFailed(
            f"“{current.title}” was changed in another window since this one loaded it "
            "(its title, options or order of segments); nothing was changed.",
            etag=current.etag, current=current.model_dump(mode="json"))

    def stale_segment(self, project_id: int, segment_id: int) -> PreconditionFailed:
        """The 412 of a write to a segment changed since the writer read it."""
        current = self.views.segment_view(project_id, segment_id)
        return PreconditionFailed(
            f"Segment {current.number} was changed in another window since this one loaded "
            "it; nothing was changed.", etag=current.etag,
            current=current.model_dump(mode="json"))

    def _make_folders(self, project_id: int) -> None:
        for name in ("images", "audio", "output"):
            (self.folder(project_id) / name).mkdir(parents=True, exist_ok=True)

    def _not_rendering(self, project_id: int, action: str) -> None:
        job = self.store.active_job(project_id)
        if job is not None and job.status == "processing":
            raise Conflict(f"A render of this project is running; cancel it or wait "
                                   f"for it to finish before you {action}.", job_id=job.id)

    # -- projects --------------------------------------------------------------------------

    def create(self, parsed: ParsedProject) -> ProjectDetail:
        """Store a new project (bounds and options checked first); its folders are made at once.

        Every way a project comes in (request body, JSON, text or zip import) ends here, so
        the model's bounds on title, text and segment count hold for all of them.
        """
        try:
            ProjectCreate.model_validate({"title": parsed.title, "segments": parsed.segments})
        except ValidationError as exc:
            raise Invalid("The project is too large or has fields that are too long.",
                              [_problem_out(p) for p in problems_from(exc)]) from exc
        try:
            merge_options({}, parsed.options, self.media_root / "new")
        except ValidationFailed as exc:
            raise _invalid(exc, "The project's render options are not valid.") from None
        project = self.store.create_project(parsed.title, parsed.options, parsed.segments)
        self._make_folders(project.id)
        return self.views.detail(project.id)

    def create_from_json(self, data: Any) -> ProjectDetail:
        """Create a project from a storyreel or StoryFlow manifest sent as JSON, checked
        against the API's request schema first."""
        try:
            ProjectCreate.model_validate(data)
            parsed = parse_storyflow(data)
        except ValidationError as exc:
            raise invalid_request(exc.errors()) from exc
        except ImportFailed as exc:
            raise Invalid(str(exc)) from None
        return self.create(parsed)

    def update(self, project_id: int, title: str | None, patch: dict[str, Any],
               if_match: IfMatch = ANY) -> ProjectDetail:
        """Change the title and/or render options (settings merge into the current ones).

        The merge happens inside the store's write transaction, so concurrent changes of
        different settings all survive.
        """
        self.project(project_id)
        clean_title = title.strip() if title is not None else None
        if title is not None and not clean_title:
            raise Invalid("The title cannot be empty.")
        folder = self.folder(project_id)

        def change(current: dict[str, Any]) -> dict[str, Any]:
            return merge_options(current, patch, folder) if patch else current

        try:
            updated = self.store.update_project(project_id, title=clean_title, change=change,
                                                expect=if_match.versions("p", project_id))
        except ValidationFailed as exc:
            raise _invalid(exc) from None
        except StaleVersion:
            raise self.stale_project(project_id) from None
        if updated is None:
            self.project(project_id)  # deleted meanwhile: 404
        return self.views.detail(project_id)

    def delete(self, project_id: int, if_match: IfMatch = ANY) -> None:
        """Delete a project, its renders and its media.

        A running render is told to stop; its folder is removed once its worker let go of
        it (at once when nothing runs), so no request waits for a render to end.
        """
        expect = if_match.versions("p", project_id)
        if expect is not None and self.project(project_id).version not in expect:
            raise self.stale_project(project_id)  # checked before a running render stops
        self.project(project_id)  # 404 before anything is cancelled
        job = self.store.request_cancel(project_id)
        try:
            self.store.delete_project(project_id, expect)
        except StaleVersion:
            raise self.stale_project(project_id) from None
        folder = self.folder(project_id)
        if job is not None and job.status == JobState.PROCESSING:
            self.dispatcher.cancel(job.id)
            if self.dispatcher.after(job.id, lambda: uploads.remove_tree(folder)):
                return
        uploads.remove_tree(folder)

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
            raise Invalid(f"The file is not a usable StoryFlow JSON: {exc}.") from exc
        except ImportFailed as exc:
            raise self._import_error(exc) from exc
        return self.create(parsed)

    def create_sample(self) -> ProjectDetail:
        """Create the demo project (the stills, text, chapters, music and logo that
        ``storyreel demo`` makes), imported as a bundle would be."""
        with tempfile.TemporaryDirectory(prefix="storyreel-sample-") as temp, \
                tempfile.TemporaryFile() as bundle:
            folder = Path(temp)
            make_demo_project(folder)
            with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as archive:
                for path in sorted(folder.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(folder).as_posix())
            bundle.seek(0)
            return self._import_zip(bundle)

    def import_text(self, raw: bytes) -> ProjectDetail:
        """Create a project from StoryFlow's plain-text block format (UTF-8)."""
        try:
            return self.create(parse_text_blocks(raw.decode("utf-8-sig")))
        except UnicodeDecodeError as exc:
            raise Invalid("The file is neither a zip bundle nor UTF-8 text "
                                   "(StoryFlow JSON or text blocks).") from exc
        except ImportFailed as exc:
            raise self._import_error(exc) from exc

    def _import_error(self, exc: ImportFailed) -> Invalid:
        problems = [_problem_out(p) for p in exc.problems] or None
        return Invalid(str(exc), problems)

    def _import_zip(self, source: IO[bytes]) -> ProjectDetail:
        try:
            check_directory(source)
            archive = zipfile.ZipFile(source)
        except ImportFailed as exc:
            raise self._import_error(exc) from exc
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise Invalid("The zip file is damaged and cannot be opened.") from exc
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
                        self.upload_asset(detail.id, name, handle, fields,
                                          filename=member.filename)
                if parsed.font is not None:
                    with archive.open(parsed.font) as handle:
                        self._attach_font(detail.id, handle, parsed.font.filename)
            except BaseException:
                self.store.delete_project(detail.id)
                uploads.remove_tree(self.folder(detail.id))
                raise
        return self.views.detail(detail.id)

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
            for what, member in (("image", media.image), ("video", media.video),
                                 ("audio", media.audio)):
                if member is None:  # no recording: the text is spoken
                    continue
                known = stored.get(member.filename)
                if known is not None:
                    shared = {**known, "narration_from": recording_from(segment.text)} \
                        if what == "audio" else known
                    self.store.update_segment(project_id, segment.id, shared)
                    continue
                try:
                    with archive.open(member) as handle:
                        self._store_upload(segment, what, handle, budget,
                                           focus=segment.focus)
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
            raise Invalid("Some media in the bundle cannot be used.", problems)

    # -- segments --------------------------------------------------------------------------

    def add_segment(self, project_id: int, fields: dict[str, Any],
                    position: int | None, if_match: IfMatch = ANY) -> SegmentOut:
        """Add a segment (at a 1-based position, default at the end).

        ``If-Match`` names the project: adding changes its list of segments.
        """
        self.project(project_id)
        if len(self.store.segments(project_id)) >= MAX_SEGMENTS:
            raise Invalid(f"A project holds at most {MAX_SEGMENTS} segments.")
        try:
            segment = self.store.add_segment(project_id, fields,
                                             None if position is None else position - 1,
                                             expect=if_match.versions("p", project_id))
        except StaleVersion:
            raise self.stale_project(project_id) from None
        return self.views.segment_view(project_id, segment.id)

    def edit_segment(self, project_id: int, segment_id: int, fields: dict[str, Any],
                     position: int | None, if_match: IfMatch = ANY) -> SegmentOut:
        """Change a segment's text fields and/or move it (one transaction)."""
        self.segment(project_id, segment_id)
        try:
            updated = self.store.update_segment(
                project_id, segment_id, fields,
                position=None if position is None else position - 1,
                expect=if_match.versions("s", segment_id))
        except StaleVersion:
            raise self.stale_segment(project_id, segment_id) from None
        if updated is None:
            self.segment(project_id, segment_id)  # deleted meanwhile: 404
        return self.views.segment_view(project_id, segment_id)

    def reorder(self, project_id: int, order: list[int],
                if_match: IfMatch = ANY) -> list[SegmentOut]:
        """Put every segment in a new order (``If-Match`` names the project)."""
        self.project(project_id)
        try:
            moved = self.store.reorder_segments(project_id, order,
                                                expect=if_match.versions("p", project_id))
        except StaleVersion:
            raise self.stale_project(project_id) from None
        if not moved:
            raise Invalid("The new order must list every segment of the project exactly "
                          "once; reload the page if segments were added or deleted in "
                          "another window.")
        segments = self.store.segments(project_id)
        return [self.views.segment_out(s, n) for n, s in enumerate(segments, start=1)]

    def split_segment(self, project_id: int, segment_id: int, text: str) -> list[SegmentOut]:
        """Split a story pasted into a segment as a text import would: the segment keeps
        the first part (its picture and recording stay), the others follow it as new
        segments. Answers the project's segments."""
        self.segment(project_id, segment_id)
        parts = split_story(text)
        if len(parts) < 2:
            raise Invalid("The text holds a single segment: there is nothing to split.")
        ids = [s.id for s in self.store.segments(project_id)]
        if len(ids) + len(parts) - 1 > MAX_SEGMENTS:
            raise Invalid(f"A project holds at most {MAX_SEGMENTS} segments.")
        if any(len(part["text"]) > MAX_TEXT_LENGTH for part in parts):
            raise Invalid(f"A segment's text holds at most {MAX_TEXT_LENGTH} characters.")
        first, *rest = parts
        self.store.update_segment(project_id, segment_id,
                                  {k: v for k, v in first.items() if v is not None})
        place = ids.index(segment_id) + 1
        for offset, fields in enumerate(rest):
            self.store.add_segment(project_id, fields, place + offset)
        return self.views.segment_list(project_id)

    def delete_segment(self, project_id: int, segment_id: int,
                       if_match: IfMatch = ANY) -> None:
        """Delete a segment and its media."""
        self.segment(project_id, segment_id)
        self._not_rendering(project_id, "delete a segment")
        try:
            deleted = self.store.delete_segment(project_id, segment_id,
                                                expect=if_match.versions("s", segment_id))
        except StaleVersion:
            raise self.stale_segment(project_id, segment_id) from None
        if deleted is not None:
            self._remove_media(deleted, "image", "audio", "video")

    def _remove_media(self, segment: SegmentRow, *what: str) -> None:
        """Delete a segment's former media files, unless another segment still uses them."""
        folder = self.folder(segment.project_id)
        in_use = {name for row in self.store.segments(segment.project_id)
                  for name in (row.image_file, row.audio_file, row.video_file) if name}
        for kind in what:
            name = _media_name(segment, kind)
            if name and name not in in_use:
                uploads.remove_quietly(folder / name)
                if kind == "image":
                    uploads.remove_quietly(_thumb(folder / name))

    def media_file(self, project_id: int, segment_id: int, what: str) -> Path:
        """The file behind a segment's image, thumbnail or audio (404 when there is none)."""
        segment = self.segment(project_id, segment_id)
        name = _media_name(segment, what)
        if not name:
            raise NotFound(f"Segment {segment.position + 1} has no {what} yet.")
        path = self.folder(project_id) / name
        if what == "thumbnail":
            thumb = _thumb(path)
            path = thumb if thumb.is_file() else path
        if not path.is_file():
            raise NotFound(f"The {what} file of segment {segment.position + 1} is missing.")
        return path

    # -- uploads ---------------------------------------------------------------------------

    def upload(self, project_id: int, segment_id: int, what: str,
               source: IO[bytes], if_match: IfMatch = ANY, *,
               replace: bool = False) -> UploadOut:
        """Check and store an image, clip or narration for a segment, replacing the old one.

        The old file stays in place unless the new one passes every check. ``If-Match``
        is checked before the file is read and again when it replaces the old one. A
        narration (generated or uploaded) is replaced only with ``replace``: the creator
        confirmed it.
        """
        segment = self.segment(project_id, segment_id)
        expect = if_match.versions("s", segment_id)
        if expect is not None and segment.version not in expect:
            raise self.stale_segment(project_id, segment_id)
        self._not_rendering(project_id, f"replace the {what}")
        if what == "audio" and segment.audio_file and not replace:
            project = self.project(project_id)
            spoken = narration_state(segment, project.options) in ("generated", "outdated")
            held = "a narration spoken by the voice" if spoken else "a recording"
            raise Conflict(f"This segment already has {held}: confirm to replace it with "
                           "the new recording.")
        result = self._store_upload(segment, what, source, expect=expect)
        view = self.views.segment_view(project_id, segment_id)
        return UploadOut(segment=view, **result)

    def _store_upload(self, segment: SegmentRow, what: str, source: IO[bytes],
                      budget: int | None = None, expect: Expected = None,
                      focus: list[float] | None = None) -> dict[str, Any]:
        """Check and store an upload as the segment's ``what``.

        A new picture or clip has no focus of its own (the old one was a point of
        another picture) unless ``focus`` gives it one: a bundle's manifest does.
        """
        folder = self.folder(segment.project_id) / _MEDIA_FOLDERS[what]
        folder.mkdir(parents=True, exist_ok=True)
        temp = uploads.temp_name(folder)
        # Clips are capped like intro and outro clips (audio_bytes).
        cap = self.limits.image_bytes if what == "image" else self.limits.audio_bytes
        if budget is not None and budget < cap:
            cap = max(0, budget)
        with uploads.removing(temp):
            uploads.spooled_copy(source, temp, cap)
            if what == "image":
                return self._publish_image(segment, temp, expect, focus)
            if what == "video":
                return self._publish_video(segment, temp, expect, focus)
            return self._publish_audio(segment, temp, expect)

    def _final_name(self, segment: SegmentRow, kind: str, ext: str) -> str:
        return f"{_MEDIA_FOLDERS[kind]}/seg-{segment.id}-{secrets.token_hex(4)}.{ext}"

    def _publish_video(self, segment: SegmentRow, temp: Path, expect: Expected,
                       focus: list[float] | None = None) -> dict[str, Any]:
        """A checked clip becomes the segment's visual, in place of its still."""
        info = uploads.check_video(temp)
        name = self._final_name(segment, "video", info.ext)
        target = self.folder(segment.project_id) / name
        self._swap_media(segment, "video", temp, target, {
            "video_file": name, "video_width": info.width, "video_height": info.height,
            "video_seconds": round(info.duration, 3), "video_fps": str(info.fps),
            "focus": focus, **_NO_IMAGE}, expect)
        return {"kind": "video", "width": info.width, "height": info.height,
                "duration": round(info.duration, 3), "fps": round(float(info.fps), 3),
                "format": info.format}

    def _publish_image(self, segment: SegmentRow, temp: Path, expect: Expected,
                       focus: list[float] | None = None) -> dict[str, Any]:
        info = uploads.check_image(temp, self.limits)
        name = self._final_name(segment, "image", info.ext)
        target = self.folder(segment.project_id) / name
        uploads.make_thumbnail(temp, _thumb(target))
        self._swap_media(segment, "image", temp, target, {
            "image_file": name, "image_width": info.width, "image_height": info.height,
            "focus": focus, **_NO_VIDEO}, expect)
        return {"kind": "image", "width": info.width, "height": info.height,
                "format": info.format}

    def _publish_audio(self, segment: SegmentRow, temp: Path,
                       expect: Expected) -> dict[str, Any]:
        info = uploads.check_audio(temp, self.limits)
        name = self._final_name(segment, "audio", info.ext)
        target = self.folder(segment.project_id) / name
        self._swap_media(segment, "audio", temp, target, {
            "audio_file": name, "audio_samples": info.samples,
            "narration_from": recording_from(segment.text)}, expect)
        return {"kind": "audio", "duration": round(info.duration, 3), "format": info.format}

    def _swap_media(self, segment: SegmentRow, what: str, temp: Path, target: Path,
                    fields: dict[str, Any], expect: Expected = None) -> None:
        """Publish a checked file as the segment's media and delete the file it replaces.

        Uploads to one segment may run at the same time: the swap is serialised and the
        replaced file is the one the segment held at that moment, so none is orphaned.
        """
        with self._media_lock:
            current = self.store.get_segment(segment.project_id, segment.id)
            if current is None:  # deleted meanwhile
                uploads.remove_quietly(target, _thumb(target))
                raise NotFound(f"This segment was deleted while its {what} was being "
                               "uploaded (perhaps in another window).")
            uploads.publish(temp, target)
            try:
                self.store.update_segment(segment.project_id, segment.id, fields,
                                          expect=expect)
            except StaleVersion:
                uploads.remove_quietly(target, _thumb(target))
                raise self.stale_segment(segment.project_id, segment.id) from None
            # A segment shows one visual: a new still or clip replaces either.
            self._remove_media(current, *(("image", "video") if what != "audio" else (what,)))

    # -- file settings (music, logo, intro, outro...) --------------------------------------

    def _asset_kind(self, name: str) -> str:
        kind = asset_settings().get(name)
        if kind is None:
            known = ", ".join(sorted(asset_settings())) or "none"
            raise NotFound(f"'{name}' is not a setting that takes a file "
                                   f"(those are: {known}).")
        return kind

    def _asset_path(self, project: ProjectRow, name: str) -> str | None:
        value = (project.options.get("settings") or {}).get(name)
        path = value.get("path") if isinstance(value, dict) else None
        return path if isinstance(path, str) and path.startswith("assets/") else None

    def upload_asset(self, project_id: int, name: str, source: IO[bytes],
                     fields: dict[str, Any] | None = None,
                     filename: str | None = None) -> ProjectDetail:
        """Check and attach a file setting (background music, logo, intro/outro clip).

        Its other fields (volume, corner...) are kept, or set from ``fields``; the previous
        file is replaced only once the new one passed every check. The stored name keeps
        a slug of ``filename``, so the page can say which file is attached.
        """
        kind = self._asset_kind(name)
        self.project(project_id)
        self._not_rendering(project_id, f"replace the {name}")
        folder = self.folder(project_id) / "assets"
        folder.mkdir(parents=True, exist_ok=True)
        temp = uploads.temp_name(folder)
        with uploads.removing(temp):
            uploads.spooled_copy(source, temp, self.limits.audio_bytes)
            ext = self._check_asset(temp, kind)
            label = f"-{slugify(Path(filename).stem)}" if filename else ""
            relative = f"assets/{name}-{secrets.token_hex(4)}{label}.{ext}"
            uploads.publish(temp, self.folder(project_id) / relative)
        with self._media_lock:  # the file replaced is the one attached at this moment
            project = self.project(project_id)
            try:
                setting = {**(fields or {}), "path": relative}
                self._merge_settings(project_id, {name: setting})
            except ValidationFailed as exc:
                uploads.remove_quietly(self.folder(project_id) / relative)
                raise _invalid(exc, f"The {name} cannot be used.") from exc
            old = self._asset_path(project, name)
            if old:
                uploads.remove_quietly(self.folder(project_id) / old)
        return self.views.detail(project_id)

    def _attach_font(self, project_id: int, source: IO[bytes], filename: str) -> None:
        """Store a bundle's caption font in the project's ``assets/`` (checked to be a
        font FreeType can use) and point the captions at it."""
        folder = self.folder(project_id) / "assets"
        folder.mkdir(parents=True, exist_ok=True)
        temp = uploads.temp_name(folder)
        name = PurePosixPath(filename.replace("\\", "/"))
        ext = name.suffix.lower().lstrip(".")
        with uploads.removing(temp):
            uploads.spooled_copy(source, temp, self.limits.image_bytes)
            try:
                check_font(temp)
            except MediaError as exc:
                raise UploadRejected(f"The caption font {name.name} is not a usable TTF/OTF "
                                     "font.") from exc
            relative = (f"assets/font-{secrets.token_hex(4)}-{slugify(name.stem)}"
                        f".{ext if ext in _FONT_EXTS else 'ttf'}")
            uploads.publish(temp, self.folder(project_id) / relative)
        self._merge_settings(project_id, {"subtitles": {"font": relative}})

    def _merge_settings(self, project_id: int, settings: dict[str, Any]) -> None:
        """Merge settings into the stored ones inside one write transaction."""
        folder = self.folder(project_id)
        self.store.update_project(project_id, change=lambda current: merge_options(
            current, {"settings": settings}, folder))

    def _check_asset(self, path: Path, kind: str) -> str:
        if kind == "image":
            return uploads.check_image(path, self.limits).ext
        if kind == "audio":
            return uploads.check_audio(path, self.limits).ext
        if kind == "video":
            return uploads.check_video(path).ext
        try:
            return uploads.check_image(path, self.limits).ext
        except UploadRejected:
            return uploads.check_audio(path, self.limits).ext

    def remove_asset(self, project_id: int, name: str) -> ProjectDetail:
        """Turn a file setting off and delete its file."""
        self._asset_kind(name)
        project = self.project(project_id)
        self._not_rendering(project_id, f"remove the {name}")
        self._merge_settings(project_id, {name: None})
        old = self._asset_path(project, name)
        if old:
            uploads.remove_quietly(self.folder(project_id) / old)
        return self.views.detail(project_id)

    def asset_file(self, project_id: int, name: str) -> Path:
        """The file of a file setting (404 when none is attached)."""
        self._asset_kind(name)
        relative = self._asset_path(self.project(project_id), name)
        path = self.folder(project_id) / relative if relative else None
        if path is None or not path.is_file():
            raise NotFound(f"No {name} file is attached to this project.")
        return path

    def _preview_project(self, project_id: int, platform: PlatformName | None = None
                         ) -> Project:
        """The engine's project for a preview: missing media stand in as blanks, and the
        frame is at most :data:`PREVIEW_LONGEST` pixels on its longer side. With
        ``platform``, the project as rendered for it (see :meth:`Project.for_platform`)."""
        return self._preview_engine(project_id, self._preview_manifest(project_id),
                                    platform=platform)

    def _preview_manifest(self, project_id: int) -> dict[str, Any]:
        """The project's manifest with a stand-in for each missing picture."""
        project = self.project(project_id)
        rows = self.store.segments(project_id)
        manifest = build_manifest(project.title, project.options, rows)
        manifest["segments"] = [  # no narration is needed to draw a frame
            seg if {"image", "video", "title"} & seg.keys() else {**seg, "image": "images/.none"}
            for seg in manifest["segments"]] or [
            {"image": "images/.none", "text": SAMPLE_CAPTION}]
        return manifest

    def _preview_engine(self, project_id: int, manifest: dict[str, Any],
                        width: int | None = None, *, platform: PlatformName | None = None
                        ) -> Project:
        """The engine's project of ``manifest`` (as rendered for ``platform``), at most
        :data:`PREVIEW_LONGEST` pixels on its longer side (or ``width`` wide), never
        larger than the video."""
        try:
            engine = project_from_dict(manifest, base_dir=self.folder(project_id))
            if platform is not None:
                engine = engine.for_platform(platform)
            scale = PREVIEW_LONGEST / max(engine.width, engine.height)
            if width is not None:
                scale = width / engine.width
            if scale < 1:
                engine = apply_overrides(engine, {"width": even_ceil(engine.width * scale),
                                                  "height": even_ceil(engine.height * scale)})
        except ValidationFailed as exc:
            raise _invalid(exc) from exc
        return engine

    def caption_preview(self, project_id: int) -> bytes:
        """A PNG of one frame drawn by the engine: the first still (or a neutral
        background) with a caption in the project's style, size and safe area."""
        engine = self._preview_project(project_id)
        return self._drawn(lambda: caption_preview(engine, self.stills))

    def segment_preview(self, project_id: int, segment_id: int, *, end: bool,
                        platform: PlatformName | None = None) -> bytes:
        """A PNG of the segment's first (or last) frame as the render frames and moves it,
        with that moment's caption: a portrait photo's crop shows before any render.
        ``platform``: as that platform's video frames it."""
        segment = self.segment(project_id, segment_id)
        if not (segment.image_file or segment.video_file or segment.title):
            raise NotFound("This segment has no picture yet: drop one on it first.")
        index = [s.id for s in self.store.segments(project_id)].index(segment_id)
        engine = self._preview_project(project_id, platform)
        return self._drawn(lambda: segment_frame(engine, index, end=end, load=self.stills))

    def clip_filmstrip(self, project_id: int, segment_id: int) -> bytes:
        """A PNG of a few frames across the segment's trimmed clip, side by side."""
        number, visual = self._segment_clip(project_id, segment_id)
        return self._drawn(lambda: clip_filmstrip(visual, segment=number))

    def clip_frame(self, project_id: int, segment_id: int) -> bytes:
        """A PNG of the first frame of the segment's trimmed clip, whole (not cropped)."""
        number, visual = self._segment_clip(project_id, segment_id)
        return self._drawn(lambda: clip_first_frame(visual, segment=number))

    def _segment_clip(self, project_id: int, segment_id: int) -> tuple[int, Video]:
        """The segment's place in the story (1-based) and its clip, as a render sees it."""
        segment = self.segment(project_id, segment_id)
        if not segment.video_file:
            raise NotFound("This segment has no clip: drop a video on it first.")
        index = [s.id for s in self.store.segments(project_id)].index(segment_id)
        visual = self._preview_project(project_id).segments[index].visual
        if not isinstance(visual, Video):
            raise NotFound("This segment has no clip: drop a video on it first.")
        return index + 1, visual

    def frame_grid(self, project_id: int) -> FrameGridOut:
        """How many frames the video will have, at what rate, and where each segment
        starts: planned as :meth:`frame_at` plans it."""
        timeline = self._moments(project_id, self._preview_manifest(project_id)).timeline
        plan, story, draft = timeline.story.plan, timeline.story, timeline.draft_plan
        rows = self.store.segments(project_id)
        spans = [story.item_span_of_segment(i) for i in range(len(rows))]
        return FrameGridOut(
            fps=str(plan.fps), frames=plan.total_frames, seconds=float(plan.duration),
            estimated=list(timeline.estimated) if rows else [],
            segments=[SegmentStartOut(
                id=row.id, frame=plan.spans[span].first_frame,
                seconds=float(plan.seconds(plan.spans[span].first_frame)),
                draft_seconds=float(draft.seconds(draft.spans[span].first_frame)))
                for row, span in zip(rows, spans, strict=False)])

    def _moments(self, project_id: int, manifest: dict[str, Any],
                 width: int | None = None, platform: PlatformName | None = None) -> Moments:
        """The planned timeline of ``manifest`` drawn ``width`` wide (as ``platform``'s
        video): kept, or planned."""
        key = hashlib.sha256(json.dumps([manifest, width, platform], sort_keys=True,
                                        default=str).encode()).hexdigest()
        moments = self.moments.get(key)
        if moments is None:
            engine = self._preview_engine(project_id, manifest, width, platform=platform)
            moments = self._in_slot(lambda: Moments(plan_moments(
                engine, facts=self._facts, digest=self.stills.digest), self.stills))
            moments = self.moments.keep(key, moments)
        return moments

    def frame_at(self, project_id: int, seconds: str, width: int | None = None,
                 platform: PlatformName | None = None) -> Frame:
        """The frame the video will show at ``seconds``, as a JPEG: drawn by the render's own
        code (picture, motion, crossfade, caption with its word lit, logo, fades) at
        preview size, or ``width`` pixels wide. ``platform``: the frame of that platform's
        video of a render for several (its shape, safe area and caption size; every
        platform's video has the same timeline).

        The timeline is planned once per version of the project and kept (with the
        pictures in use), so the next frame of a scrub is only drawn.
        """
        at = _seconds(seconds)
        moments = self._moments(project_id, self._preview_manifest(project_id), width,
                                platform)
        timeline = moments.timeline
        try:
            index = frame_at_time(at, timeline)
        except OutsideVideo as exc:
            raise OutOfRange(f"No frame at {seconds} s: {exc}.") from exc
        jpeg = self._in_slot(lambda: _jpeg(lambda: moments.frame(index)))
        return Frame(jpeg, index, timeline.story.plan.fps, timeline.estimated)

    def _in_slot(self, work: Callable[[], _T]) -> _T:
        """``work`` done in one of the :data:`PREVIEW_SLOTS`, or :class:`Busy` when none
        frees up within :attr:`preview_wait` seconds."""
        if not self.preview_slots.acquire(timeout=self.preview_wait):
            raise Busy("Too many previews are being drawn; try again in a moment.",
                       retry_after=5)
        try:
            return work()
        finally:
            self.preview_slots.release()

    def _drawn(self, draw: Callable[[], NDArray[np.uint8]]) -> bytes:
        """A preview drawn in one of the :data:`PREVIEW_SLOTS`, or :class:`Busy` when none
        frees up within :attr:`preview_wait` seconds."""
        if not self.preview_slots.acquire(timeout=self.preview_wait):
            raise Busy("Too many previews are being drawn; try again in a moment.",
                       retry_after=5)
        try:
            return _png(draw)
        finally:
            self.preview_slots.release()

    # -- renders ---------------------------------------------------------------------------

    def render(self, project_id: int, *, draft: bool = False,
               segments: str | None = None) -> JobRow:
        """Queue a render (a quick ``draft`` or the final video; of the ``segments`` named
        only, a cut such as ``2-4``) after checking that every segment is complete."""
        project = self.project(project_id)
        rows = self.store.segments(project_id)
        active = self.store.active_job(project_id)
        if active is not None:
            raise Conflict("This project is already being rendered; wait for it or stop it "
                           "first.", job_id=active.id)
        problems = render_problems(project.title, project.options, rows,
                                   self.folder(project_id))
        if problems:
            count = len(problems)
            raise Invalid(f"The video cannot be made yet: {count} thing"
                          f"{'s' if count != 1 else ''} to fix.",
                          [_problem_out(p, rows) for p in problems])
        cut = _cut(segments, len(rows))
        try:
            job = self.store.create_job(project_id, draft=draft, cut=cut)
        except ActiveJobExists as exc:
            raise Conflict("This project is already being rendered; wait for it or stop it "
                           "first.", job_id=exc.job.id) from exc
        self.dispatcher.submitted(job.id)
        return job

    def render_all(self) -> tuple[list[int], list[SkippedProject]]:
        """Queue a render of every project that is ready and not already rendering.

        Returns:
            The projects queued, and the others with the reason each was left.
        """
        queued, skipped = [], []
        for project in self.store.list_projects():
            try:
                self.render(project.id)
            except StudioError as exc:
                skipped.append(SkippedProject(project_id=project.id, title=project.title,
                                              reason=_reason(exc)))
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
                raise Invalid("This segment has no text to speak.")
        segments = self.store.segments(project_id)
        targets, kept = targets_for(segments, project.options, segment_id, replace)
        if segment_id is not None and kept:
            raise Conflict("This segment has an uploaded recording: confirm to "
                                   "replace it with a generated narration.")
        if not targets:
            raise Invalid("Every segment with text already has an up-to-date "
                                   "narration.")
        try:
            job = self.store.create_job(project_id, "narrate", targets)
        except ActiveJobExists as exc:
            raise Conflict("This project already has a job running.",
                              job_id=exc.job.id) from None
        self.dispatcher.submitted(job.id)
        return job, kept

    def voice_sample(self, engine: str, voice: str | None, speed: float) -> Path:
        """A cached WAV of a short sentence in a voice (for the "listen" button), kept in
        the data folder's cache."""
        from pydantic import ValidationError

        from storyreel.errors import VoiceError
        from storyreel.model.project import Voice
        from storyreel.voice.cache import NarrationCache
        from storyreel.voice.narrate import Narrator

        try:
            chosen = Voice.model_validate({"engine": engine, "voice": voice, "speed": speed})
            narrator = Narrator(NarrationCache(self.data_dir / "cache"))
            return narrator.speak(VOICE_SAMPLE, chosen).entry.wav
        except ValidationError as exc:
            raise Invalid("Those voice settings are not valid.",
                              [_problem_out(p) for p in problems_from(exc)]) from exc
        except VoiceError as exc:
            raise Invalid(str(exc)) from exc

    def cancel(self, project_id: int) -> StatusOut:
        """Cancel a queued render at once, or stop a running one within seconds."""
        self.project(project_id)
        job = self.store.request_cancel(project_id)
        if job is None:
            raise Conflict("There is no queued or running render to cancel.")
        self.dispatcher.cancel(job.id)
        return self.views.status(project_id)

    def finished(self, job_id: int) -> tuple[JobRow, ProjectRow]:
        """A completed render and its project (404 otherwise)."""
        job = self.store.get_job(job_id)
        project = self.store.get_project(job.project_id) if job else None
        if job is None or project is None or job.status != "completed" or not job.output_file:
            raise NotFound("This video does not exist (it may have been deleted) or is not "
                           "finished yet.")
        return job, project

    def render_file(self, job_id: int, kind: str,
                    platform: PlatformName | None = None) -> tuple[Path, str]:
        """The video or captions of a finished render and a sensible download name;
        ``platform`` picks one video of a render for several."""
        job, project = self.finished(job_id)
        folder = self.folder(project.id)
        stem = f"{slugify(project.title)}-{job.id}"
        video, captions = job.output_file, job.captions_file
        if platform is not None:
            stem += f"-{platform}"
            video = next((str(o["file"]) for o in job.outputs or []
                          if o["platform"] == platform), None)
            if video is None:
                raise NotFound(f"This render made no {platform} video.")
            captions = video
        assert video is not None
        if kind == "video":
            path, name = folder / video, f"{stem}.mp4"
        elif kind in ("chapters.txt", "jpg"):
            path = (folder / video).with_suffix(f".{kind}")
            name = f"{stem}.{kind}"
        elif kind == "thumbnail":
            path = sidecar_path(folder / video, THUMBNAIL_SUFFIX)
            name = f"{stem}{THUMBNAIL_SUFFIX}"
        else:
            if not captions:
                raise NotFound("This render has no captions (the story has no text).")
            path = (folder / captions).with_suffix(f".{kind}")
            name = f"{stem}.{kind}"
        if not path.is_file():
            raise NotFound("The file of this render is missing from the data folder.")
        return path, name


def _cut(spec: str | None, count: int) -> list[int] | None:
    """The 1-based segments a render's ``segments`` names (``None``: the whole story).

    Raises:
        Invalid: The list does not read, or names a segment the project lacks.
    """
    if spec is None or not spec.strip():
        return None
    try:
        cut = segment_numbers(spec, count)
    except ValidationFailed as exc:
        raise Invalid(f"Which segments to render: {exc.problems[0].message}.") from None
    return None if cut == list(range(1, count + 1)) else cut


def _reason(exc: StudioError, shown: int = 3) -> str:
    """Why a project cannot render, with its first few problems named by segment."""
    details = [f"segment {p.segment} {p.message}" if p.segment else p.message
               for p in exc.problems or []]
    if not details:
        return str(exc)
    more = f"; and {len(details) - shown} more" if len(details) > shown else ""
    return f"{str(exc).rstrip('.')} ({'; '.join(details[:shown])}{more})."


def _seconds(text: str) -> Fraction:
    """A time in seconds as sent (a decimal number), exactly; :class:`OutOfRange` when it
    is not one. Read to the picosecond: ``1e-999999999`` costs nothing to read."""
    try:
        short = len(text) <= _MAX_TIME_CHARS and text.isascii()
        value = Decimal(text) if short else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise OutOfRange(f"The time must be a number of seconds, like 12.5 (not "
                         f"{text[:_MAX_TIME_CHARS]!r}).")
    if value.adjusted() > _MAX_TIME_DIGITS:
        return Fraction(int((Decimal(10) ** _MAX_TIME_DIGITS).copy_sign(value)) * 10)
    return Fraction(value.quantize(Decimal(1).scaleb(-12)))


def _unreadable(exc: MediaError) -> str:
    """What is wrong with a segment's media, in the words the page shows: the file by its
    kind and segment, never by its place in the studio's data folder."""
    problem = exc.problem
    where = f"segment {problem.segment}" if problem.segment is not None else "a file"
    return f"{where}: {problem.message}"


def _jpeg(draw: Callable[[], NDArray[np.uint8]]) -> bytes:
    """Draw a frame and encode it as JPEG; media the engine cannot read is a 400."""
    try:
        pixels = draw()
    except MediaError as exc:
        raise Invalid(f"The frame cannot be drawn: {_unreadable(exc)}") from exc
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=FRAME_QUALITY)
    return out.getvalue()


def _png(draw: Callable[[], NDArray[np.uint8]]) -> bytes:
    """Draw a preview and encode it as PNG; media the engine cannot read is a 400."""
    try:
        pixels = draw()
    except MediaError as exc:
        raise Invalid(f"The preview cannot be drawn: {_unreadable(exc)}") from exc
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


#: Where each kind of segment media is kept in a project's folder.
_MEDIA_FOLDERS = {"image": "images", "audio": "audio", "video": "video"}
_NO_IMAGE = {"image_file": None, "image_width": None, "image_height": None}
_NO_VIDEO = {"video_file": None, "video_width": None, "video_height": None,
             "video_seconds": None, "video_fps": None}


def _media_name(segment: SegmentRow, what: str) -> str | None:
    """The file behind a segment's ``image`` (or its ``thumbnail``), ``audio`` or ``video``."""
    if what == "audio":
        return segment.audio_file
    return segment.video_file if what == "video" else segment.image_file


def _media_fields(segment: SegmentRow, what: str) -> dict[str, Any]:
    """The columns an upload of ``what`` set on a segment (to share the file with another)."""
    if what == "image":
        return {"image_file": segment.image_file, "image_width": segment.image_width,
                "image_height": segment.image_height}
    if what == "video":
        return {"video_file": segment.video_file, "video_width": segment.video_width,
                "video_height": segment.video_height, "video_seconds": segment.video_seconds,
                "video_fps": segment.video_fps}
    return {"audio_file": segment.audio_file, "audio_samples": segment.audio_samples,
            "narration_from": segment.narration_from}


def _thumb(image: Path) -> Path:
    return image.with_name(image.stem + ".thumb.jpg")
