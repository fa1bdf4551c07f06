"""HTTP routes of the studio API. Each route is a thin mapping onto :class:`Studio`."""

from __future__ import annotations

import asyncio
import mimetypes
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.datastructures import UploadFile as StarletteUpload

from storyreel.errors import ManifestError
from storyreel.model.load import parse_json
from storyreel.model.platforms import PlatformName
from storyreel.service.errors import Busy, Invalid, NotFound, StudioError
from storyreel.service.etags import IfMatch, etag, parse_if_match
from storyreel.service.importers import split_story
from storyreel.service.options import options_schema
from storyreel.service.schemas import (
    BatchQueued,
    ErrorOut,
    FrameGridOut,
    GalleryItem,
    NarrateAccepted,
    NarrateRequest,
    ProjectCreate,
    ProjectDetail,
    ProjectSummary,
    ProjectUpdate,
    RenderAccepted,
    RenderRequest,
    SegmentCreate,
    SegmentOrder,
    SegmentOut,
    SegmentUpdate,
    StaleOut,
    StatusOut,
    StoryPart,
    StoryText,
    UploadOut,
    VideoOut,
)
from storyreel.service.studio import Studio
from storyreel.words import words

__all__ = ["router"]

#: How often the event stream looks for a change of status.
EVENT_POLL = 0.3

#: Largest id the database can hold (SQLite integers are 64-bit).
_MAX_ID = 2**63 - 1


def ids_in_range(request: Request) -> None:
    """Answer 404 for an id in the URL beyond what the database can hold (not a 500)."""
    for name, value in request.path_params.items():
        if name.endswith("_id") and isinstance(value, str) and len(value) > 18 \
                and value.isdigit() and (len(value) > 19 or int(value) > _MAX_ID):
            noun = {"job": "video"}.get(name.removesuffix("_id"), name.removesuffix("_id"))
            raise NotFound(f"This {noun} does not exist.")


#: A platform of a render for several (``None``: the render's only, or first, video).
Platform = Annotated[PlatformName | None, Query()]

router = APIRouter(prefix="/api", dependencies=[Depends(ids_in_range)], responses={
    400: {"model": ErrorOut, "description": "The request is not valid (problems listed)"},
    404: {"model": ErrorOut, "description": "No such project, segment or render"},
})


def get_studio(request: Request) -> Studio:
    """The studio of the running app."""
    studio: Studio = request.app.state.studio
    return studio


StudioDep = Annotated[Studio, Depends(get_studio)]

_IF_MATCH_WORDS = (
    "Write only if the resource is still at this version: the ETag of an earlier answer. "
    "A stale one gets 412 with the current state; `*` or no header writes whatever the "
    "version. Weak tags (W/) never match.")


def if_match(value: Annotated[str | None, Header(alias="If-Match",
                                                 description=_IF_MATCH_WORDS)] = None,
             ) -> IfMatch:
    """The request's ``If-Match`` (a malformed one is a 400)."""
    return parse_if_match(value)


IfMatchDep = Annotated[IfMatch, Depends(if_match)]

#: Answers of the routes that take ``If-Match``.
_STALE: dict[int | str, dict[str, Any]] = {
    412: {"model": StaleOut, "description": "If-Match names a version changed since: "
                                            "nothing was written; the body holds the "
                                            "current state and the ETag header its tag"}}


