"""Test media made on the spot: stills of every awkward kind, narrations of every format.

Everything here writes small files into a folder the test owns (``tmp_path``), so the
suite needs no fixtures on disk and no network. Stills are flat colours or gradients so
a test can tell, from a decoded frame, which segment it shows.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from storyreel import Project
from storyreel.audio.speech import narration_speech

__all__ = [
    "PALETTE",
    "PLAIN_SETTINGS",
    "ClipSpec",
    "ProjectFactory",
    "SegmentSpec",
    "all_files",
    "counter_image",
    "frames_for",
    "read_counter",
    "samples_at_48k",
    "speech_regions",
    "write_audio_av",
    "write_bomb_png",
    "write_clip",
    "write_cmyk_jpeg",
    "write_corrupt_wav",
    "write_edit_list_clip",
    "write_exif_rotated_jpeg",
    "write_gradient",
    "write_image",
    "write_interleaved_clip",
    "write_manifest",
    "write_project",
    "write_solid",
    "write_sound_clip",
    "write_textured",
    "write_tone_wav",
    "write_wav",
    "write_zero_length",
]

#: Distinct, saturated colours; segment ``i`` of a generated project uses ``PALETTE[i % n]``.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (220, 40, 40),
    (40, 200, 60),
    (40, 70, 220),
    (230, 210, 40),
    (200, 50, 200),
    (40, 200, 210),
    (240, 140, 30),
    (120, 120, 120),
)


ProjectFactory = Callable[..., Project]
"""The ``make_project`` fixture: ``make_project([0.5, 0.7], fps=25, settings={...})``."""


# --- stills -----------------------------------------------------------------------------


def write_solid(path: Path, size: tuple[int, int], colour: Sequence[int], mode: str = "RGB",
                **save: Any) -> Path:
    """A flat image of ``colour`` in ``mode`` (``RGB``, ``RGBA``, ``L``, ``P``...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, tuple(colour[:3]))
    if mode == "RGBA":
        alpha = colour[3] if len(colour) > 3 else 255
        image = Image.new("RGBA", size, (*colour[:3], alpha))
    elif mode != "RGB":
        image = image.convert(mode)
    image.save(path, **save)
    return path


def write_gradient(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    """A smooth two-axis colour gradient with soft blobs (sharp enough to show motion)."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.empty((height, width, 3))
    for c in range(3):
        fx, fy = rng.uniform(1.5, 4.0, 2)
        phase = rng.uniform(0, 2 * math.pi)
        rgb[..., c] = 128 + 100 * np.sin(2 * math.pi * (fx * x / width + fy * y / height) + phase)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
    return path


def write_textured(path: Path, size: tuple[int, int], seed: int = 0, cell: int = 6) -> Path:
    """Smoothed noise with blobs about ``cell`` pixels wide, so a camera move shows."""
    width, height = size
    rng = np.random.default_rng(seed)
    grid = (max(2, height // cell), max(2, width // cell), 3)
    coarse = rng.uniform(0, 255, grid).astype(np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def write_image(path: Path, size: tuple[int, int], kind: str, colour: Sequence[int] = (200, 60, 40)
                ) -> Path:
    """A still of a given awkward kind.

    Args:
        path: Where to write (the suffix is chosen by the caller).
        size: Width and height as stored in the file.
        kind: ``rgb``, ``rgba``, ``la``, ``l``, ``p``, ``p-transparent``, ``cmyk``, ``gray16``,
            ``rgb48``, ``exif6`` (stored rotated, EXIF orientation 6), ``webp``, ``bmp``, ``gif``,
            ``tiff`` or ``progressive``.
        colour: Its RGB colour.
    """
    r, g, b = colour[:3]
    if kind == "rgb":
        return write_solid(path, size, colour)
    if kind == "rgba":
        return write_solid(path, size, (r, g, b, 255), "RGBA")
    if kind == "la":
        return write_solid(path, size, colour, "LA")
    if kind == "l":
        return write_solid(path, size, colour, "L")
    if kind == "p":
        return write_solid(path, size, colour, "P")
    if kind == "p-transparent":  # a palette image whose only colour is the transparent one
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.new("RGB", size, (r, g, b)).convert("P")
        image.save(path, transparency=image.getpixel((0, 0)))
        return path
    if kind == "cmyk":
        return write_cmyk_jpeg(path, size, colour)
    if kind == "gray16":
        level = round((0.299 * r + 0.587 * g + 0.114 * b) / 255 * 65535)
        data = np.full((size[1], size[0]), level, dtype=np.uint16)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data).save(path)
        return path
    if kind == "rgb48":
        return _write_png_rgb48(path, size, colour)
    if kind == "exif6":
        return write_exif_rotated_jpeg(path, size, colour, colour)
    if kind in ("webp", "bmp", "gif", "tiff"):
        return write_solid(path, size, colour)
    if kind == "progressive":
        return write_solid(path, size, colour, progressive=True, quality=95)
    raise ValueError(f"unknown image kind {kind!r}")


def write_cmyk_jpeg(path: Path, size: tuple[int, int], colour: Sequence[int]) -> Path:
    """A CMYK JPEG (as print tools export) that shows ``colour`` once converted to RGB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, tuple(colour[:3])).convert("CMYK").save(path, "JPEG", quality=95)
    return path


