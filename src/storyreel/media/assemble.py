"""Joining separately encoded parts into one MP4 by copying their packets.

Each part is a video-only MP4 whose H.264 stream starts with an IDR frame and
references nothing outside itself; the sound track is an audio-only MP4 encoded over
the whole timeline. :func:`probe_part` reads what a part holds without decoding it,
so the caller can check that every part carries the same SPS/PPS (a part that does
not would make decoders fail part way through the joined file). :func:`assemble`
rebases each part's timestamps exactly (a whole number of frames), interleaves video
and sound by time and writes the index at the front. The B-frame delay of the first
part gives the file its one edit list; later parts continue its decode timeline.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
from av.packet import Packet

from storyreel.errors import EncoderError, StoryreelError, output_error

__all__ = ["PartInfo", "assemble", "probe_part"]


@dataclass(frozen=True)
class PartInfo:
    """What an encoded part holds.

    Attributes:
        headers: The stream's SPS/PPS (``avcC``), which every joined part must share.
        frames: Video packets in the part.
        delay: Frames by which decoding runs ahead of display (the B-frame delay).
        starts_with_keyframe: Whether the first packet in decode order is a keyframe.
    """

    headers: bytes
    frames: int
    delay: int
    starts_with_keyframe: bool


def probe_part(path: Path, fps: Fraction) -> PartInfo:
    """Read a part's headers and packets (nothing is decoded).

    Raises:
        EncoderError: The file is not a readable video part.
    """
    try:
        with _open_packets(path) as container:
            stream = container.streams.video[0]
            headers = bytes(stream.codec_context.extradata or b"")
            packets = [p for p in container.demux(stream) if p.size]
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise EncoderError(f"encoded part {path.name} does not read back", str(exc)) from exc
    if not packets or packets[0].dts is None or packets[0].pts is None:
        return PartInfo(headers, 0, 0, False)
    tb = stream.time_base
    assert tb is not None
    delay = -packets[0].dts * tb * fps
    return PartInfo(headers, len(packets), int(delay), packets[0].is_keyframe)


def _open_packets(path: Path) -> av.container.InputContainer:
    """Open a part (or the sound track) to read its packets: nothing is decoded, not
    even to probe it (the probe would decode frames, 40-150 ms a part, and only packets
    and the streams' parameters from the index are wanted here)."""
    return av.open(str(path), options={"skip_frame": "all"})


def assemble(target: Path, parts: Sequence[tuple[Path, int]], sound: Path, fps: Fraction,
             total_frames: int, chapters: Sequence[tuple[int, str]] = ()) -> None:
    """Write ``target`` from the ``(file, first frame)`` parts and the sound track file.

    Args:
        target: The MP4 to write (index at the front).
        parts: Each part's file and the timeline frame its first frame lands on, in order.
        sound: An audio-only MP4 covering the whole timeline.
        fps: The exact frame rate.
        total_frames: Frames in the whole video (where the last chapter ends).
        chapters: ``(first frame, title)`` of each chapter, in order.
    """
    try:
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(av.open(str(target), "w", format="mp4",
                                              options={"movflags": "+faststart"}))
            first = stack.enter_context(_open_packets(parts[0][0]))
            audio_in = stack.enter_context(_open_packets(sound))
            video = out.add_stream_from_template(first.streams.video[0])
            audio = out.add_stream_from_template(audio_in.streams.audio[0])
            video.time_base = Fraction(fps.denominator, fps.numerator)
            out.start_encoding()
            _set_chapters(out, fps, total_frames, chapters)
            streams = [_video_packets(parts, fps, video), _audio_packets(audio_in, audio)]
            for _, _, packet in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
                out.mux(packet)
    except StoryreelError:
        raise
    except OSError as exc:
        raise output_error(exc, target) from exc
    except av.error.FFmpegError as exc:
        raise EncoderError("cannot join the encoded parts", str(exc)) from exc


def _set_chapters(out: av.container.OutputContainer, fps: Fraction, total: int,
                  chapters: Sequence[tuple[int, str]]) -> None:
    if not chapters:
        return
    ends = [start for start, _ in chapters[1:]] + [total]
    tb = Fraction(fps.denominator, fps.numerator)
    out.set_chapters([
        {"id": number, "start": start, "end": end, "time_base": tb,
         "metadata": {"title": title}}
        for number, ((start, title), end) in enumerate(zip(chapters, ends, strict=True), 1)
    ])


def _ticks(frames: Fraction, fps: Fraction, tb: Fraction) -> int:
    exact = frames / fps / tb
    if exact.denominator != 1:
        raise EncoderError("part timestamps do not fall on the output's time grid",
                           f"{frames} frames at {fps} fps in {tb}")
    return exact.numerator


def _video_packets(parts: Sequence[tuple[Path, int]], fps: Fraction,
                   out: av.VideoStream) -> Iterator[tuple[Fraction, int, Packet[Any]]]:
    out_tb = out.time_base
    assert out_tb is not None
    for path, start in parts:
        with _open_packets(path) as container:
            stream = container.streams.video[0]
            tb = stream.time_base
            assert tb is not None
            for packet in container.demux(stream):
                if not packet.size or packet.pts is None or packet.dts is None:
                    continue
                pts = start + packet.pts * tb * fps
                dts = start + packet.dts * tb * fps
                packet.pts, packet.dts = _ticks(pts, fps, out_tb), _ticks(dts, fps, out_tb)
                packet.duration = _ticks(Fraction(1), fps, out_tb)
                packet.stream = out
                yield dts / fps, 0, packet


def _audio_packets(container: av.container.InputContainer,
                   out: av.AudioStream) -> Iterator[tuple[Fraction, int, Packet[Any]]]:
    stream = container.streams.audio[0]
    tb = stream.time_base
    assert tb is not None
    for packet in container.demux(stream):
        if not packet.size or packet.dts is None:
            continue
        packet.stream = out
        yield packet.dts * tb, 1, packet