def _etag_doc(status: int, what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of an answer carrying an ETag header."""
    return {status: {"headers": {"ETag": {
        "description": f"Strong tag of the {what}'s version: send it back as If-Match",
        "schema": {"type": "string"}}}}}


_Tagged = TypeVar("_Tagged", ProjectDetail, SegmentOut)


def _tagged(response: Response, answer: _Tagged) -> _Tagged:
    """Put the answer's ETag in the response header too."""
    response.headers["ETag"] = answer.etag
    return answer


# -- projects -------------------------------------------------------------------------------

@router.get("/projects/", response_model=list[ProjectSummary], tags=["projects"])
def list_projects(studio: StudioDep) -> list[ProjectSummary]:
    """Every project with its render status and thumbnail, most recently changed first."""
    return studio.views.list_projects()


_CREATE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": ProjectCreate.model_json_schema(
            ref_template="#/components/schemas/{model}")},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "StoryFlow JSON, text blocks or a zip "
                                                   "bundle (manifest + media)"}}}},
        "text/plain": {"schema": {"type": "string", "description": "StoryFlow text blocks"}},
        "application/zip": {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post("/projects/", status_code=201, response_model=ProjectDetail, tags=["projects"],
             openapi_extra={"requestBody": _CREATE_BODY},
             responses={413: {"model": ErrorOut, "description": "The import is too large"},
                        **_etag_doc(201, "project")})
async def create_project(request: Request, response: Response,
                         studio: StudioDep) -> ProjectDetail:
    """Create a project, or import one.

    Send JSON (the studio's shape or a StoryFlow export with ``text_content`` and
    ``image_prompt``), StoryFlow's plain-text blocks as ``text/plain``, or a file as
    ``multipart/form-data`` field ``file`` (JSON, text or a zip bundle holding a storyreel
    manifest and its media; the type is read from the content).
    """
    return _tagged(response, await _create(request, studio))


async def _create(request: Request, studio: Studio) -> ProjectDetail:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        try:
            if not isinstance(upload, StarletteUpload):
                raise Invalid("Send the file to import in the form field 'file'.")
            return await run_in_threadpool(studio.import_file, upload.file)
        finally:
            await form.close()
    if kind in ("", "application/json") or kind.endswith("+json"):
        data = await _json_body(request)
        return await run_in_threadpool(studio.create_from_json, data)
    if kind.startswith("text/"):
        body = await request.body()
        return await run_in_threadpool(studio.import_text, body)
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        return await run_in_threadpool(studio.import_file, spool)


@router.post("/projects/sample/", status_code=201, response_model=ProjectDetail,
             tags=["projects"])
def create_sample_project(response: Response, studio: StudioDep) -> ProjectDetail:
    """Create the sample project: six stills with their text, chapters, music and a logo."""
    return _tagged(response, studio.create_sample())


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if not body.strip():
        raise Invalid("The request body is empty; send a JSON object.")
    try:  # parsed off the event loop: a large body must not stall other requests
        return await run_in_threadpool(parse_json, body)
    except ManifestError as exc:
        raise Invalid(f"The request body is not usable JSON: {exc}.") from exc


@router.get("/projects/{project_id}/", response_model=ProjectDetail, tags=["projects"],
            responses=_etag_doc(200, "project"))
def read_project(project_id: int, response: Response, studio: StudioDep) -> ProjectDetail:
    """A project with its ordered segments, render options and render status.

    The ``ETag`` header (and ``etag`` field) is the project's version: it changes with its
    title, its options and its list or order of segments, not with a segment's contents
    or its render status. Each segment carries its own ``etag``.
    """
    return _tagged(response, studio.views.detail(project_id))


@router.patch("/projects/{project_id}/", response_model=ProjectDetail, tags=["projects"],
              responses={**_STALE, **_etag_doc(200, "project")})
def update_project(project_id: int, body: ProjectUpdate, response: Response,
                   studio: StudioDep, condition: IfMatchDep) -> ProjectDetail:
    """Change the title or render options; ``settings`` merges into the current settings.

    Concurrent changes of different settings all survive (merged in one transaction).
    With ``If-Match``: only while the project is at that version (its ETag).
    """
    patch = body.model_dump(exclude_unset=True, exclude={"title"})
    return _tagged(response, studio.update(project_id, body.title, patch, condition))


@router.delete("/projects/{project_id}/", status_code=204, tags=["projects"],
               responses=_STALE)
def delete_project(project_id: int, studio: StudioDep, condition: IfMatchDep) -> None:
    """Delete a project with its segments, media and renders (``If-Match``: the project's
    ETag)."""
    studio.delete(project_id, condition)


@router.get("/schema/options/", tags=["projects"])
def render_options_schema() -> dict[str, Any]:
    """JSON Schema of the render options (width, height, fps, settings) and their bounds."""
    return options_schema()


# -- segments -------------------------------------------------------------------------------

@router.post("/projects/{project_id}/segments/", status_code=201, response_model=SegmentOut,
             tags=["segments"], responses={**_STALE, **_etag_doc(201, "new segment")})
def add_segment(project_id: int, body: SegmentCreate, response: Response, studio: StudioDep,
                condition: IfMatchDep) -> SegmentOut:
    """Add a segment (at ``position``, 1-based; default at the end).

    ``If-Match`` names the project (adding changes its list of segments); the answer's
    ``ETag`` is the new segment's.
    """
    fields = body.model_dump(exclude={"position"})
    return _tagged(response, studio.add_segment(project_id, fields, body.position, condition))


@router.patch("/projects/{project_id}/segments/{segment_id}/", response_model=SegmentOut,
              tags=["segments"], responses={**_STALE, **_etag_doc(200, "segment")})
def edit_segment(project_id: int, segment_id: int, body: SegmentUpdate, response: Response,
                 studio: StudioDep, condition: IfMatchDep) -> SegmentOut:
    """Edit a segment's text, chapter or image prompt, or move it to another position.

    ``If-Match`` names the segment: its ETag changes with its text, chapter, prompt,
    picture and narration, not with its place in the story.
    """
    fields = body.model_dump(exclude_unset=True, exclude={"position"})
    if fields.get("text") is None:
        fields.pop("text", None)
    return _tagged(response, studio.edit_segment(project_id, segment_id, fields,
                                                 body.position, condition))


@router.put("/projects/{project_id}/segments/order/", response_model=list[SegmentOut],
            tags=["segments"], responses={**_STALE, **_etag_doc(200, "project")})
def reorder_segments(project_id: int, body: SegmentOrder, response: Response,
                     studio: StudioDep, condition: IfMatchDep) -> list[SegmentOut]:
    """Reorder the segments: send every segment id in the new order.

    The order belongs to the project: ``If-Match`` and the answer's ``ETag`` are the
    project's.
    """
    segments = studio.reorder(project_id, body.order, condition)
    project = studio.project(project_id)
    response.headers["ETag"] = etag("p", project.id, project.version)
    return segments


@router.post("/stories/split/", response_model=list[StoryPart], tags=["segments"])
def split_text(body: StoryText) -> list[StoryPart]:
    """The segments a story splits into, by the text import's rule (blank lines, or
    ``Segment N`` headers and ``---`` lines, with labelled fields); none without text."""
    return [StoryPart(**part) for part in split_story(body.text)]


@router.post("/projects/{project_id}/segments/{segment_id}/split/",
             response_model=list[SegmentOut], tags=["segments"])
def split_segment(project_id: int, segment_id: int, body: StoryText,
                  studio: StudioDep) -> list[SegmentOut]:
    """Split a story pasted into a segment: it keeps the first part, the others follow it."""
    return studio.split_segment(project_id, segment_id, body.text)


@router.delete("/projects/{project_id}/segments/{segment_id}/", status_code=204,
               tags=["segments"], responses=_STALE)
def delete_segment(project_id: int, segment_id: int, studio: StudioDep,
                   condition: IfMatchDep) -> None:
    """Delete a segment and its media (``If-Match``: the segment's ETag)."""
    studio.delete_segment(project_id, segment_id, condition)


_UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "A render of the project is running, or a "
                                           "narration would be replaced without `replace`"},
    413: {"model": ErrorOut, "description": "The file is over the size cap"},
}
_SEGMENT_UPLOAD_RESPONSES = {**_UPLOAD_RESPONSES, **_STALE, **_etag_doc(200, "segment")}


