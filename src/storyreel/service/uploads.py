"""Upload safety: size caps while streaming, type by content, server-made file names.

No name, path or type sent by the client ever reaches the filesystem: files are
written under a random hidden name inside the project's own folder, checked by
decoding them, and only then published under a name the server makes
(``images/seg-12-3f9a0c1d.png``) with ``os.replace``. A rejected upload leaves
the previous file untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import av
import av.error
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storyreel.errors import MediaError
from storyreel.media.audio import SAMPLE_RATE, AudioReader
from storyreel.media.clip import probe_clip
from storyreel.media.image import MAX_IMAGE_PIXELS
from storyreel.media.image import probe_image as _probe_image

__all__ = [
    "AudioInfo",
    "BodyLimitMiddleware",
    "ImageInfo",
    "Limits",
    "UploadRejected",
    "VideoInfo",
    "check_audio",
    "check_image",
    "check_video",
    "spooled_copy",
    "temp_name",
]

MB = 1_000_000
#: Largest JSON or text project sent as a request body (not as a file).
MANIFEST_BYTES = 20 * MB
THUMB_SIZE = (480, 270)
_IMAGE_EXT = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp",
              "TIFF": "tif", "GIF": "gif"}
_AUDIO_EXT = {"wav": "wav", "mp3": "mp3", "flac": "flac", "ogg": "ogg", "mov": "m4a",
              "mp4": "m4a", "m4a": "m4a", "aac": "aac", "matroska": "webm", "webm": "webm",
              "aiff": "aiff", "caf": "caf", "opus": "opus"}


@dataclass(frozen=True)
class Limits:
    """Upload caps. Bodies larger than these are refused with 413 while streaming.

    Attributes:
        image_bytes: Largest image upload.
        audio_bytes: Largest narration upload.
        import_bytes: Largest project import (JSON, text or zip bundle).
        json_bytes: Largest body of any other request.
        image_pixels: Largest still (width x height).
        audio_seconds: Longest narration of one segment.
        min_audio_seconds: Shortest narration accepted.
    """

    image_bytes: int = 50 * MB
    audio_bytes: int = 500 * MB
    import_bytes: int = 2000 * MB
    json_bytes: int = 2 * MB
    image_pixels: int = MAX_IMAGE_PIXELS
    audio_seconds: float = 2 * 3600
    min_audio_seconds: float = 0.05


class UploadRejected(Exception):
    """An upload is refused; ``status`` is the HTTP status, the message is for the creator."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


def _human(size: int) -> str:
    return f"{size / MB:g} MB" if size >= MB else f"{size / 1000:g} kB"


_UPLOAD_RE = re.compile(r"^/api/projects/\d+/segments/\d+/(image|audio)/?$")
_ASSET_RE = re.compile(r"^/api/projects/\d+/assets/[^/]+/?$")
_IMPORT_RE = re.compile(r"^/api/projects/?$")


class BodyLimitMiddleware:
    """Refuse request bodies over the route's cap with a JSON 413, before reading them whole.

    A declared ``Content-Length`` over the cap is refused without reading any of the
    body; a chunked body is counted as it arrives and cut off at the cap.
    """

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def cap_for(self, method: str, path: str, content_type: str = "") -> tuple[int, str]:
        """The byte cap of a request and the words that describe it."""
        match = _UPLOAD_RE.match(path)
        if match and method in ("POST", "PUT"):
            if match.group(1) == "image":
                return self.limits.image_bytes, "images"
            return self.limits.audio_bytes, "narration files"
        if _ASSET_RE.match(path) and method in ("POST", "PUT"):
            return self.limits.audio_bytes, "media files"
        if _IMPORT_RE.match(path) and method == "POST":
            if content_type.startswith(("application/json", "text/")):
                return min(self.limits.import_bytes, MANIFEST_BYTES), "project manifests"
            return self.limits.import_bytes, "project imports"
        return self.limits.json_bytes, "requests"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap, what = self.cap_for(scope["method"], scope["path"], _header(scope, b"content-type"))
        message = f"The upload is too large: {what} are limited to {_human(cap)}."
        length = _content_length(scope)
        if length is not None and length > cap:
            await _send_json(send, 413, message)
            return
        received = 0
        exceeded = False
        answered = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _TooLarge
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > cap:
                    exceeded = True
                    raise _TooLarge
            return msg

        async def guarded_send(msg: Message) -> None:
            # Whatever the app answers to a cut-off body (often a parse error) is
            # replaced by the 413 that explains it.
            nonlocal answered
            if not exceeded:
                await send(msg)
            elif not answered:
                answered = True
                await _send_json(send, 413, message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        except BaseExceptionGroup as group:
            if group.subgroup(_TooLarge) is None:
                raise
        if exceeded and not answered:
            await _send_json(send, 413, message)


class _TooLarge(Exception):
    pass


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value).decode("latin-1").strip().lower()
    return ""


def _content_length(scope: Scope) -> int | None:
    try:
        return int(_header(scope, b"content-length"))
    except ValueError:
        return None


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


def temp_name(folder: Path) -> Path:
    """A fresh hidden file name in ``folder`` for an upload being checked."""
    return folder / f".upload-{secrets.token_hex(8)}.part"


def spooled_copy(source: IO[bytes], target: Path, cap: int) -> int:
    """Copy an uploaded file to ``target``, refusing more than ``cap`` bytes."""
    written = 0
    with target.open("xb") as out:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > cap:
                raise UploadRejected(f"The upload is too large (limit {_human(cap)}).", 413)
            out.write(chunk)
    if written == 0:
        raise UploadRejected("The uploaded file is empty.")
    return written


