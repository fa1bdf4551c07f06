"""Video clips: probed and checked, their frames read on their own clock, their sound streamed.

:func:`probe_clip` says what a clip holds (and refuses what cannot play) before a
render starts; :class:`~storyreel.media.clipread.ClipReader` gives the frame on
screen at any clip time; :func:`clip_sound` decodes just the range of sound asked
for, so a clip's length never decides how much memory it takes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.error
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.frame import VideoFrame

from storyreel.errors import MediaError
from storyreel.media.audio import CHANNELS, SAMPLE_RATE, Samples, take_front
from storyreel.media.clipread import (
    MAX_CLIP_PIXELS,
    MAX_CLIP_SIDE,
    ClipFrame,
    ClipReader,
    check_picture_size,
    clip_translated,
    close_iterator,
    codec_name,
    decode_video,
    display_size,
    frame_grid,
    frame_within,
    has_alpha,
    hdr_kind,
    is_interlaced,
    on_grid,
    open_clip,
    orientation,
    stream_rate,
)
from storyreel.media.files import check_regular_file

__all__ = [
    "MAX_CLIP_PIXELS",
    "MAX_CLIP_SECONDS",
    "MAX_CLIP_SIDE",
    "ClipFrame",
    "ClipInfo",
    "ClipReader",
    "ClipSound",
    "clip_sound",
    "frame_within",
    "probe_clip",
]

#: Longest clip accepted (its picture).
MAX_CLIP_SECONDS = 600


@dataclass(frozen=True)
class ClipInfo:
    """What a clip holds.

    Attributes:
        duration: Seconds of picture, from the first frame's display time to the end of
            the last frame (exact, from the stream's timestamps).
        fps: The stream's average frame rate.
        width: Width as shown (pixel aspect ratio and rotation applied).
        height: Height as shown.
        has_audio: Whether it has a sound stream.
        audio_duration: The sound's stated length in seconds (``None`` without sound).
            Sound running past the picture is never read: see :func:`clip_sound`.
        codec: The video codec's name (``h264``, ``hevc``, ``vp9``...).
        rotation: Clockwise degrees (0, 90, 180, 270) that show the picture upright.
        hdr: ``"pq"`` or ``"hlg"`` for HDR video (shown tone-mapped to SDR), else ``None``.
        interlaced: Whether its frames are interlaced (shown deinterlaced).
        alpha: Whether it has an alpha channel (shown over black).
        format: The container's format name (``mov``, ``matroska``, ``avi``...).
        mirrored: Whether the picture is also flipped left to right, after ``rotation``,
            to be shown (a mirrored display matrix, as some selfie cameras write).
    """

    duration: Fraction
    fps: Fraction
    width: int
    height: int
    has_audio: bool
    audio_duration: Fraction | None
    codec: str
    rotation: int
    hdr: Literal["pq", "hlg"] | None
    interlaced: bool
    alpha: bool
    format: str = ""
    mirrored: bool = False


_STILL = "clip is a still image, not a video (use it as a segment's picture instead)"


def _fail(path: Path, message: str) -> MediaError:
    return MediaError(message, path=path)


def probe_clip(path: Path, *, check_frames: bool = False) -> ClipInfo:
    """Say what a clip holds, refusing what cannot be shown.

    The picture's length is measured from every video packet's timestamps (no
    decoding) and its first frame is decoded; with ``check_frames`` its last frames
    are decoded too, which finds a file cut short.

    Raises:
        MediaError: One line naming the file: missing, empty, not a video (a text or a
            still image), truncated or corrupt, without a video stream, of a codec this
            build cannot decode, larger than 8K, or longer than
            :data:`MAX_CLIP_SECONDS`.
    """
    path = Path(path)
    check_regular_file(path, "clip")
    if path.stat().st_size == 0:
        raise _fail(path, "clip file is empty")
    with contextlib.ExitStack() as opened, clip_translated(path):

        def reopen() -> av.container.InputContainer:
            return opened.enter_context(open_clip(path))

        return _probe(path, reopen, check_frames)


def _probe(path: Path, reopen: Callable[[], av.container.InputContainer],
           check_frames: bool) -> ClipInfo:
    container = reopen()
    codec = _check_stream(path, container)
    duration = _measured(path, container, container.streams.video[0])
    container = _rewound(container, reopen)
    stream = container.streams.video[0]
    first = _first_frame(path, container, stream)
    if check_frames:
        _check_last_frames(path, _rewound(container, reopen), duration)
    shown = orientation(first)
    width, height = display_size(stream, shown.rotation)
    audio = container.streams.audio[0] if container.streams.audio else None
    return ClipInfo(
        duration=duration, fps=stream_rate(stream), width=width,
        height=height, has_audio=audio is not None,
        audio_duration=None if audio is None else _stated_seconds(container, audio),
        codec=codec, rotation=shown.rotation, hdr=hdr_kind(first),
        interlaced=is_interlaced(stream, first),
        alpha=has_alpha(first), format=container.format.name.split(",")[0],
        mirrored=shown.mirrored,
    )


def _check_stream(path: Path, container: av.container.InputContainer) -> str:
    """The video codec's name, once the stream is known to be a video this build shows."""
    if not container.streams.video:
        raise _fail(path, "clip has no video stream")
    if _is_image_format(container.format.name):
        raise _fail(path, _STILL)
    stream = container.streams.video[0]
    codec = codec_name(path, stream)
    check_picture_size(path, stream.codec_context.width, stream.codec_context.height)
    return codec


def _measured(path: Path, container: av.container.InputContainer,
              stream: av.video.stream.VideoStream) -> Fraction:
    """The picture's duration, once it is known to be complete, moving and not too long."""
    duration, packets, demuxed = _picture_seconds(container, stream)
    if duration > MAX_CLIP_SECONDS:
        raise _fail(path, f"clip is longer than {float(MAX_CLIP_SECONDS) / 60:g} minutes")
    if demuxed < (stream.frames or 0):  # the index lists frames the file lacks
        raise _fail(path, f"clip is truncated: {demuxed} of its {stream.frames} frames are "
                          "in the file")
    if packets == 1:
        raise _fail(path, _STILL)
    if duration <= 0:
        raise _fail(path, "clip has no frames (empty, truncated or corrupt)")
    return duration


def _picture_seconds(container: av.container.InputContainer,
                     stream: av.video.stream.VideoStream) -> tuple[Fraction, int, int]:
    """From the first frame's display time to the end of the last; packets shown and read.

    Packets an edit list hides are read but not shown.
    """
    tb = stream.time_base or Fraction(1, 90_000)
    first: int | None = None
    end = packets = demuxed = 0
    untimed = Fraction(0)
    for packet in container.demux(stream):
        demuxed += bool(packet.size)
        if not packet.size or packet.is_discard:
            continue
        packets += 1
        if packet.pts is None:  # a raw stream: count its frames' durations
            untimed += Fraction(packet.duration) * tb if packet.duration else Fraction(0)
            continue
        first = packet.pts if first is None else min(first, packet.pts)
        end = max(end, packet.pts + (packet.duration or 0))
        if (end - first) * tb > MAX_CLIP_SECONDS + 1:
            break  # too long already: no need to read the rest
    if first is None:
        return untimed, packets, demuxed
    return on_grid(Fraction(end - first) * tb, frame_grid(stream), tb), packets, demuxed


def _first_frame(path: Path, container: av.container.InputContainer,
                 stream: av.video.stream.VideoStream) -> VideoFrame:
    decoded = decode_video(container, stream)
    try:
        first = next(decoded, None)
    finally:
        close_iterator(decoded)
    if first is None:
        raise _fail(path, "clip has no frame that decodes (truncated or corrupt)")
    return first


def _rewound(container: av.container.InputContainer,
             reopen: Callable[[], av.container.InputContainer]) -> av.container.InputContainer:
    """``container`` back at its start, or the file opened again where it cannot seek."""
    try:
        container.seek(0)
    except (av.error.FFmpegError, OSError):
        return reopen()
    return container


def _check_last_frames(path: Path, container: av.container.InputContainer,
                       duration: Fraction) -> None:
    """Decode the clip's last seconds: a file cut short fails or ends early here."""
    stream = container.streams.video[0]
    tb = stream.time_base or Fraction(1, 90_000)
    origin = stream.start_time or 0
    aim = max(Fraction(0), duration - 2)
    if aim > 0:
        with contextlib.suppress(av.error.FFmpegError, OSError):  # unseekable: read it all
            container.seek(origin + int(aim / tb), backward=True, stream=stream)
    last: VideoFrame | None = None
    for frame in decode_video(container, stream):
        last = frame
    if last is None:
        raise _fail(path, "clip's last frames do not decode (truncated or corrupt)")
    if last.pts is not None:
        shown = Fraction(last.pts - origin) * tb + 1 / stream_rate(stream)
        if shown < duration - 1:
            raise _fail(path, f"clip is truncated: its frames end at {float(shown):.2f} s of "
                              f"{float(duration):.2f} s")


def _stated_seconds(container: av.container.InputContainer, stream: av.stream.Stream
                    ) -> Fraction:
    if stream.duration is not None and stream.time_base is not None:
        return Fraction(stream.duration) * stream.time_base
    return Fraction(container.duration or 0, 1_000_000)


def _is_image_format(name: str) -> bool:
    """FFmpeg's demuxers of still pictures: ``image2`` and ``png_pipe``, ``jpeg_pipe``..."""
    return any(part == "image2" or part.endswith("_pipe") for part in name.split(","))


def clip_sound(path: Path, start: Fraction, samples: int, gain_db: float = 0.0) -> Samples:
    """The clip's sound from ``start`` for exactly ``samples``, at 48 kHz stereo.

    ``start`` is on the clip's clock (0 is its first frame's time, as for
    :class:`ClipReader`). Only that range is decoded, however long the sound is; where
    the sound ends, or the clip has none, the rest is silence. For long ranges, read
    a :class:`ClipSound` block by block instead.

    Raises:
        MediaError: The clip cannot be opened or its sound fails to decode.
    """
    with ClipSound(path, start, gain_db) as sound:
        return sound.read(max(0, samples))


class ClipSound:
    """A clip's sound from ``start``, read in order as 48 kHz stereo float32 blocks.

    A :class:`~storyreel.audio.track.SoundStream`: it holds one decoded block at a
    time, so a clip with hours of sound behind seconds of picture costs no more than
    one with none. Past the sound's end (or without sound) it reads silence.

    Args:
        path: The clip.
        start: Where to start, seconds on the clip's clock (0 is its first frame).
        gain_db: Gain applied to every sample.

    Raises:
        MediaError: When opening: missing, unreadable or corrupt.
    """

    def __init__(self, path: Path, start: Fraction = Fraction(0), gain_db: float = 0.0) -> None:
        self._path = Path(path)
        self._gain = np.float32(10 ** (gain_db / 20))
        self._pending: list[Samples] = []
        self._pending_size = 0
        self._frames: Iterator[AudioFrame] | None = None
        self._skip: int | None = None
        self._container = open_clip(self._path)
        try:
            with clip_translated(self._path, "clip's sound"):
                self._setup(Fraction(start))
        except BaseException:
            self._container.close()
            raise

    def _setup(self, start: Fraction) -> None:
        container = self._container
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        video = container.streams.video[0] if container.streams.video else None
        origin = Fraction(0)
        if video is not None and video.start_time is not None and video.time_base is not None:
            origin = Fraction(video.start_time) * video.time_base
        self._tb = stream.time_base or Fraction(1, SAMPLE_RATE)
        self._target = origin + start  # seconds on the container's clock
        if self._target > 0:
            with contextlib.suppress(av.error.FFmpegError, OSError):  # else: read from 0
                container.seek(int(self._target / self._tb), backward=True, stream=stream)
        # A mono sound plays at its own level on both speakers, as narrations do (FFmpeg's
        # upmix to stereo would lower it by 3 dB).
        mono = stream.codec_context.channels == 1
        self._resampler = AudioResampler(format="fltp", layout="mono" if mono else "stereo",
                                         rate=SAMPLE_RATE)
        self._frames = container.decode(stream)

    def __enter__(self) -> ClipSound:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, n: int) -> Samples:
        """The next ``n`` samples, shape ``(2, n)``; silence once the sound has ended.

        Raises:
            MediaError: The sound fails to decode.
        """
        with clip_translated(self._path, "clip's sound"):
            while self._pending_size < n and self._decode_more():
                pass
        out, rest = take_front(self._pending, n)
        self._pending = [rest] if rest.shape[1] else []
        self._pending_size = rest.shape[1]
        if self._gain != 1:
            out *= self._gain
        return out

    def _decode_more(self) -> bool:
        """Decode one more frame into the pending blocks; ``False`` once at the end."""
        if self._frames is None:
            return False
        frame = next(self._frames, None)
        if frame is None:
            close_iterator(self._frames)
            self._frames = None
            blocks = self._resampler.resample(None)
        else:
            if self._skip is None:  # where the first decoded sound lies against the start
                at = Fraction(frame.pts) * self._tb if frame.pts is not None else self._target
                self._skip = round((self._target - at) * SAMPLE_RATE)
                if self._skip < 0:  # the sound starts later: silence first
                    self._add(np.zeros((CHANNELS, -self._skip), dtype=np.float32))
                    self._skip = 0
            blocks = self._resampler.resample(frame)
        for block in blocks:
            data = block.to_ndarray()[:CHANNELS].astype(np.float32, copy=False)
            if data.shape[0] == 1:
                data = np.repeat(data, CHANNELS, axis=0)
            drop = min(self._skip or 0, data.shape[1])
            self._skip = (self._skip or 0) - drop
            self._add(np.nan_to_num(data[:, drop:], nan=0.0,
                                    posinf=1.0, neginf=-1.0))
        return True

    def _add(self, block: Samples) -> None:
        if block.shape[1]:
            self._pending.append(np.ascontiguousarray(block, dtype=np.float32))
            self._pending_size += block.shape[1]

    def close(self) -> None:
        """Release the decoder and the file (safe to call twice)."""
        self._pending, self._pending_size = [], 0
        frames, self._frames = self._frames, None
        if frames is not None:
            close_iterator(frames)
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self._container.close()