@router.post("/projects/{project_id}/segments/{segment_id}/image/", response_model=UploadOut,
             tags=["segments"], responses=_SEGMENT_UPLOAD_RESPONSES)
def upload_image(project_id: int, segment_id: int, response: Response, studio: StudioDep,
                 file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
                 condition: IfMatchDep) -> UploadOut:
    """Upload or replace a segment's still; the answer gives its size in pixels.

    ``If-Match`` and the answer's ``ETag`` are the segment's.
    """
    answer = studio.upload(project_id, segment_id, "image", file.file, condition)
    response.headers["ETag"] = answer.segment.etag
    return answer


@router.post("/projects/{project_id}/segments/{segment_id}/audio/", response_model=UploadOut,
             tags=["segments"], responses=_SEGMENT_UPLOAD_RESPONSES)
def upload_audio(project_id: int, segment_id: int, response: Response, studio: StudioDep,
                 file: Annotated[UploadFile, File(description="WAV, MP3, FLAC, OGG or M4A")],
                 condition: IfMatchDep,
                 replace: Annotated[bool, Query(description="replace the segment's narration "
                                                "(generated or uploaded); without it, 409")
                                    ] = False,
                 ) -> UploadOut:
    """Upload a segment's narration (or replace it, with ``replace``); the answer gives
    its duration. A refused upload leaves the previous narration in place.

    ``If-Match`` and the answer's ``ETag`` are the segment's.
    """
    answer = studio.upload(project_id, segment_id, "audio", file.file, condition,
                           replace=replace)
    response.headers["ETag"] = answer.segment.etag
    return answer


