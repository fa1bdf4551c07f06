"""Read a finished MP4 back and check it is what was asked for."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.video.stream import VideoStream

from storyreel.audio.loudness import LoudnessMeter
from storyreel.errors import MediaError, VerificationError
from storyreel.media.audio import AudioReader

__all__ = ["Expected", "VerifiedFile", "measure_audio", "top_level_boxes", "verify_mp4"]


@dataclass(frozen=True)
class Expected:
    """What the file must contain."""

    width: int
    height: int
    fps: Fraction
    frames: int
    audio_samples: int
    sample_rate: int


@dataclass(frozen=True)
class VerifiedFile:
    """What the file was found to contain."""

    frames: int
    video_duration: float
    audio_duration: float
    size: int


def top_level_boxes(path: Path) -> list[str]:
    """The types of the MP4's top-level boxes, in file order (``ftyp``, ``moov``, ...)."""
    boxes: list[str] = []
    with path.open("rb") as fh:
        while header := fh.read(8):
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0] - 8
            elif size == 0:
                boxes.append(kind.decode("latin-1"))
                break
            boxes.append(kind.decode("latin-1"))
            fh.seek(size - 8, 1)
    return boxes


def verify_mp4(path: Path, expected: Expected) -> VerifiedFile:
    """Check codecs, profile, size, frame rate, frame count, durations and faststart.

    Raises:
        VerificationError: Naming the first property that is wrong.
    """
    try:
        return _verify(path, expected)
    except (av.error.FFmpegError, OSError, struct.error) as exc:
        raise VerificationError(f"rendered file does not read back: {exc}") from exc


def _verify(path: Path, want: Expected) -> VerifiedFile:
    boxes = top_level_boxes(path)
    if "moov" not in boxes or "mdat" not in boxes or boxes.index("moov") > boxes.index("mdat"):
        raise VerificationError(f"MP4 index is not at the front (boxes: {boxes})")
    # Opened without the probe's decoding (a dozen frames of the whole file, some 0.15 s
    # at 1080p): the index gives the streams' parameters, and the first picture is
    # decoded here for the pixel format, which only the decoder gives.
    with av.open(str(path), options={"skip_frame": "all"}) as container:
        if len(container.streams.video) != 1 or len(container.streams.audio) != 1:
            raise VerificationError("expected exactly one video and one audio stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        ctx = video.codec_context
        frames, pix_fmt = _count_frames(container, video)
        checks = [
            (ctx.name == "h264", f"video codec is {ctx.name}, not h264"),
            (ctx.profile == "High", f"H.264 profile is {ctx.profile}, not High"),
            (pix_fmt == "yuv420p", f"pixel format is {pix_fmt}, not yuv420p"),
            ((ctx.width, ctx.height) == (want.width, want.height),
             f"size is {ctx.width}x{ctx.height}, not {want.width}x{want.height}"),
            (video.average_rate == want.fps, f"frame rate is {video.average_rate}, not {want.fps}"),
            (audio.codec_context.name == "aac", f"audio codec is {audio.codec_context.name}"),
            (audio.rate == want.sample_rate, f"audio rate is {audio.rate}"),
        ]
        for ok, message in checks:
            if not ok:
                raise VerificationError(message)
        v_tb, a_tb = video.time_base, audio.time_base
        v_dur = float(video.duration * v_tb) if video.duration and v_tb else 0.0
        a_dur = float(audio.duration * a_tb) if audio.duration and a_tb else 0.0
    if frames != want.frames:
        raise VerificationError(f"file holds {frames} frames, expected {want.frames}")
    expected_v = float(want.frames / want.fps)
    frame = float(1 / want.fps)
    if abs(v_dur - expected_v) > frame / 2:
        raise VerificationError(f"video lasts {v_dur:.3f} s, expected {expected_v:.3f} s")
    if abs(a_dur - v_dur) > frame + 1e-6:
        raise VerificationError(f"audio ends at {a_dur:.3f} s but video at {v_dur:.3f} s")
    return VerifiedFile(frames, v_dur, a_dur, path.stat().st_size)


def _count_frames(container: InputContainer, video: VideoStream) -> tuple[int, str | None]:
    """The video's packets (one per frame), and the pixel format of its first picture
    (``None``: no picture decodes)."""
    ctx = video.codec_context
    ctx.skip_frame = "DEFAULT"
    frames, pix_fmt = 0, None
    for packet in container.demux(video):
        if not packet.size:
            continue
        frames += 1
        if pix_fmt is None:
            for picture in ctx.decode(packet):
                pix_fmt = picture.format.name
    if pix_fmt is None and frames:  # a decoder that holds pictures back gives them now
        for picture in ctx.decode(None):
            pix_fmt = picture.format.name
    return frames, pix_fmt


def measure_audio(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of the file's decoded sound track.

    Decodes block by block, so memory stays flat however long the file is.
    """
    meter = LoudnessMeter()
    try:
        with AudioReader(path, what="rendered sound track", max_seconds=None) as reader:
            for block in reader.blocks():
                meter.add(block)
    except MediaError as exc:
        raise VerificationError(f"rendered sound track does not decode: {exc}") from exc
    return meter.integrated_lufs(), meter.true_peak_dbtp()
