"""Request and response models of the studio API (the OpenAPI page at ``/docs`` shows them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from storyreel.model.language import LanguageTag
from storyreel.model.project import (
    MAX_CHAPTER_LENGTH,
    MAX_SEGMENTS,
    MAX_TEXT_LENGTH,
    MAX_TITLE_LENGTH,
)
from storyreel.model.visual import ClipOptions, FocusPoint
from storyreel.service.narration import NarrationState
from storyreel.words import creator_message, field_words

__all__ = [
    "AudioOut",
    "ChaptersOut",
    "ClipOut",
    "ErrorOut",
    "FrameGridOut",
    "GalleryItem",
    "ImageOut",
    "JobStatus",
    "NarrateAccepted",
    "NarrateRequest",
    "NarrationState",
    "ProblemOut",
    "ProjectCreate",
    "ProjectDetail",
    "ProjectSummary",
    "ProjectUpdate",
    "RenderAccepted",
    "RenderRequest",
    "SegmentCreate",
    "SegmentOrder",
    "SegmentOut",
    "SegmentStartOut",
    "SegmentUpdate",
    "SkippedProject",
    "StaleOut",
    "StatusOut",
    "StoryPart",
    "StoryText",
    "UploadOut",
    "VideoOut",
]

JobStatus = Literal["new", "queued", "processing", "completed", "failed", "cancelled"]

_TEXT_MAX = MAX_TEXT_LENGTH


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class SegmentCreate(BaseModel):
    """A new segment. StoryFlow's ``text_content`` is accepted for ``text``."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field("", max_length=_TEXT_MAX,
                      validation_alias=AliasChoices("text", "text_content"))
    chapter: str | None = Field(None, max_length=MAX_CHAPTER_LENGTH)
    image_prompt: str | None = Field(None, max_length=_TEXT_MAX)
    title: str | None = Field(None, max_length=MAX_TITLE_LENGTH,
                              description="drawn large on a card (a segment without a picture)")
    language: LanguageTag | None = Field(None, description="the language of its text (BCP "
                                                           "47); default: the project's")
    position: int | None = Field(None, ge=1, description="1-based place; default: at the end")


class SegmentUpdate(_Input):
    """Fields of a segment to change; omitted fields stay as they are."""

    text: str | None = Field(None, max_length=_TEXT_MAX)
    chapter: str | None = Field(None, max_length=MAX_CHAPTER_LENGTH)
    image_prompt: str | None = Field(None, max_length=_TEXT_MAX)
    title: str | None = Field(None, max_length=MAX_TITLE_LENGTH,
                              description="drawn large on a card (a segment without a picture)")
    clip: ClipOptions | None = Field(None, description="how the segment's video is trimmed, "
                                                       "fitted, framed and heard")
    focus: FocusPoint | None = Field(None, description="[x, y], shares of the picture: the "
                                                       "point a crop keeps (null: found)")
    language: LanguageTag | None = Field(None, description="the language of its text (BCP "
                                                           "47); null: the project's")
    position: int | None = Field(None, ge=1, description="1-based place to move the segment to")


#: A row id as the database holds them (SQLite integers are 64-bit, ids start at 1).
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class StoryText(_Input):
    """A story pasted into a segment (the request's size cap bounds it)."""

    text: str


class StoryPart(BaseModel):
    """One segment a pasted story splits into."""

    text: str
    chapter: str | None
    image_prompt: str | None


class SegmentOrder(_Input):
    """Every segment id of the project, in the new order."""

    order: list[RowId] = Field(min_length=1)


class ProjectCreate(BaseModel):
    """A new project: the studio's own shape or StoryFlow's export (``text_content``...).

    ``width``, ``height``, ``fps`` and ``settings`` are the render options of a storyreel
    manifest; omitted ones take the engine's defaults.
    """

    model_config = ConfigDict(extra="ignore")

    title: str = Field("Untitled story", max_length=MAX_TITLE_LENGTH)
    width: int | None = None
    height: int | None = None
    fps: float | str | None = None
    settings: dict[str, Any] | None = None
    segments: list[SegmentCreate] = Field(default_factory=list, max_length=MAX_SEGMENTS)


class ProjectUpdate(_Input):
    """Title and render options to change; ``settings`` is merged into the current ones."""

    title: str | None = Field(None, max_length=MAX_TITLE_LENGTH)
    width: int | None = None
    height: int | None = None
    fps: float | str | None = None
    settings: dict[str, Any] | None = None