@router.post("/projects/{project_id}/segments/{segment_id}/video/", response_model=UploadOut,
             tags=["segments"], responses=_SEGMENT_UPLOAD_RESPONSES)
def upload_video(project_id: int, segment_id: int, response: Response, studio: StudioDep,
                 file: Annotated[UploadFile, File(description="MP4, MOV, MKV or WebM")],
                 condition: IfMatchDep) -> UploadOut:
    """Upload or replace a segment's video clip (in place of its still); the answer gives
    its duration, size and frame rate. A clip that does not play keeps the old visual.

    ``If-Match`` and the answer's ``ETag`` are the segment's.
    """
    answer = studio.upload(project_id, segment_id, "video", file.file, condition)
    response.headers["ETag"] = answer.segment.etag
    return answer


@router.get("/projects/{project_id}/segments/{segment_id}/video/", tags=["segments"],
            response_class=FileResponse)
def segment_video(project_id: int, segment_id: int, studio: StudioDep) -> FileResponse:
    """The segment's video clip as uploaded."""
    return _media(studio.media_file(project_id, segment_id, "video"))


def _media(path: Path) -> FileResponse:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "private, no-cache"})


@router.get("/projects/{project_id}/segments/{segment_id}/image/", tags=["segments"],
            response_class=FileResponse)
def segment_image(project_id: int, segment_id: int, studio: StudioDep) -> FileResponse:
    """The segment's still as uploaded."""
    return _media(studio.media_file(project_id, segment_id, "image"))


@router.get("/projects/{project_id}/segments/{segment_id}/thumbnail/", tags=["segments"],
            response_class=FileResponse)
def segment_thumbnail(project_id: int, segment_id: int, studio: StudioDep) -> FileResponse:
    """A small JPEG of the segment's still."""
    return _media(studio.media_file(project_id, segment_id, "thumbnail"))


@router.get("/projects/{project_id}/segments/{segment_id}/audio/", tags=["segments"],
            response_class=FileResponse)
def segment_audio(project_id: int, segment_id: int, studio: StudioDep) -> FileResponse:
    """The segment's narration (range requests supported)."""
    return _media(studio.media_file(project_id, segment_id, "audio"))


@router.get("/projects/{project_id}/preview.png", tags=["projects"],
            response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "One frame as the engine draws it"}})
def caption_preview(project_id: int, studio: StudioDep) -> Response:
    """A still frame with a caption in the project's style, at its size and safe area."""
    return Response(studio.caption_preview(project_id), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


@router.get("/projects/{project_id}/segments/{segment_id}/preview.png", tags=["segments"],
            response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "The segment's first or last frame"}})
def segment_preview(project_id: int, segment_id: int, studio: StudioDep,
                    at: Literal["start", "end"] = "start", platform: Platform = None) -> Response:
    """The segment's first (``at=start``) or last (``at=end``) frame as the render frames and
    moves its picture, with that moment's caption: see the crop before rendering. With
    ``platform``, as that platform's video of a render for several draws it (its shape at
    the project's shorter side, its safe area)."""
    return Response(studio.segment_preview(project_id, segment_id, end=at == "end",
                                           platform=platform),
                    media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/projects/{project_id}/frames/", response_model=FrameGridOut, tags=["projects"],
            responses={503: {"model": ErrorOut, "description": "Too many previews at once"}})
def frame_grid(project_id: int, studio: StudioDep) -> FrameGridOut:
    """The video's frames as the next render will make them: their count and exact rate,
    and where each segment starts (segments not spoken yet are timed from their words)."""
    return studio.frame_grid(project_id)


#: Narrowest and widest frame preview, in pixels.
FRAME_WIDTHS = (64, 1280)