@contextlib.contextmanager
def removing(path: Path) -> Iterator[Path]:
    """Yield ``path`` and delete it afterwards unless it was moved away."""
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class ImageInfo:
    """A checked still: its format, file extension and size after EXIF rotation."""

    format: str
    ext: str
    width: int
    height: int


@dataclass(frozen=True)
class AudioInfo:
    """A checked narration: container format, extension and length at 48 kHz."""

    format: str
    ext: str
    samples: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples / SAMPLE_RATE


def check_image(path: Path, limits: Limits) -> ImageInfo:
    """Decide by content whether ``path`` is a usable still, decoding every pixel once.

    Raises:
        UploadRejected: Not an image the engine can use, corrupt, or over the pixel cap.
    """
    try:
        width, height = _probe_image(path)
    except MediaError as exc:
        raise UploadRejected(_creator_words(exc.problem.message)) from None
    if width * height > limits.image_pixels:
        raise UploadRejected(f"The image is too large ({width}x{height}); the limit is "
                             f"{limits.image_pixels / 1e6:g} megapixels.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt = str(im.format)
                im.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, UnidentifiedImageError):
        raise UploadRejected("The image file is damaged: it could not be decoded.") from None
    return ImageInfo(fmt, _IMAGE_EXT.get(fmt, "img"), width, height)


def make_thumbnail(image: Path, target: Path) -> None:
    """Write a small JPEG preview of ``image`` (for the timeline and project list)."""
    temp = temp_name(target.parent)
    with removing(temp), Image.open(image) as im:
        im.draft("RGB", (THUMB_SIZE[0] * 2, THUMB_SIZE[1] * 2))
        rotated = ImageOps.exif_transpose(im)
        rgb = rotated.convert("RGB")
        rgb.thumbnail(THUMB_SIZE)
        rgb.save(temp, "JPEG", quality=82)
        os.replace(temp, target)


def check_audio(path: Path, limits: Limits) -> AudioInfo:
    """Decode ``path`` end to end to prove it is real audio of sane length.

    The duration the container states is checked before decoding; samples are then
    counted through the engine's 48 kHz reader and discarded, so a long narration is
    checked in constant memory and its length matches the render exactly.

    Raises:
        UploadRejected: Not audio, corrupt, silent-empty, too short or too long.
    """
    try:
        with AudioReader(path, max_seconds=limits.audio_seconds) as reader:
            for _ in reader.blocks():
                pass
            fmt, samples = reader.format, reader.samples_read
    except MediaError as exc:
        raise UploadRejected(_audio_words(exc.problem.message, limits)) from exc
    if samples == 0:
        raise UploadRejected("The recording is empty: it holds no sound.")
    if samples < limits.min_audio_seconds * SAMPLE_RATE:
        raise UploadRejected(f"The recording is too short ({samples / SAMPLE_RATE:.2f} s); "
                             f"narration must last at least {limits.min_audio_seconds:g} s.")
    return AudioInfo(fmt, _AUDIO_EXT.get(fmt, "audio"), samples)


def _audio_words(message: str, limits: Limits) -> str:
    if "longer than" in message:
        return (f"The recording is longer than the {limits.audio_seconds / 60:g} minute limit "
                "for one segment.")
    if "no audio stream" in message:
        return ("This file has no sound in it: please upload a narration recording (WAV, MP3, "
                "FLAC, OGG or M4A).")
    return ("This file is not a narration recording we can read (use WAV, MP3, FLAC, OGG or "
            "M4A), or it is damaged.")


@dataclass(frozen=True)
class VideoInfo:
    """A checked clip: container format, extension, picture size and length."""

    format: str
    ext: str
    width: int
    height: int
    duration: float


_VIDEO_EXT = {"mov": "mp4", "mp4": "mp4", "matroska": "mkv", "webm": "webm", "avi": "avi",
              "mpegts": "ts", "mpeg": "mpg", "gif": "gif"}


def check_video(path: Path, max_seconds: float = 600.0) -> VideoInfo:
    """Decode the start of ``path`` to prove it is a real video clip of sane length.

    Raises:
        UploadRejected: Not a video, damaged, or longer than ``max_seconds``.
    """
    try:
        probe_clip(path)
    except MediaError as exc:
        raise UploadRejected(f"This file cannot be used as a clip: {exc.problem.message}."
                             ) from exc
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            fmt = container.format.name.split(",")[0]
            if not container.streams.video:
                raise UploadRejected("This file is not a video clip (it has no picture).")
            stream = container.streams.video[0]
            duration = _clip_seconds(container, stream)
            first = next(container.decode(stream), None)
    except UploadRejected:
        raise
    except (av.error.FFmpegError, OSError, ValueError, EOFError):
        raise UploadRejected("This file is not a video clip we can read, or it is damaged."
                             ) from None
    if first is None:
        raise UploadRejected("The video clip holds no pictures.")
    if duration > max_seconds:
        raise UploadRejected(f"The clip is longer than the {max_seconds / 60:g} minute limit.")
    return VideoInfo(fmt, _VIDEO_EXT.get(fmt, "video"), first.width, first.height, duration)


def _clip_seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return (container.duration or 0) / 1_000_000


def _creator_words(message: str) -> str:
    if "not a supported image" in message or "unsupported image format" in message:
        return "This file is not an image we can use: please upload a JPEG, PNG or WebP picture."
    if "too large" in message:
        return f"The image is too large: {message}."
    return f"The image cannot be used: {message}."


def publish(temp: Path, target: Path) -> None:
    """Move a checked upload to its final name (atomic on the same filesystem)."""
    os.replace(temp, target)


def remove_quietly(*paths: Path) -> None:
    """Delete files that are no longer referenced; missing ones are fine."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def remove_tree(folder: Path) -> None:
    """Delete a project's media folder."""
    shutil.rmtree(folder, ignore_errors=True)