class ProblemOut(BaseModel):
    """One reason a project cannot render, in a creator's words.

    The message loses the model's jargon and the field gets its human ``label`` here, so
    every answer that lists problems reads the same (see :mod:`storyreel.words`).
    """

    message: str
    segment: int | None = Field(None, description="1-based segment number")
    segment_id: int | None = None
    field: str | None = None
    label: str | None = Field(None, description="the field as the page names it")

    @model_validator(mode="after")
    def _in_words(self) -> ProblemOut:
        self.message = creator_message(self.message)
        if self.label is None:
            self.label = field_words(self.field)
        return self


class ErrorOut(BaseModel):
    """Every 4xx answer: a sentence, plus the list of problems when there are several."""

    detail: str
    problems: list[ProblemOut] | None = None


class StaleOut(ErrorOut):
    """A 412 answer: the write named a version changed since; nothing was written."""

    current: dict[str, Any] = Field(description="The project or segment as it is now (its "
                                                "new ETag is in the ETag header and in "
                                                "``current.etag``)")


class ImageOut(BaseModel):
    """A segment's still."""

    url: str
    thumbnail_url: str
    width: int
    height: int


class AudioOut(BaseModel):
    """A segment's narration."""

    url: str
    duration: float = Field(description="seconds")


class ClipOut(BaseModel):
    """A segment's video clip."""

    url: str
    duration: float = Field(description="seconds")
    width: int
    height: int
    fps: float


class SegmentOut(BaseModel):
    """A segment on the timeline: a still, a video clip or (with neither) a title card."""

    id: int
    number: int = Field(description="1-based place in the story")
    text: str
    chapter: str | None
    image_prompt: str | None
    image: ImageOut | None
    audio: AudioOut | None
    title: str | None = None
    video: ClipOut | None = None
    clip: dict[str, Any] | None = Field(None, description="the video's clip options")
    focus: list[float] | None = Field(None, description="[x, y], the point of the picture "
                                                        "its crops keep (null: found)")
    language: str | None = Field(None, description="the language of its text when it is "
                                                   "not the project's")
    missing: list[str] = Field(description="what the segment still needs to render")
    narration: NarrationState = Field(
        "missing", description="recorded (uploaded), generated (by the voice), outdated "
                               "(generated from an older text or voice), pending (spoken "
                               "from its text at render) or missing")
    seconds: float = Field(0.0, description="how long its narration lasts: the recording's "
                                            "length, else estimated from its words, counted "
                                            "as the captions count them in its language")
    etag: str = Field("", description="The segment's ETag (also in the ETag header): send "
                                      "it as If-Match to write only this version")


class VideoOut(BaseModel):
    """A finished video in the project's history."""

    job_id: int
    platform: str | None = Field(None, description="the platform it was made for, in a "
                                 "render for several platforms (one video each)")
    draft: bool = Field(description="a quick draft (small, fast) rather than the final video")
    width: int | None
    height: int | None
    size: int = Field(description="bytes")
    duration: float = Field(description="seconds")
    finished_at: float
    video_url: str
    download_url: str
    poster_url: str | None
    captions_url: str | None
    vtt_url: str | None
    chapters_url: str | None = Field(description="YouTube chapters, offered only when YouTube "
                                                  "will show them")
    thumbnail_url: str | None = Field(None, description="the cover picture written with the "
                                                        "video (settings.thumbnail)")
    cut: list[int] | None = Field(None, description="the segments (1-based) of a cut; null "
                                                     "for the whole story")
    warnings: list[str]
    stale: bool = Field(description="the project changed after this video was made")


class ChaptersOut(BaseModel):
    """Whether the segments' chapters will show on YouTube, explained before the render."""

    count: int
    ok: bool
    note: str