@router.get("/projects/{project_id}/frame.jpg", tags=["projects"], response_class=Response,
            responses={200: {"content": {"image/jpeg": {}},
                             "description": "The frame of the video at that time",
                             "headers": {
                                 "X-Storyreel-Frame": {"description": "Its frame number "
                                                       "(0-based)",
                                                       "schema": {"type": "integer"}},
                                 "X-Storyreel-Estimated": {
                                     "description": "Segments (1-based, comma-separated) "
                                                    "not spoken yet, whose length is "
                                                    "estimated from their words",
                                     "schema": {"type": "string"}}}},
                       422: {"model": ErrorOut, "description": "t is not a time of the "
                                                               "video"},
                       503: {"model": ErrorOut, "description": "Too many previews at once"}})
def frame_preview(project_id: int, studio: StudioDep,
                  t: Annotated[str, Query(description="seconds from the start, e.g. 12.5")],
                  w: Annotated[int | None, Query(ge=FRAME_WIDTHS[0], le=FRAME_WIDTHS[1],
                                                 description="width in pixels (default: "
                                                             "preview size)")] = None,
                  platform: Platform = None) -> Response:
    """The frame the video will show at ``t`` seconds, drawn by the render's own code:
    picture and motion, crossfade, caption with the word spoken then, logo, fades. With
    ``platform``, the frame of that platform's video of a render for several (its shape
    at the project's shorter side, its safe area and caption size).

    ``t`` is rounded once to the nearest frame; outside ``[0, length)`` (or not a number)
    it is a 422. Segments not spoken yet are timed from their words, and named in
    ``X-Storyreel-Estimated``.
    """
    frame = studio.frame_at(project_id, t, w, platform)
    headers = {"Cache-Control": "no-store", "X-Storyreel-Frame": str(frame.index)}
    if frame.estimated:
        headers["X-Storyreel-Estimated"] = ",".join(str(n) for n in frame.estimated)
    return Response(frame.jpeg, media_type="image/jpeg", headers=headers)


@router.get("/projects/{project_id}/segments/{segment_id}/filmstrip.png", tags=["segments"],
            response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "A few frames of the trimmed clip"}})
def segment_filmstrip(project_id: int, segment_id: int, studio: StudioDep) -> Response:
    """A few frames taken across the segment's trimmed clip, side by side (404 without a
    clip): what the trim keeps, at a glance."""
    return Response(studio.clip_filmstrip(project_id, segment_id), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


@router.get("/projects/{project_id}/segments/{segment_id}/clip-frame.png", tags=["segments"],
            response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "The trimmed clip's first frame, whole"}})
