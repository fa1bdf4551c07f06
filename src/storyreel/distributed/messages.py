"""What senders and workers tell each other through Redis: JSON text, validated on arrival.

Whoever can write to the Redis can queue a job or answer one, so nothing read from it
is trusted: a job's argument and a job's answer are each one JSON string, parsed
strictly (exact types, no extra fields) into the models below, then checked against
bounds and against the folders the worker shares (:class:`Shared`) before anything is
opened or written. What fails is refused with one line, never used::

    sender:  PartJob ─ part_request() ─▶ JSON ─▶ read_part_request() ─ PartJob   :worker
    sender:  answer ◀─ read_part_answer() ◀─ JSON ◀─ PartDone / Refused          :worker

Speech goes the same way (:func:`speech_request`, :func:`read_speech_request`,
:func:`read_speech_answer`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from storyreel.errors import ValidationFailed, WorkerError
from storyreel.media.encoder import EncoderSettings
from storyreel.model.load import project_from_dict
from storyreel.model.project import MAX_SEGMENTS, MAX_TEXT_LENGTH, PRESETS, Voice
from storyreel.render.parts import PartJob
from storyreel.timeline.chunks import Chunk
from storyreel.timeline.plan import SAMPLE_RATE
from storyreel.timeline.story import Story
from storyreel.voice.speaker import SpeechJob

__all__ = ["MAX_MESSAGE", "PartDone", "Refused", "Shared", "SpeechDone", "Unspeakable",
           "answer", "part_request", "read_part_answer", "read_part_request",
           "read_speech_answer", "read_speech_request", "speech_request"]

#: Longest message read from Redis (a 2,000-segment project with long texts fits).
MAX_MESSAGE = 128 * 1024 * 1024
#: Longest timeline a part may belong to: 24 hours at the highest frame rate.
_MAX_FRAMES = 24 * 3600 * 120
_MAX_THREADS = 256
# What Fraction() reads as a number with an exponent of five digits or more.
_HUGE_EXPONENT = re.compile(r"(?i)\s*[+-]?[\d_]*(\.[\d_]*)?e[+-]?_*\d[\d_]{4,}\s*$")

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
#: A narration cache key (:func:`storyreel.voice.cache.narration_key`).
NarrationKey = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
_Name = Annotated[str, StringConstraints(max_length=200)]
_Line = Annotated[str, StringConstraints(max_length=4000)]
_PathText = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class _Request(_Message):
    render_id: Hex32
    identity: dict[_Name, _Name] = Field(max_length=64)


class _PartRequest(_Request):
    project: dict[str, Any]
    base_dir: _PathText
    story: Story
    chunk: Chunk
    settings: EncoderSettings
    fades: tuple[int, int]
    path: _PathText


class _SpeechRequest(_Request):
    key: NarrationKey
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_LENGTH)]
    voice: dict[str, Any]  # a Voice, validated as a manifest's is
    segment: Annotated[int, Field(ge=1, le=MAX_SEGMENTS)] | None
    root: _PathText


class PartDone(_Message):
    """A part is in place; ``encoded`` is false when it was there already."""

    encoded: bool
    warnings: list[_Line] = Field(max_length=1000)


class SpeechDone(_Message):
    """A narration is in the cache; ``spoken`` is false when it was there already."""

    spoken: bool


class Unspeakable(_Message):
    """The voice cannot say the text."""

    voice_error: _Line


class Refused(_Message):
    """A problem retrying would not mend (another build, an unseen folder, bad media)."""

    error: _Line


_PART_ANSWER: TypeAdapter[PartDone | Refused] = TypeAdapter(PartDone | Refused)
_SPEECH_ANSWER: TypeAdapter[SpeechDone | Unspeakable | Refused] = TypeAdapter(
    SpeechDone | Unspeakable | Refused)


@dataclass(frozen=True)
class Shared:
    """The folders a worker reads and writes: every path a job names must resolve
    (links followed) inside one of them."""

    folders: tuple[Path, ...]

    @classmethod
    def of(cls, folders: Sequence[Path]) -> Shared:
        """The folders, resolved once."""
        return cls(tuple(Path(f).expanduser().resolve() for f in folders))

    def inside(self, path: Path | str, what: str) -> Path:
        """``path`` resolved, if it lies inside a shared folder.

        Raises:
            WorkerError: It does not, or it is not absolute.
        """
        given = Path(path)
        if not given.is_absolute():
            raise WorkerError(f"refused a job: {what} {str(given)[:200]!r} is not an "
                              "absolute path")
        try:
            resolved = given.resolve()
        except (OSError, RuntimeError, ValueError) as exc:  # NUL byte, a loop of links
            raise WorkerError(f"refused a job: {what} {str(given)[:200]!r} cannot be "
                              f"resolved ({exc})") from exc
        if not any(resolved.is_relative_to(folder) for folder in self.folders):
            raise WorkerError(f"refused a job: {what} {str(given)[:200]!r} is outside the "
                              "shared folders this worker was given (--shared)")
        return resolved


def part_request(part: PartJob, render_id: str, identity: dict[str, str]) -> str:
    """The JSON text a worker gets for ``part``."""
    return _PartRequest(
        render_id=render_id, identity=identity,
        project=part.project.model_dump(mode="json"), base_dir=str(part.project.base_dir),
        story=part.story, chunk=part.chunk, settings=part.settings, fades=part.fades,
        path=str(part.path)).model_dump_json()


def read_part_request(text: object, shared: Shared) -> tuple[PartJob, str, dict[str, str]]:
    """The part, render id and sender's identity in a job's argument.

    Raises:
        WorkerError: Not a part request, out of bounds, or naming a path outside ``shared``.
    """
    message = _parse(_PartRequest, _refuse_huge_exponents(text), "part")
    try:
        project = project_from_dict(message.project, base_dir=Path(message.base_dir))
    except ValidationFailed as exc:
        raise WorkerError(f"refused a part: its project is not valid ({exc})") from exc
    shared.inside(message.base_dir, "the project folder")
    for file in project.input_files():
        shared.inside(file, "the media file")
    for item in message.story.items:
        for file in item.visual.files():
            shared.inside(file, "the clip" if item.clip is not None else "the media file")
    path = Path(message.path)
    shared.inside(path.parent, "the part's folder")
    _check_part(message, project.width, project.height, project.fps, path)
    _check_segments(message.story, len(project.segments))
    part = PartJob(project=project, story=message.story, chunk=message.chunk,
                   settings=message.settings, fades=message.fades, path=path)
    return part, message.render_id, dict(message.identity)


def _check_part(message: _PartRequest, width: int, height: int, fps: object,
                path: Path) -> None:
    plan, chunk, settings = message.story.plan, message.chunk, message.settings
    problems = []
    if not 0 < plan.total_frames <= _MAX_FRAMES or plan.sample_rate != SAMPLE_RATE:
        problems.append("its timeline is out of bounds")
    if not 0 <= chunk.start < chunk.end <= plan.total_frames or chunk.index > plan.total_frames:
        problems.append("its frames are not inside the timeline")
    if not all(0 <= fade <= plan.total_frames for fade in message.fades):
        problems.append("its fades are out of bounds")
    if len(message.story.items) != len(plan.spans):
        problems.append("its items do not match its plan")
    if ((settings.width, settings.height) != (width, height) or settings.fps != fps
            or plan.fps != fps or settings.sample_rate != SAMPLE_RATE):
        problems.append("its encoder settings do not match its project")
    if (settings.preset not in PRESETS or not 0 <= settings.threads <= _MAX_THREADS
            or not 0 < settings.video_bitrate <= 10**9
            or not 0 < settings.audio_bitrate <= 10**7):
        problems.append("its encoder settings are out of bounds")
    if path.suffix != ".mp4" or path.name.startswith("."):
        problems.append("it is not written to an .mp4 file")
    if problems:
        raise WorkerError(f"refused a part: {'; '.join(problems)}")


def _check_segments(story: Story, segments: int) -> None:
    """Every segment the story names is one of the project's."""
    named = [item.segment for item in story.items if item.segment is not None]
    named += [caption.segment for caption in story.captions]
    if any(not 0 <= index < segments for index in named) or any(
            (item.kind == "segment") != (item.segment is not None) for item in story.items):
        raise WorkerError("refused a part: its story names segments its project does not have")


