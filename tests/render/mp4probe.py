"""Reading rendered MP4s back with PyAV, independently of storyreel's own verifier."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Mp4Info",
    "audio_track",
    "classify_frames",
    "expected_boundaries",
    "expected_frames",
    "luma_frames",
    "probe",
    "sample_of_frame",
    "top_boxes",
]


def top_boxes(path: Path) -> list[str]:
    """Top-level MP4 box types in file order."""
    boxes: list[str] = []
    data = path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return boxes


@dataclass
class Mp4Info:
    """What a decoder sees in the file."""

    boxes: list[str]
    video_streams: int
    audio_streams: int
    video_codec: str
    profile: str | None
    pix_fmt: str | None
    width: int
    height: int
    average_rate: Fraction | None
    color_primaries: int
    color_trc: int
    colorspace: int
    frames: int
    frame_times: list[Fraction]
    video_duration: Fraction
    audio_codec: str
    audio_profile: str | None
    audio_rate: int
    audio_channels: int
    audio_duration: Fraction
    audio_samples: int
    frame_colorspaces: set[int] = field(default_factory=set)


def _stream_duration(stream: av.stream.Stream) -> Fraction:
    if stream.duration is None or stream.time_base is None:
        return Fraction(0)
    return Fraction(stream.duration) * stream.time_base


def probe(path: Path) -> Mp4Info:
    """Decode every video frame and audio sample of ``path`` and describe the file."""
    boxes = top_boxes(path)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        vctx, actx = video.codec_context, audio.codec_context
        times: list[Fraction] = []
        spaces: set[int] = set()
        for frame in container.decode(video):
            assert frame.pts is not None and frame.time_base is not None
            times.append(Fraction(frame.pts) * frame.time_base)
            spaces.add(int(frame.colorspace))
        container.seek(0)
        samples = sum(frame.samples for frame in container.decode(audio))
        return Mp4Info(
            boxes=boxes,
            video_streams=len(container.streams.video),
            audio_streams=len(container.streams.audio),
            video_codec=vctx.name,
            profile=vctx.profile,
            pix_fmt=vctx.pix_fmt,
            width=vctx.width,
            height=vctx.height,
            average_rate=video.average_rate,
            color_primaries=int(vctx.color_primaries),
            color_trc=int(vctx.color_trc),
            colorspace=int(vctx.colorspace),
            frames=len(times),
            frame_times=times,
            video_duration=_stream_duration(video),
            audio_codec=actx.name,
            audio_profile=actx.profile,
            audio_rate=actx.sample_rate,
            audio_channels=actx.channels,
            audio_duration=_stream_duration(audio),
            audio_samples=samples,
            frame_colorspaces=spaces,
        )


def luma_frames(path: Path) -> list[NDArray[np.float32]]:
    """The Y plane of every decoded frame, as float32."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="gray").astype(np.float32))
    return out


def classify_frames(path: Path, palette: list[tuple[int, int, int]]) -> list[int]:
    """For every decoded frame, the index of the palette colour nearest its mean colour."""
    colours = np.array(palette, dtype=np.float64)
    found = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
            found.append(int(np.argmin(((colours - rgb) ** 2).sum(axis=1))))
    return found


def audio_track(path: Path) -> tuple[NDArray[np.float32], int]:
    """The decoded audio as ``(channels, n)`` float32 and its sample rate."""
    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in container.decode(stream):
            chunks.append(frame.to_ndarray().astype(np.float32))
    return np.concatenate(chunks, axis=1), rate


def expected_frames(ideal_samples: int, fps: Fraction, rate: int = 48_000) -> int:
    """Fewest frames whose sample position (rounded half up) covers ``ideal_samples``."""
    frames = math.ceil(Fraction(ideal_samples) * fps / rate)
    while frames > 1 and _sample_of(frames - 1, fps, rate) >= ideal_samples:
        frames -= 1
    return frames


def _sample_of(frame: int, fps: Fraction, rate: int) -> int:
    return int(Fraction(frame) * rate / fps + Fraction(1, 2))


def expected_boundaries(narrations: list[int], gap: int, fps: Fraction,
                        rate: int = 48_000) -> list[int]:
    """First frame of every segment plus the total: cumulative time, rounded half up once.

    A segment also lasts until its narration is over (a pause shorter than a frame is
    stretched rather than letting two narrations overlap).
    """
    starts = [0]
    ideal = 0
    for i, length in enumerate(narrations):
        ideal += length + gap
        if i == len(narrations) - 1:
            end = expected_frames(ideal, fps, rate)
        else:
            end = int(Fraction(ideal) * fps / rate + Fraction(1, 2))
        voice_end = math.ceil(Fraction(_sample_of(starts[-1], fps, rate) + length) * fps / rate)
        starts.append(max(end, starts[-1] + 1, voice_end))
    return starts


def sample_of_frame(frame: int, fps: Fraction, rate: int = 48_000) -> int:
    """The audio sample at which ``frame`` starts (rounded half up)."""
    return _sample_of(frame, fps, rate)