def segment_clip_frame(project_id: int, segment_id: int, studio: StudioDep) -> Response:
    """The first frame of the segment's trimmed clip, whole and at most 960 pixels on its
    longest side (404 without a clip): the picture its focus is chosen on."""
    return Response(studio.clip_frame(project_id, segment_id), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


# -- file settings --------------------------------------------------------------------------

@router.post("/projects/{project_id}/assets/{name}/", response_model=ProjectDetail,
             tags=["projects"], responses=_UPLOAD_RESPONSES)
def upload_asset(project_id: int, name: str, response: Response, studio: StudioDep,
                 file: Annotated[UploadFile, File(description="music, logo or clip")],
                 ) -> ProjectDetail:
    """Attach the file of a file setting: ``music`` (audio), ``logo`` (image), ``intro`` or
    ``outro`` (video clip). Its other fields are set with PATCH ``settings``."""
    return _tagged(response, studio.upload_asset(project_id, name, file.file,
                                                 filename=file.filename))


@router.get("/projects/{project_id}/assets/{name}/", tags=["projects"],
            response_class=FileResponse)
def asset_file(project_id: int, name: str, studio: StudioDep) -> FileResponse:
    """The attached file of a file setting."""
    return _media(studio.asset_file(project_id, name))


@router.delete("/projects/{project_id}/assets/{name}/", response_model=ProjectDetail,
               tags=["projects"])
def remove_asset(project_id: int, name: str, response: Response,
                 studio: StudioDep) -> ProjectDetail:
    """Turn a file setting off (no music, no logo...) and delete its file."""
    return _tagged(response, studio.remove_asset(project_id, name))


# -- renders --------------------------------------------------------------------------------

@router.post("/projects/{project_id}/render/", status_code=202, response_model=RenderAccepted,
             tags=["renders"], responses={
                 409: {"model": ErrorOut, "description": "A render is already queued or running"},
             })
def start_render(project_id: int, studio: StudioDep,
                 body: RenderRequest | None = None) -> RenderAccepted:
    """Queue a render: ``{"draft": true}`` for a quick draft (small size, fastest preset,
    bitrate scaled to the size), else the final video; ``{"segments": "2-4"}`` for a cut
    of those segments only, with its own timing. 400 lists every problem."""
    job = studio.render(project_id, draft=body.draft if body else False,
                        segments=body.segments if body else None)
    return RenderAccepted(job_id=job.id, status="queued",
                          status_url=f"/api/projects/{project_id}/status/",
                          events_url=f"/api/projects/{project_id}/events/")


@router.post("/renders/all/", status_code=202, response_model=BatchQueued, tags=["renders"])
def render_all(studio: StudioDep) -> BatchQueued:
    """Queue every project that is ready (and not already rendering); say why others wait."""
    queued, left = studio.render_all()
    return BatchQueued(queued=queued, skipped={p.project_id: p.reason for p in left}, left=left)
@router.post("/projects/{project_id}/narrate/", status_code=202, response_model=NarrateAccepted,
             tags=["renders"], responses={
                 409: {"model": ErrorOut, "description": "A job is already queued or running, "
                                                         "or a recording would be replaced"},
             })
def start_narration(project_id: int, body: NarrateRequest,
                    studio: StudioDep) -> NarrateAccepted:
    """Generate narration from text with the project's voice, as a background job.

    Without ``segment_id``: every segment whose narration is missing or out of date.
    An uploaded recording is replaced only with ``replace: true``.
    """
    job, kept = studio.narrate(project_id, body.segment_id, body.replace)
    return NarrateAccepted(job_id=job.id, segments=job.targets or [], kept=kept,
                           status_url=f"/api/projects/{project_id}/status/",
                           events_url=f"/api/projects/{project_id}/events/")


@router.get("/voices/", tags=["renders"])
def list_voices(language: str | None = None) -> list[dict[str, Any]]:
    """Voice engines on this machine: ready or not (and why), their voices and languages.

    With ``language`` (a BCP 47 tag, the project's), each voice says whether it
    ``speaks`` it; the fallback engine (espeak-ng) is marked ``fallback``.
    """
    from dataclasses import asdict

    from storyreel.model.language import normalise_language, speaks_language
    from storyreel.voice.engines import engine_statuses
    from storyreel.voice.espeak import EspeakEngine

    try:
        tag = normalise_language(language) if language is not None else None
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    listed = []
    for status in engine_statuses():
        shown = asdict(status)
        shown["fallback"] = status.name == EspeakEngine.name
        for voice in shown["voices"]:
            voice["speaks"] = tag is not None and speaks_language(voice["language"], tag)
        listed.append(shown)
    return listed


@router.get("/voices/sample/", tags=["renders"], response_class=FileResponse)
def voice_sample(studio: StudioDep, voice: str | None = None, speed: float = 1.0,
                 engine: str = "hibari") -> FileResponse:
    """A short spoken sample of a voice at a speed (WAV), to listen before choosing."""
    return FileResponse(studio.voice_sample(engine, voice, speed), media_type="audio/wav")


@router.get("/projects/{project_id}/status/", response_model=StatusOut, tags=["renders"])
def render_status(project_id: int, studio: StudioDep) -> StatusOut:
    """Status, phase, percent, frames, ETA, message, error and (when done) the video URL."""
    return studio.views.status(project_id)


def _existing_project(project_id: int, studio: StudioDep) -> None:
    """404 before a stream starts (once it has, the answer is already 200), and 503 when
    the server has as many event streams open as it serves."""
    studio.project(project_id)
    if studio.event_streams >= studio.max_event_streams:
        raise Busy("Too many pages are following renders; close some and try again.",
                   retry_after=10)


@router.get("/projects/{project_id}/events/", response_class=EventSourceResponse,
            tags=["renders"])
async def render_events(project_id: int, request: Request, studio: StudioDep,
                        _: Annotated[None, Depends(_existing_project)],
                        ) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: a ``status`` event (same body as the status route) on each change.

    The stream stays open across renders; a ``deleted`` event ends it when the project is
    deleted. A server keeps at most ``MAX_EVENT_STREAMS`` open: past that, 503.
    """
    studio.event_streams += 1
    try:
        if studio.event_streams > studio.max_event_streams:  # opened together past the check
            yield ServerSentEvent(event="busy", data={"retry_after": 10})
            return
        last: dict[str, Any] | None = None
        while not await request.is_disconnected():
            try:
                status = await run_in_threadpool(studio.views.status, project_id)
            except StudioError:
                yield ServerSentEvent(event="deleted", data={"project_id": project_id})
                return
            current = status.model_dump(mode="json")
            if current != last:
                last = current
                yield ServerSentEvent(event="status", data=current, retry=2000)
            await asyncio.sleep(EVENT_POLL)
    finally:
        studio.event_streams -= 1


@router.post("/projects/{project_id}/cancel/", response_model=StatusOut, tags=["renders"],
             responses={409: {"model": ErrorOut, "description": "Nothing to cancel"}})
def cancel_render(project_id: int, studio: StudioDep) -> StatusOut:
    """Cancel a queued render at once, or stop a running one within seconds."""
    return studio.cancel(project_id)


@router.get("/projects/{project_id}/renders/", response_model=list[VideoOut],
            tags=["renders"])
def project_history(project_id: int, studio: StudioDep) -> list[VideoOut]:
    """Every finished video of the project (draft or final), newest first."""
    return studio.views.history(project_id)


@router.get("/renders/{job_id}/poster.jpg", tags=["renders"], response_class=FileResponse)
def render_poster(job_id: int, studio: StudioDep,
                  platform: Platform = None) -> FileResponse:
    """A small picture from the finished video, for the history."""
    path, _ = studio.render_file(job_id, "jpg", platform)
    return _media(path)


@router.get("/renders/{job_id}/thumbnail.jpg", tags=["renders"], response_class=FileResponse)
def render_thumbnail(job_id: int, studio: StudioDep,
                     platform: Platform = None) -> FileResponse:
    """The cover picture written with the video (``settings.thumbnail``), as a download;
    ``platform`` picks one video's of a render for several."""
    path, name = studio.render_file(job_id, "thumbnail", platform)
    return FileResponse(path, media_type="image/jpeg", filename=name)


@router.get("/words/", tags=["projects"])
def creator_words() -> dict[str, Any]:
    """The words the page shows for render phases, job states and option fields."""
    return words()


@router.get("/renders/", response_model=list[GalleryItem], tags=["renders"])
def gallery(studio: StudioDep) -> list[GalleryItem]:
    """Every finished render, newest first."""
    return studio.views.gallery()


@router.get("/renders/{job_id}/video/", tags=["renders"], response_class=FileResponse)
def render_video(job_id: int, studio: StudioDep,
                 platform: Platform = None) -> FileResponse:
    """The finished MP4, streamed with range requests (seekable in a browser)."""
    path, name = studio.render_file(job_id, "video", platform)
    return FileResponse(path, media_type="video/mp4", filename=name,
                        content_disposition_type="inline")


@router.get("/renders/{job_id}/download/", tags=["renders"], response_class=FileResponse)
def render_download(job_id: int, studio: StudioDep,
                    platform: Platform = None) -> FileResponse:
    """The finished MP4 as a download named after the project."""
    path, name = studio.render_file(job_id, "video", platform)
    return FileResponse(path, media_type="video/mp4", filename=name)


@router.get("/renders/{job_id}/captions.srt", tags=["renders"], response_class=FileResponse)
def render_captions_srt(job_id: int, studio: StudioDep,
                        platform: Platform = None) -> FileResponse:
    """Sidecar captions (SubRip) of the finished render, as a download."""
    path, name = studio.render_file(job_id, "srt", platform)
    return FileResponse(path, media_type="application/x-subrip", filename=name)


@router.get("/renders/{job_id}/captions.vtt", tags=["renders"], response_class=FileResponse)
def render_captions_vtt(job_id: int, studio: StudioDep,
                        platform: Platform = None) -> FileResponse:
    """Sidecar captions (WebVTT) of the finished render, for the browser's player."""
    path, name = studio.render_file(job_id, "vtt", platform)
    return FileResponse(path, media_type="text/vtt", filename=name,
                        content_disposition_type="inline")


@router.get("/renders/{job_id}/chapters.txt", tags=["renders"], response_class=FileResponse)
def render_chapters(job_id: int, studio: StudioDep,
                    platform: Platform = None) -> FileResponse:
    """YouTube chapters of the finished render (paste into the video description)."""
    path, name = studio.render_file(job_id, "chapters.txt", platform)
    return FileResponse(path, media_type="text/plain; charset=utf-8", filename=name)