def speech_request(speech: SpeechJob, root: str, render_id: str,
                   identity: dict[str, str]) -> str:
    """The JSON text a worker gets for ``speech``, spoken into the cache under ``root``."""
    return _SpeechRequest(render_id=render_id, identity=identity, key=speech.key,
                          text=speech.text, voice=speech.voice.model_dump(mode="json"),
                          segment=speech.segment, root=root).model_dump_json()


def read_speech_request(text: object, shared: Shared
                        ) -> tuple[SpeechJob, Path, str, dict[str, str]]:
    """The narration, cache root, render id and sender's identity in a job's argument.

    Raises:
        WorkerError: Not a narration request, out of bounds, or naming a path outside
            ``shared``.
    """
    message = _parse(_SpeechRequest, text, "narration")
    try:
        voice = Voice.model_validate(message.voice, context={"base_dir": Path(message.root)})
    except ValidationError as exc:
        raise WorkerError(f"refused a narration: voice: {_first_error(exc)}") from exc
    root = shared.inside(message.root, "the narration cache")
    shared.inside(root / "narration", "the narration cache")  # not a link out of it
    for file in (voice.model, voice.voices):
        if file is not None:
            shared.inside(file, "the voice file")
    speech = SpeechJob(key=message.key, text=message.text, voice=voice,
                       segment=message.segment)
    return speech, root, message.render_id, dict(message.identity)


