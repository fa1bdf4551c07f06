"""Intro and outro clips: probed, decoded in order, fitted to the output size and rate.

A clip is shown letterboxed (never cropped) on black, and resampled in time by
showing, for each output frame, the latest source frame whose timestamp is not
after it; its sound is decoded like narration.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import Colorspace, Interpolation

from storyreel.errors import MediaError
from storyreel.media.audio import CHANNELS, Samples, decode_audio
from storyreel.media.encoder import PlaneViews, plane_views
from storyreel.media.files import check_regular_file

__all__ = ["ClipInfo", "ClipPicture", "clip_audio", "probe_clip"]

MAX_CLIP_SECONDS = 600


@dataclass(frozen=True)
class ClipInfo:
    """What a clip holds: its duration (exact, from the stream) and whether it has sound."""

    duration: Fraction
    has_audio: bool
    width: int
    height: int


def _fail(path: Path, message: str) -> MediaError:
    return MediaError(message, path=path)


def probe_clip(path: Path) -> ClipInfo:
    """Open a clip and measure its video duration by reading its packets (no decoding).

    Raises:
        MediaError: Missing, unreadable, without video, empty or too long.
    """
    check_regular_file(path, "clip")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise _fail(path, "clip has no video stream")
            stream = container.streams.video[0]
            tb = stream.time_base or Fraction(1, 90_000)
            first: int | None = None
            end = packets = 0
            for packet in container.demux(stream):
                if packet.pts is None or not packet.size:
                    continue
                packets += 1
                first = packet.pts if first is None else min(first, packet.pts)
                end = max(end, packet.pts + (packet.duration or 0))
            if packets == 1 or _is_image_format(container.format.name):
                raise _fail(path, "clip is a still image, not a video (use it as a segment's "
                                  "picture instead)")
            ctx = stream.codec_context
            info = ClipInfo(Fraction(end - (first or 0)) * tb, bool(container.streams.audio),
                            ctx.width, ctx.height)
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise _fail(path, f"clip is corrupt or not a supported video ({exc})") from exc
    if info.duration <= 0:
        raise _fail(path, "clip has no frames")
    if info.duration > MAX_CLIP_SECONDS:
        raise _fail(path, f"clip is longer than {MAX_CLIP_SECONDS // 60} minutes")
    return info


def _is_image_format(name: str) -> bool:
    """FFmpeg's demuxers of still pictures: ``image2`` and ``png_pipe``, ``jpeg_pipe``..."""
    return any(part == "image2" or part.endswith("_pipe") for part in name.split(","))


def clip_audio(path: Path, samples: int, gain_db: float = 0.0) -> Samples:
    """The clip's sound at 48 kHz stereo, cut or padded to exactly ``samples``."""
    out = np.zeros((CHANNELS, samples), dtype=np.float32)
    try:
        sound = decode_audio(path)
    except MediaError:
        return out  # a clip without (usable) sound plays silent
    length = min(samples, sound.shape[1])
    out[:, :length] = sound[:, :length] * np.float32(10 ** (gain_db / 20))
    return out


class ClipPicture:
    """Draws a clip's frames in order, letterboxed into the output planes."""

    def __init__(self, path: Path, width: int, height: int, fps: Fraction) -> None:
        self._path = path
        self._fps = fps
        self._width, self._height = width, height
        self._container = av.open(str(path), metadata_errors="ignore")
        try:
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            self._time_base = stream.time_base or Fraction(1, 90_000)
            self._start = stream.start_time or 0
            self._decoded: Iterator[VideoFrame] = self._container.decode(stream)
            src_w, src_h = stream.codec_context.width, stream.codec_context.height
            scale = min(width / src_w, height / src_h)
            self._fit = (max(2, int(src_w * scale) // 2 * 2), max(2, int(src_h * scale) // 2 * 2))
        except BaseException:
            self._container.close()
            raise
        self._current: VideoFrame | None = None
        self._pending: VideoFrame | None = None

    def _time(self, frame: VideoFrame) -> Fraction:
        return Fraction((frame.pts or 0) - self._start) * self._time_base

    def _frame_at(self, when: Fraction) -> VideoFrame | None:
        try:
            while True:
                if self._pending is None:
                    self._pending = next(self._decoded)
                if self._current is not None and self._time(self._pending) > when:
                    return self._current
                self._current, self._pending = self._pending, None
        except StopIteration:
            return self._current
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"clip failed to decode ({exc})", path=self._path) from exc

    def draw(self, dest: PlaneViews, index: int, t: float) -> None:
        """Draw the clip frame shown at output frame ``index`` of the clip."""
        frame = self._frame_at(Fraction(index) / self._fps)
        for plane, black in zip(dest, (16, 128, 128), strict=True):
            plane.fill(black)
        if frame is None:
            return
        fitted = frame.reformat(width=self._fit[0], height=self._fit[1], format="yuv420p",
                                dst_colorspace=Colorspace.ITU709,
                                interpolation=Interpolation.AREA)
        src = plane_views(fitted)
        x = (self._width - self._fit[0]) // 4 * 2
        y = (self._height - self._fit[1]) // 4 * 2
        for k, (plane, part) in enumerate(zip(dest, src, strict=True)):
            div = 1 if k == 0 else 2
            h, w = part.shape
            plane[y // div : y // div + h, x // div : x // div + w] = part

    def close(self) -> None:
        """Close the decoder."""
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self._container.close()