def write_exif_rotated_jpeg(path: Path, upright_size: tuple[int, int], top: Sequence[int],
                            bottom: Sequence[int]) -> Path:
    """A JPEG stored sideways with EXIF orientation 6 (as phones write them).

    Shown upright it is ``upright_size`` with ``top`` colour over ``bottom`` colour.
    """
    width, height = upright_size
    upright = Image.new("RGB", (width, height), tuple(top[:3]))
    upright.paste(tuple(bottom[:3]), (0, height // 2, width, height))
    # Orientation 6 means "rotate 90 degrees clockwise to display": store it turned back.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path.parent.mkdir(parents=True, exist_ok=True)
    stored.save(path, "JPEG", quality=95, exif=exif)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def write_bomb_png(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A tiny PNG whose header claims a huge picture (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width * 3 + 1) * 4)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _write_png_rgb48(path: Path, size: tuple[int, int], colour: Sequence[int]) -> Path:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one, so it is built by hand)."""
    width, height = size
    pixel = b"".join(struct.pack(">H", c * 257) for c in colour[:3])
    raw = b"".join(b"\x00" + pixel * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- narrations ---------------------------------------------------------------------------


def bursts(spans: Sequence[tuple[float, float]], total: float, *, freq: float = 220.0,
           amplitude: float = 0.4, rate: int = 48_000) -> NDArray[np.float64]:
    """A mono narration: voiced tone bursts at ``spans`` (seconds), silence elsewhere.

    Each burst is a "word" (or phrase) with a known start and end, for timing tests.
    """
    n = round(total * rate)
    t = np.arange(n) / rate
    out = np.zeros(n)
    for start, end in spans:
        a, b = round(start * rate), round(end * rate)
        ramp = np.minimum(1.0, np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / 240)
        voice = sum(np.sin(2 * math.pi * freq * k * t[a:b]) / k for k in range(1, 5))
        out[a:b] = amplitude * ramp * voice / 2
    return out[:, None]


def _tone(n: int, rate: int, channels: int, freq: float, amplitude: float) -> NDArray[np.float64]:
    t = np.arange(n) / rate
    mono = amplitude * np.sin(2 * math.pi * freq * t)
    return np.repeat(mono[:, None], channels, axis=1)


def write_wav(path: Path, samples: NDArray[np.float64], rate: int, bits: int = 16,
              *, float_format: bool = False) -> Path:
    """Write ``(n, channels)`` samples in [-1, 1] as a PCM WAV of 16, 24 or 32 bits.

    ``float_format`` writes 32-bit IEEE float (WAVE format 3) instead of integer PCM.
    """
    if samples.ndim == 1:
        samples = samples[:, None]
    n, channels = samples.shape
    clipped = np.clip(samples, -1.0, 1.0)
    if float_format:
        bits, fmt = 32, 3
        payload = clipped.astype("<f4").tobytes()
    elif bits == 16:
        fmt = 1
        payload = np.round(clipped * 32767).astype("<i2").tobytes()
    elif bits == 24:
        fmt = 1
        ints = np.round(clipped * 8_388_607).astype("<i4")
        payload = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    elif bits == 32:
        fmt = 1
        payload = np.round(clipped * 2_147_483_647).astype("<i4").tobytes()
    else:
        raise ValueError("bits must be 16, 24 or 32")
    block = channels * bits // 8
    header = struct.pack("<4sI4s", b"RIFF", 36 + len(payload), b"WAVE")
    header += struct.pack("<4sIHHIIHH", b"fmt ", 16, fmt, channels, rate, rate * block, block,
                          bits)
    header += struct.pack("<4sI", b"data", len(payload))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + payload)
    assert len(payload) == n * block
    return path


def write_tone_wav(path: Path, seconds: float | None = None, *, samples: int | None = None,
                   rate: int = 48_000, bits: int = 16, channels: int = 1,
                   freq: float = 440.0, amplitude: float = 0.5,
                   float_format: bool = False) -> Path:
    """A sine narration of exactly ``samples`` samples (or ``seconds`` rounded to samples)."""
    if samples is None:
        if seconds is None:
            raise ValueError("give seconds or samples")
        samples = round(seconds * rate)
    return write_wav(path, _tone(samples, rate, channels, freq, amplitude), rate, bits,
                     float_format=float_format)


def write_audio_av(path: Path, seconds: float, *, codec: str, rate: int = 44_100,
                   channels: int = 2, freq: float = 330.0, container: str | None = None) -> Path:
    """Encode a sine narration with PyAV (``flac``, ``libmp3lame``, ``libopus``, ``aac``...)."""
    layout = "stereo" if channels == 2 else "mono"
    n = round(seconds * rate)
    signal = _tone(n, rate, channels, freq, 0.4).T.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)
        stream.layout = layout
        formats = stream.codec_context.codec.audio_formats
        assert formats
        fmt = formats[0].name
        stream.format = fmt
        frame_size = stream.codec_context.frame_size or 1024
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        pos = 0
        while pos < n:
            chunk = np.ascontiguousarray(signal[:, pos : pos + frame_size])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = pos
            frame.time_base = Fraction(1, rate)
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    out.mux(packet)
            pos += frame_size
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_corrupt_wav(path: Path) -> Path:
    """A file that starts like a WAV but whose format chunk is cut short."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00")
    return path