def answer(result: PartDone | SpeechDone | Unspeakable | Refused) -> str:
    """The JSON text a worker answers."""
    return result.model_dump_json()


def read_part_answer(value: object, what: str) -> PartDone | Refused:
    """A worker's answer for a part.

    Raises:
        WorkerError: It is not one of the answers a storyreel worker gives.
    """
    return _answer(_PART_ANSWER, value, what)


def read_speech_answer(value: object, what: str) -> SpeechDone | Unspeakable | Refused:
    """A worker's answer for a narration.

    Raises:
        WorkerError: It is not one of the answers a storyreel worker gives.
    """
    return _answer(_SPEECH_ANSWER, value, what)


_T = TypeVar("_T")
_M = TypeVar("_M", bound=_Message)


def _answer(adapter: TypeAdapter[_T], value: object, what: str) -> _T:
    if not isinstance(value, str) or len(value) > MAX_MESSAGE:
        raise WorkerError(f"{what}: refused an answer that is not a storyreel worker's "
                          f"(a {type(value).__name__}, not its JSON text)")
    try:
        return adapter.validate_json(value)
    except ValidationError as exc:
        raise WorkerError(f"{what}: refused an answer that is not a storyreel worker's "
                          f"({_first_error(exc)})") from exc


def _parse(model: type[_M], text: object, what: str) -> _M:
    if not isinstance(text, str) or len(text) > MAX_MESSAGE:
        raise WorkerError(f"refused a {what}: its request is not JSON text of a bounded size")
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise WorkerError(f"refused a {what}: {_first_error(exc)}") from exc


def _refuse_huge_exponents(text: object) -> object:
    """``text``, refused when its story or encoder settings hold a string such as
    ``"1e999999999"``: where a fraction is expected (a frame rate, a clip's length) it
    would take minutes and gigabytes to build. The JSON is decoded first, so escapes
    (``\\u0065``) cannot hide one; texts and titles are words, not numbers."""
    if not isinstance(text, str) or len(text) > MAX_MESSAGE:
        return text
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError) as exc:  # not JSON, too deep, a 5,000-digit number
        raise WorkerError(f"refused a part: its request is not JSON ({exc})"[:300]) from exc
    pending = [decoded.get(k) for k in ("story", "settings")] if isinstance(decoded, dict) else []
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(v for k, v in value.items() if k not in ("text", "title"))
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and _HUGE_EXPONENT.match(value):
            raise WorkerError(f"refused a part: {value[:30]!r} is not a number it can hold")
    return text


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "not valid"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "the message"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"[:300]
