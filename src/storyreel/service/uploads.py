"""Upload safety: type by content, decoded checks, server-made file names, atomic publish.

No name, path or type sent by the client ever reaches the filesystem: files are
written under a random hidden name inside the project's own folder, checked by
decoding them, and only then published under a name the server makes
(``images/seg-12-3f9a0c1d.png``) with ``os.replace``. A rejected upload leaves
the previous file untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from storyreel.errors import MediaError
from storyreel.media.audio import SAMPLE_RATE, AudioReader
from storyreel.media.clip import probe_clip
from storyreel.media.image import probe_image as _probe_image
from storyreel.service.errors import TooLarge, UploadRejected
from storyreel.service.limits import Limits, human_size

__all__ = [
    "AudioInfo",
    "ImageInfo",
    "VideoInfo",
    "check_audio",
    "check_image",
    "check_video",
    "spooled_copy",
    "sweep_temps",
    "temp_name",
]

THUMB_SIZE = (480, 480)  # the longer side; the page crops to the project's aspect
_IMAGE_EXT = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp",
              "TIFF": "tif", "GIF": "gif"}
_AUDIO_EXT = {"wav": "wav", "mp3": "mp3", "flac": "flac", "ogg": "ogg", "mov": "m4a",
              "mp4": "m4a", "m4a": "m4a", "aac": "aac", "matroska": "webm", "webm": "webm",
              "aiff": "aiff", "caf": "caf", "opus": "opus"}


def temp_name(folder: Path) -> Path:
    """A fresh hidden file name in ``folder`` for an upload being checked."""
    return folder / f".upload-{secrets.token_hex(8)}.part"


def sweep_temps(media_root: Path) -> list[Path]:
    """Remove the uploads a server killed mid-upload left under ``media_root``.

    Only one server holds a data folder at a time (its lock), so when it starts, every
    upload temp file there belongs to a server that is gone.

    Returns:
        The files removed.
    """
    removed = []
    for path in media_root.rglob(".upload-*.part"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed.append(path)
    return removed


def spooled_copy(source: IO[bytes], target: Path, cap: int) -> int:
    """Copy an uploaded file to ``target``, refusing more than ``cap`` bytes."""
    written = 0
    with target.open("xb") as out:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > cap:
                raise TooLarge(f"The upload is too large (limit {human_size(cap)}).")
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
        bound = 2 * max(THUMB_SIZE)  # either way up: the EXIF turn comes after
        im.thumbnail((bound, bound), reducing_gap=2.0)  # shrunk before any conversion
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
    """A checked clip: container format, extension, picture size, length and frame rate."""

    format: str
    ext: str
    width: int
    height: int
    duration: float
    fps: Fraction = Fraction(0)


_VIDEO_EXT = {"mov": "mp4", "mp4": "mp4", "matroska": "mkv", "webm": "webm", "avi": "avi",
              "mpegts": "ts", "mpeg": "mpg", "gif": "gif"}


def check_video(path: Path, max_seconds: float = 600.0) -> VideoInfo:
    """Check ``path`` as a render would: probed, its first and last frames decoded.

    Raises:
        UploadRejected: Not a video, damaged, or longer than ``max_seconds``.
    """
    try:
        info = probe_clip(path, check_frames=True)
    except MediaError as exc:
        raise UploadRejected(f"This file cannot be used as a clip: {exc.problem.message}."
                             ) from exc
    if info.duration > max_seconds:
        raise UploadRejected(f"The clip is longer than the {max_seconds / 60:g} minute limit.")
    return VideoInfo(info.format, _VIDEO_EXT.get(info.format, "video"), info.width,
                     info.height, float(info.duration), info.fps)


def _creator_words(message: str) -> str:
    if "not a supported image" in message or "unsupported image format" in message:
        return "This file is not an image we can use: please upload a JPEG, PNG or WebP picture."
    if message.startswith("image is too large"):  # says it all: "image is too large (...)"
        return f"The {message}."
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