def write_zero_length(path: Path) -> Path:
    """An empty file (a failed download or an interrupted recording)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def samples_at_48k(samples: int, rate: int) -> int:
    """The length of a narration of ``samples`` at ``rate`` once resampled to 48 kHz (rounded)."""
    return round(Fraction(samples * 48_000, rate))


def frames_for(seconds: Fraction, fps: Fraction) -> int:
    """Frames needed to show ``seconds`` at ``fps`` (rounded up)."""
    return math.ceil(seconds * fps)


# --- clips -------------------------------------------------------------------------------

#: A frame counter is drawn as COUNTER_BITS black or white blocks, COUNTER_COLUMNS a row.
COUNTER_COLUMNS, COUNTER_ROWS = 4, 3
COUNTER_BITS = COUNTER_COLUMNS * COUNTER_ROWS


def counter_image(number: int, size: tuple[int, int]) -> NDArray[np.uint8]:
    """An RGB picture of ``number`` in binary: big blocks that survive any codec and scaling.

    Bit ``k`` (least significant first) is the block in row ``k // 4``, column ``k % 4``,
    white for 1 and black for 0; a grey frame around each block keeps them apart.
    """
    width, height = size
    image = np.full((height, width, 3), 96, np.uint8)
    for bit in range(COUNTER_BITS):
        row, column = divmod(bit, COUNTER_COLUMNS)
        x0, x1 = _cell(column, COUNTER_COLUMNS, width)
        y0, y1 = _cell(row, COUNTER_ROWS, height)
        image[y0:y1, x0:x1] = 255 if number >> bit & 1 else 0
    return image


def _cell(k: int, count: int, length: int) -> tuple[int, int]:
    """The inner part of cell ``k`` of ``count`` along ``length`` (a fifth kept as margin)."""
    start, end = k * length / count, (k + 1) * length / count
    margin = (end - start) / 5
    return round(start + margin), round(end - margin)


def read_counter(luma: NDArray[Any]) -> int:
    """The number :func:`counter_image` drew, read from a picture's luma (any size)."""
    height, width = luma.shape[:2]
    number = 0
    for bit in range(COUNTER_BITS):
        row, column = divmod(bit, COUNTER_COLUMNS)
        x0, x1 = _cell(column, COUNTER_COLUMNS, width)
        y0, y1 = _cell(row, COUNTER_ROWS, height)
        inner = luma[y0 + (y1 - y0) // 4: y1 - (y1 - y0) // 4,
                     x0 + (x1 - x0) // 4: x1 - (x1 - x0) // 4]
        if float(np.mean(inner)) > 128:
            number |= 1 << bit
    return number


@dataclass
class ClipSpec:
    """How :func:`write_clip` encodes a test clip (picture size is the *upright* one)."""

    frames: int = 30
    fps: Fraction = Fraction(30)
    size: tuple[int, int] = (160, 90)
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    container: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    container_options: dict[str, str] = field(default_factory=dict)
    pts: Sequence[int] | None = None
    """Each frame's timestamp in ``time_base`` units (variable frame rate); default ``i``."""
    time_base: Fraction | None = None
    rotation: int = 0
    """Clockwise degrees a player turns the stored picture to show it upright."""
    mirror: bool = False
    """Whether the player then flips it left to right (a selfie camera's display matrix)."""
    sar: Fraction | None = None
    """Pixel aspect ratio: the picture is stored squeezed by it and shown restored."""
    sound_seconds: float | None = None
    sound_freq: float = 500.0
    sound_codec: str = "aac"
    draw: Callable[[int], NDArray[np.uint8]] | None = None
    """The upright RGB(A) picture of frame ``i`` (default: its counter)."""
    colour_trc: int | None = None
    colour_primaries: int | None = None
    colourspace: int | None = None


def write_clip(path: Path, spec: ClipSpec | None = None, **changes: Any) -> Path:
    """Encode a small clip with PyAV whose frame ``i`` shows ``counter_image(i)``."""
    spec = spec or ClipSpec(**changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = spec.size
    stored_w, stored_h = (height, width) if spec.rotation in (90, 270) else (width, height)
    if spec.sar is not None:
        stored_w = round(stored_w / spec.sar)
    time_base = spec.time_base or 1 / spec.fps
    with av.open(str(path), "w", format=spec.container,
                 options=dict(spec.container_options)) as out:
        video = out.add_stream(spec.codec, rate=spec.fps, options=dict(spec.options))
        assert isinstance(video, av.VideoStream)
        video.width, video.height, video.pix_fmt = stored_w, stored_h, spec.pix_fmt
        video.codec_context.time_base = time_base
        if spec.sar is not None:
            video.codec_context.sample_aspect_ratio = spec.sar
        for name, value in (("color_trc", spec.colour_trc),
                            ("color_primaries", spec.colour_primaries),
                            ("colorspace", spec.colourspace)):
            if value is not None:
                setattr(video.codec_context, name, value)
        if spec.rotation or spec.mirror:  # counter-clockwise in PyAV, mirrored after
            video.set_display_rotation(-spec.rotation, hflip=spec.mirror)
        audio = out.add_stream(spec.sound_codec, rate=48_000) if spec.sound_seconds else None
        for i in range(spec.frames):
            picture = spec.draw(i) if spec.draw is not None else counter_image(i, spec.size)
            shown = picture[:, ::-1] if spec.mirror else picture
            stored = np.rot90(shown, k=spec.rotation // 90)  # what the camera wrote
            if spec.sar is not None:
                stored = _squeeze(stored, stored_w)
            fmt = "rgba" if stored.shape[2] == 4 else "rgb24"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format=fmt)
            frame.pts = spec.pts[i] if spec.pts is not None else i
            frame.time_base = time_base
            for name, value in (("color_trc", spec.colour_trc),
                                ("color_primaries", spec.colour_primaries),
                                ("colorspace", spec.colourspace)):
                if value is not None:
                    setattr(frame, name, value)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if audio is not None and spec.sound_seconds:
            _encode_tone(out, audio, spec.sound_seconds, spec.sound_freq)
    return path


def write_edit_list_clip(path: Path, *, frames: int = 30, hidden: int = 10) -> Path:
    """An MP4 whose edit list hides its first ``hidden`` counter frames.

    The frames are encoded into Matroska (millisecond stamps) and remuxed into MP4 shifted
    back by ``hidden`` frames, as a cut made without re-encoding leaves them: the hidden
    frames are still in the file, to decode the ones after them, but never shown.
    """
    source = write_clip(path.with_suffix(".src.mkv"), frames=frames, container="matroska",
                        options={"g": str(frames), "bf": "0"})
    with av.open(str(source)) as src, av.open(str(path), "w", format="mp4") as out:
        stream = src.streams.video[0]
        target = out.add_stream_from_template(stream)
        assert stream.time_base is not None
        shift = int(Fraction(hidden, 30) / stream.time_base)
        for packet in src.demux(stream):
            if packet.dts is None or packet.pts is None:
                continue  # the demuxer's end-of-stream marker
            packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
            packet.stream = target
            out.mux(packet)
    source.unlink()
    return path


def write_interleaved_clip(path: Path, *, container: str, audio_codec: str, onset: float,
                           frames: int = 60, fps: int = 30) -> Path:
    """A counter clip with B-frames and stereo sound interleaved as a camera writes it.

    The sound is silent until ``onset`` seconds on the picture's clock, then a tone; MPEG-TS
    starts the two streams' clocks apart, as real files do.
    """
    rate = 48_000
    with av.open(str(path), "w", format=container) as out:
        video = out.add_stream("libx264", rate=fps, options={"bf": "3"})
        assert isinstance(video, av.VideoStream)
        video.width, video.height = 160, 90
        audio = out.add_stream(audio_codec, rate=rate, layout="stereo")
        size = audio.codec_context.frame_size or 1152
        n = frames * rate // fps
        t = np.arange(-(-n // size) * size) / rate
        tone = np.where(t >= onset, 0.5 * np.sin(2 * math.pi * 440 * t), 0.0).astype(np.float32)
        sent = 0
        for k in range(frames + 1):
            if k < frames:
                frame = av.VideoFrame.from_ndarray(counter_image(k, (160, 90)), format="rgb24")
                frame.pts = k
                for packet in video.encode(frame):
                    out.mux(packet)
            while sent < len(t) and (sent <= (k + 1) * rate // fps or k == frames):
                chunk = np.ascontiguousarray(np.repeat(tone[None, sent:sent + size], 2, axis=0))
                block = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                block.sample_rate, block.pts = rate, sent
                for packet in audio.encode(block):
                    out.mux(packet)
                sent += size
        for packet in [*video.encode(None), *audio.encode(None)]:
            out.mux(packet)
    return path


def write_sound_clip(path: Path, *, onset: float, seconds: float, frames: int = 30,
                     rate: int = 48_000, fps: Fraction = Fraction(30), delay: int = 0) -> Path:
    """A counter clip with mono 16-bit PCM sound: silent until ``onset`` s, then a tone.

    The sound may run far longer than the picture (``seconds`` against ``frames``), and
    start ``delay`` samples after it.
    """
    n = round(seconds * rate)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        assert isinstance(video, av.VideoStream)
        video.width, video.height = 160, 90
        audio = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(counter_image(k, (160, 90)), format="rgb24")
            frame.pts = k
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        block = 4800
        for start in range(0, n, block):
            t = np.arange(start, min(n, start + block)) / rate
            tone = np.where(t >= onset, 0.5 * np.sin(2 * math.pi * 440 * t), 0.0)
            frame = av.AudioFrame.from_ndarray((tone * 32767).astype(np.int16)[None, :],
                                               format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start + delay
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    return path


def _squeeze(picture: NDArray[np.uint8], width: int) -> NDArray[np.uint8]:
    """``picture`` resampled to ``width`` columns (nearest: the blocks stay sharp)."""
    columns = np.minimum((np.arange(width) + 0.5) * picture.shape[1] / width,
                         picture.shape[1] - 1).astype(int)
    return picture[:, columns]


def _encode_tone(out: Any, audio: Any, seconds: float, freq: float) -> None:
    rate = 48_000
    n = round(seconds * rate)
    tone = (0.3 * np.sin(2 * math.pi * freq * np.arange(n) / rate)).astype(np.float32)
    size = audio.codec_context.frame_size or 1024
    for start in range(0, n, size):
        chunk = np.ascontiguousarray(np.repeat(tone[None, start:start + size], 2, axis=0))
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in audio.encode(frame):
            out.mux(packet)
    for packet in audio.encode(None):
        out.mux(packet)


# --- manifests ----------------------------------------------------------------------------


def write_manifest(folder: Path, segments: Sequence[dict[str, Any]], *,
                   name: str = "story.json", **fields: Any) -> Path:
    """Write a manifest of ``segments`` plus top-level ``fields`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    data = {**fields, "segments": list(segments)}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class SegmentSpec:
    """One generated segment: a flat-coloured still and a tone narration."""

    seconds: float = 0.5
    rate: int = 48_000
    colour: tuple[int, int, int] | None = None
    image_size: tuple[int, int] = (192, 108)
    text: str = "A narration."
    extra: dict[str, Any] = field(default_factory=dict)


def write_project(folder: Path, specs: Sequence[SegmentSpec | float], *,
                  settings: dict[str, Any] | None = None, **fields: Any) -> Path:
    """Generate a small project (stills, tone narrations, manifest); return the manifest path.

    Defaults keep renders tiny and exact: 128x72, 30 fps, preset ultrafast, plain cuts, no
    burned-in captions or caption files, no loudness normalisation (so a narration keeps its
    level). Pass ``fields`` (``width``, ``fps``, ``title``...) and ``settings`` (``gap``,
    ``ken_burns``...; nested dicts are merged) to change them.
    """
    segments = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, SegmentSpec):
            spec = SegmentSpec(seconds=float(spec))
        colour = spec.colour or PALETTE[i % len(PALETTE)]
        image = write_solid(folder / "images" / f"{i + 1:03d}.png", spec.image_size, colour)
        audio = write_tone_wav(folder / "audio" / f"{i + 1:03d}.wav", spec.seconds,
                               rate=spec.rate, freq=300.0 + 40 * (i % 7))
        segments.append({"image": str(image.relative_to(folder)),
                         "audio": str(audio.relative_to(folder)),
                         "text": spec.text, **spec.extra})
    top: dict[str, Any] = {"title": "Test story", "width": 128, "height": 72, "fps": 30}
    top.update(fields)
    top["settings"] = _merge(dict(PLAIN_SETTINGS), settings or {})
    return write_manifest(folder, segments, **top)


#: Render settings for exact, tiny test renders (see :func:`write_project`).
PLAIN_SETTINGS: dict[str, Any] = {
    "preset": "ultrafast",
    "transitions": {"crossfade": 0.0},
    "subtitles": {"enabled": False, "sidecar": False},
    "loudness": {"enabled": False},
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _merge(dict(base[key]), value)
        else:
            base[key] = value
    return base


def all_files(folder: Path) -> set[str]:
    """Every file under ``folder`` (hidden ones too), relative to it."""
    found = set()
    for root, _dirs, files in os.walk(folder):
        for name in files:
            found.add(str(Path(root, name).relative_to(folder)))
    return found


def speech_regions(samples: NDArray[Any], sample_rate: int = 48_000, *,
                   min_pause: float = 0.1, min_speech: float = 0.05) -> list[tuple[int, int]]:
    """Speech regions of a narration held whole (the engine reads narrations in blocks)."""
    data = np.asarray(samples)
    blocks = [data] if data.ndim and data.shape[-1] else []
    return narration_speech(blocks, sample_rate, min_pause=min_pause,
                            min_speech=min_speech)[1]