class StatusOut(BaseModel):
    """Where the project's latest render stands, and the video to show meanwhile."""

    project_id: int
    job_id: int | None
    kind: Literal["render", "narrate"] = Field(
        "render", description="what the job does: render the video, or generate narration")
    status: JobStatus
    state_words: str = Field(description="the status in a creator's words")
    phase_words: str = Field(description="the phase in a creator's words")
    cancelling: bool = False
    draft: bool = False
    video: VideoOut | None = Field(None, description="the newest finished video, kept while a "
                                                     "later render runs, fails or is cancelled")
    phase: str
    percent: float
    frames_done: int | None
    frames_total: int | None
    eta: float | None = Field(description="seconds left in the current phase, once known")
    rate: float | None
    message: str
    detail: str = Field("", description="what the render is doing or did, as the command "
                                        "line says it (\"Encoding 1 of 7 parts (6 reused)\")")
    error: str | None
    problems: list[ProblemOut] | None
    warnings: list[str] = Field(description="things worth knowing about a finished render")
    timings: dict[str, float] = Field(
        default_factory=dict, description="seconds each step of the finished job took "
        "(worker, speak, narrate, analyse, loudness, sound, parts, assemble, verify, "
        "publish, finish; the sound track is made while the parts are encoded; cpu: CPU "
        "seconds of the render process)")
    video_url: str | None
    download_url: str | None
    captions_url: str | None
    chapters_url: str | None = Field(description="YouTube chapter list, when segments have "
                                                  "chapters")
    updated_at: float | None


class ProjectSummary(BaseModel):
    """A project in the list."""

    id: int
    title: str
    status: JobStatus
    percent: float
    segments: int
    duration: float = Field(description="narration total in seconds")
    thumbnail_url: str | None
    video_url: str | None
    created_at: float
    updated_at: float


class ProjectDetail(ProjectSummary):
    """A project with its ordered segments, render options and render status."""

    options: dict[str, Any] = Field(description="width, height, fps and settings in effect")
    segment_list: list[SegmentOut]
    render: StatusOut
    chapters: ChaptersOut
    etag: str = Field("", description="The project's ETag (also in the ETag header): it "
                                      "changes with the title, the options and the list or "
                                      "order of segments, not with a segment's contents")


class UploadOut(BaseModel):
    """The answer to an upload: what the file turned out to be."""

    kind: Literal["image", "audio", "video"]
    width: int | None = None
    height: int | None = None
    duration: float | None = Field(None, description="seconds")
    fps: float | None = Field(None, description="a video's frame rate")
    format: str
    segment: SegmentOut


class SkippedProject(BaseModel):
    """A project "Render all" left, and why, in words."""

    project_id: int
    title: str
    reason: str


class BatchQueued(BaseModel):
    """What "Render all ready projects" did: renders queued, projects left and why."""

    queued: list[int]
    skipped: dict[int, str]
    left: list[SkippedProject] = Field(default_factory=list,
                                       description="the projects skipped, named, with why")


class RenderRequest(_Input):
    """How to render: a quick draft or the final video."""

    draft: bool = Field(False, description="a quick draft (the CLI's --draft) instead of the "
                                           "final video")
    segments: str | None = Field(None, max_length=200,
                                 description="render only these segments, with their own "
                                             "timing (a cut): 3, 2-5, 2- or 1,4-6")


class NarrateRequest(_Input):
    """Which narrations to generate."""

    segment_id: RowId | None = Field(None, description="one segment; every segment that "
                                                       "needs it when left out")
    replace: bool = Field(False, description="also replace an uploaded recording (ask first)")


class NarrateAccepted(BaseModel):
    """A narrate job was queued."""

    job_id: int
    segments: list[int] = Field(description="segments whose narration will be generated")
    kept: list[int] = Field(description="segments left alone: they have an uploaded recording")
    status_url: str
    events_url: str


class RenderAccepted(BaseModel):
    """A render was queued."""

    job_id: int
    status: JobStatus
    status_url: str
    events_url: str


class GalleryItem(BaseModel):
    """A finished render."""

    job_id: int
    project_id: int
    title: str
    video_url: str
    download_url: str
    captions_url: str | None
    thumbnail_url: str | None
    size: int
    duration: float
    finished_at: float
    draft: bool = False
    width: int | None = None
    height: int | None = None
    platform: str | None = Field(None, description="the platform it was made for, in a "
                                 "render for several platforms (one item each)")


class SegmentStartOut(BaseModel):
    """Where a segment starts in the video."""

    id: int
    frame: int = Field(description="its first frame (0-based)")
    seconds: float = Field(description="the time of that frame")
    draft_seconds: float = Field(description="where it starts in a draft (a draft rounds "
                                             "each segment's length on its own: it may be "
                                             "a frame or two from the final video's)")


class FrameGridOut(BaseModel):
    """The video's frames as the next render will make them: for a scrubber."""

    fps: str = Field(description="exact frame rate, as a fraction (e.g. 30000/1001)")
    frames: int = Field(description="frames in the video")
    seconds: float = Field(description="the video's length")
    estimated: list[int] = Field(description="segments (1-based) not spoken yet, timed "
                                             "from their words")
    segments: list[SegmentStartOut]
