"""Reading a video clip frame by frame, on its own exact clock, decoded ahead on a thread.

:class:`ClipReader` answers "which frame is on screen at clip time *t*": the latest
frame whose time is not after *t*, where a frame's time is its timestamp minus the
first frame's, as an exact :class:`~fractions.Fraction` of seconds (variable frame
rates, B-frames, edit lists and non-zero start times all reduce to this). Frames are
decoded on a thread of the reader's own into a bounded queue, so the clip is never
held whole in memory and the caller rarely waits for the decoder.

Each :class:`ClipFrame` gives its picture *normalised*: upright (the display matrix
applied), square pixels, progressive (interlaced sources pass through ``bwdif``),
8-bit BT.709 SDR (HDR PQ and HLG tone-mapped in NumPy: PyAV's FFmpeg has no
``zscale``) and with any alpha composited over black.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Literal, cast

import av
import av.error
import av.filter
import av.logging
import cv2
import numpy as np
from av.sidedata.sidedata import SideDataContainer
from av.sidedata.sidedata import Type as SideDataType
from av.video.frame import VideoFrame
from av.video.reformatter import ColorRange, Colorspace, Interpolation
from numpy.typing import NDArray

from storyreel.errors import MediaError
from storyreel.media.files import check_regular_file, reason
from storyreel.media.image import Planes, rgb_to_yuv420

__all__ = [
    "MAX_CLIP_PIXELS",
    "MAX_CLIP_SIDE",
    "ClipFrame",
    "ClipReader",
    "Hdr",
    "Orientation",
    "check_picture_size",
    "clip_translated",
    "close_iterator",
    "codec_name",
    "decode_video",
    "display_size",
    "frame_grid",
    "frame_within",
    "has_alpha",
    "hdr_kind",
    "is_interlaced",
    "nominal",
    "on_grid",
    "open_clip",
    "orientation",
    "stream_rate",
    "tone_map",
    "warn_hdr",
]

log = logging.getLogger(__name__)

Hdr = Literal["pq", "hlg"]
_TRC_PQ, _TRC_HLG = 16, 18  # ISO/IEC 23091-2 transfer characteristics
_BT2020_MATRICES = {9, 10}  # BT.2020 non-constant and constant luminance
_JPEG_RANGE = 2
_FIELDS_TOP_FIRST = 2  # AVFieldOrder: unknown, progressive, then the interlaced orders
_FALLBACK_FPS = Fraction(25)
#: Largest picture accepted: 8K UHD, either way up.
MAX_CLIP_SIDE = 7680
MAX_CLIP_PIXELS = 7680 * 4320
_SEEK_MARGIN = Fraction(1)
_KEPT_SIZES = 3
_MILLISECOND = Fraction(1, 1000)
_warned: set[Path] = set()
_warned_lock = threading.Lock()


def warn_hdr(path: Path, hdr: Hdr) -> None:
    """Log, once per clip and process, that an HDR clip is tone-mapped to SDR."""
    with _warned_lock:
        if path in _warned:
            return
        _warned.add(path)
    log.warning("%s: HDR (%s) clip converted to SDR BT.709 by a tone map", path, hdr.upper())


@contextlib.contextmanager
def clip_translated(path: Path, what: str = "clip") -> Iterator[None]:
    """PyAV's and the OS's errors become one :class:`MediaError` naming the file."""
    try:
        yield
    except MediaError:
        raise
    except PermissionError as exc:
        raise MediaError(f"{what} file is not readable (permission denied)", path=path) from exc
    except (av.error.FFmpegError, OSError, ValueError, EOFError, IndexError) as exc:
        raise MediaError(f"{what} is corrupt or not a supported video ({reason(exc)})",
                         path=path) from exc


# FFmpeg's own VP8/VP9 decoders drop the alpha channel WebM keeps beside the picture;
# libvpx's decoders read it.
_ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}


def decode_video(container: av.container.InputContainer,
                 stream: av.video.stream.VideoStream) -> Iterator[VideoFrame]:
    """The stream's frames in display order, with the alpha of WebM VP8/VP9 kept."""
    decoder = _ALPHA_DECODERS.get(stream.codec_context.name)
    if decoder is None or stream.metadata.get("alpha_mode") != "1":
        return container.decode(stream)
    try:
        context = av.CodecContext.create(decoder, "r")
    except (av.error.FFmpegError, ValueError):
        return container.decode(stream)  # a build without libvpx: the picture, opaque
    assert isinstance(context, av.video.codeccontext.VideoCodecContext)
    context.extradata = stream.codec_context.extradata
    return _decoded_by(context, container, stream)


def _decoded_by(context: av.video.codeccontext.VideoCodecContext,
                container: av.container.InputContainer,
                stream: av.video.stream.VideoStream) -> Iterator[VideoFrame]:
    for packet in container.demux(stream):
        yield from context.decode(packet)  # the last, empty packet flushes it


def codec_name(path: Path, stream: av.video.stream.VideoStream) -> str:
    """The name of the decoder for ``stream``.

    Raises:
        MediaError: This build has no decoder for it.
    """
    context = stream.codec_context  # None when FFmpeg knows no decoder for the stream
    try:
        codec = None if context is None else context.codec
    except (av.error.FFmpegError, ValueError) as exc:
        raise MediaError(f"clip's video codec is not supported ({reason(exc)})",
                         path=path) from exc
    if codec is None or not codec.name or codec.name == "none":
        tag = _unknown_codec_tag(path)
        named = f"“{tag}”" if tag else "it is not one FFmpeg knows"
        raise MediaError(f"clip's video codec is not supported ({named})", path=path)
    return str(codec.name)


#: How FFmpeg describes a video stream it has no decoder for: its FourCC, then the number.
_UNKNOWN_TAG = re.compile(r"Video: none \((.+?) / 0x[0-9A-Fa-f]+\)")


def _unknown_codec_tag(path: Path) -> str | None:
    """The codec tag (FourCC) FFmpeg reports, when opening ``path``, for a video stream
    it cannot decode: PyAV shows such a stream without a codec, so its name is only in
    the demuxer's warning. ``None`` when FFmpeg says none."""
    level, skip = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.WARNING)
    av.logging.set_skip_repeated(False)  # the same file's warning is asked for again
    try:
        with av.logging.Capture(local=True) as logs, contextlib.suppress(av.error.FFmpegError,
                                                                          OSError):
            av.open(str(path), metadata_errors="ignore").close()
    finally:
        av.logging.set_skip_repeated(skip)
        av.logging.set_level(level)
    found = (_UNKNOWN_TAG.search(message) for _, _, message in logs)
    return next((match.group(1) for match in found if match), None)


def check_picture_size(path: Path, width: int, height: int) -> None:
    """Refuse a picture larger than 8K before a frame of it is decoded.

    Raises:
        MediaError: No size, over :data:`MAX_CLIP_SIDE` either way, or over
            :data:`MAX_CLIP_PIXELS`.
    """
    if width <= 0 or height <= 0:
        raise MediaError("clip's video stream states no picture size (corrupt)", path=path)
    if max(width, height) > MAX_CLIP_SIDE or width * height > MAX_CLIP_PIXELS:
        raise MediaError(f"clip's picture is {width}x{height}, larger than 8K "
                         f"({MAX_CLIP_SIDE}x4320)", path=path)


def open_clip(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading (a regular file only), errors translated."""
    check_regular_file(path, "clip")
    with clip_translated(path):
        return av.open(str(path), metadata_errors="ignore")


@dataclass(frozen=True)
class Orientation:
    """How a stored picture is shown upright: turned clockwise, then mirrored left-right.

    Attributes:
        rotation: Clockwise degrees: 0, 90, 180 or 270.
        mirrored: Whether the turned picture is then flipped left to right (a selfie
            camera's display matrix).
    """

    rotation: int = 0
    mirrored: bool = False


UPRIGHT = Orientation()
_DISPLAYMATRIX = SideDataType.DISPLAYMATRIX


def orientation(frame: VideoFrame) -> Orientation:
    """How ``frame`` is shown, from its display matrix, as FFmpeg's own player turns it.

    FFmpeg reads a matrix that only mirrors as a half turn, so the matrix's own signs
    decide, as in ``ffmpeg``'s autorotate: a quarter turn with its second row's first
    entry positive (or negative, for three quarters) is a transpose, a half turn is
    a mirror on each axis whose scale is negative, and no turn may still flip the picture
    upside down.
    """
    side_data = cast(SideDataContainer, frame.side_data)  # PyAV's stub calls it a dict
    matrix = next((np.frombuffer(bytes(data), dtype=np.int32)[:9] for data in side_data
                   if data.type == _DISPLAYMATRIX and len(bytes(data)) >= 36), None)
    rotation = (-round(frame.rotation / 90) * 90) % 360
    if matrix is None:
        return Orientation(rotation)
    if rotation == 90:
        return Orientation(90, mirrored=bool(matrix[3] > 0))
    if rotation == 270:
        return Orientation(270, mirrored=bool(matrix[3] < 0))
    flip_h, flip_v = bool(matrix[0] < 0), bool(matrix[4] < 0)
    if rotation == 180 and not (flip_h or flip_v):
        return Orientation(180)
    # A mirror on each axis is a half turn; on one, a mirror (upside down: a half turn too).
    return Orientation(180 if flip_v else 0, mirrored=flip_h != flip_v)


@dataclass
class ClipFrame:
    """One decoded frame of a clip, with its place on the clip's clock.

    Attributes:
        index: The source frame's number from the clip's first frame (0-based, in display
            order); exact when the clip was read from its start or has a constant rate.
        time: Its time on the clip's clock, in seconds (the first frame is at 0).
        duration: How long it is shown when nothing follows it.
    """

    index: int
    time: Fraction
    duration: Fraction
    _frame: VideoFrame = field(repr=False)
    _orientation: Orientation = field(repr=False, default=UPRIGHT)
    _path: Path | None = field(repr=False, default=None)
    _cache: dict[tuple[int, int], Planes] = field(repr=False, default_factory=dict)

    def planes(self, width: int, height: int) -> Planes:
        """The whole normalised picture scaled to exactly ``width`` x ``height``.

        Both must be even; the caller keeps the aspect ratio. The result is 8-bit
        YUV 4:2:0, BT.709, limited range. The last few sizes asked for are kept, so a frame
        shown again (a freeze, a slower source), or drawn twice (a blurred backdrop behind
        itself), is converted once.

        Raises:
            ValueError: An odd or non-positive size.
            MediaError: The frame cannot be converted.
        """
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"clip frames are scaled to even sizes, not {width}x{height}")
        kept = self._cache.get((width, height))
        if kept is not None:
            return kept
        with clip_translated(self._path or Path("clip")):
            planes = normalised_planes(self._frame, width, height, self._orientation)
        if len(self._cache) >= _KEPT_SIZES:
            del self._cache[next(iter(self._cache))]
        self._cache[(width, height)] = planes
        return planes


def normalised_planes(frame: VideoFrame, width: int, height: int,
                      orientation: Orientation) -> Planes:
    """``frame`` shown as ``orientation`` says, scaled to ``width`` x ``height``, as BT.709
    limited-range planes."""
    turned = orientation.rotation in (90, 270)
    w, h = (height, width) if turned else (width, height)
    hdr = hdr_kind(frame)
    if hdr is not None or has_alpha(frame):
        rgb = _rgb(frame, w, h, hdr)
        planes = rgb_to_yuv420(_upright(rgb, orientation))
        return planes
    out = frame.reformat(width=w, height=h, format="yuv420p",
                         src_colorspace=_matrix(frame), dst_colorspace=Colorspace.ITU709,
                         src_color_range=_range(frame), dst_color_range=ColorRange.MPEG,
                         interpolation=Interpolation.AREA)
    y, u, v = (np.asarray(out.planes[k]).reshape(-1, out.planes[k].line_size)
               [: h // (1 + (k > 0)), : w // (1 + (k > 0))] for k in range(3))
    return Planes(*(np.ascontiguousarray(_upright(p, orientation)) for p in (y, u, v)))


def _upright(plane: NDArray[np.uint8], orientation: Orientation) -> NDArray[np.uint8]:
    """``plane`` turned clockwise by the orientation's rotation, then mirrored if it says so."""
    turned = np.rot90(plane, k=-(orientation.rotation // 90)) if orientation.rotation else plane
    return np.asarray(turned[:, ::-1] if orientation.mirrored else turned)


def _matrix(frame: VideoFrame) -> Colorspace:
    space = frame.colorspace
    if space in _BT2020_MATRICES:
        return Colorspace.BT2020
    if space in (5, 6):  # BT.470BG, SMPTE 170M
        return Colorspace.ITU601
    if space == 7:
        return Colorspace.SMPTE240M
    if space == 1:
        return Colorspace.ITU709
    if frame.format.name.startswith("yuvj"):
        return Colorspace.ITU601  # JPEG's own matrix
    # Unstated: SD pictures are BT.601 by convention, HD ones BT.709.
    return Colorspace.ITU709 if frame.height >= 576 and frame.width > 720 else Colorspace.ITU601


def _range(frame: VideoFrame) -> ColorRange:
    if frame.color_range == _JPEG_RANGE or frame.format.name.startswith("yuvj"):
        return ColorRange.JPEG
    return ColorRange.MPEG


def hdr_kind(frame: VideoFrame) -> Hdr | None:
    """``"pq"`` or ``"hlg"`` for a frame tagged with an HDR transfer, else ``None``."""
    trc = frame.color_trc
    return "pq" if trc == _TRC_PQ else "hlg" if trc == _TRC_HLG else None


def has_alpha(frame: VideoFrame) -> bool:
    """True when the frame's pixel format carries an alpha channel."""
    return any(component.is_alpha for component in frame.format.components)


def _rgb(frame: VideoFrame, width: int, height: int, hdr: Hdr | None) -> NDArray[np.uint8]:
    """The frame as 8-bit BT.709 RGB (HDR tone-mapped, alpha over black), at the size."""
    alpha = has_alpha(frame)
    rgb16 = frame.reformat(width=width, height=height, format="rgba64le" if alpha else "rgb48le",
                           src_colorspace=_matrix(frame), src_color_range=_range(frame),
                           dst_color_range=ColorRange.JPEG, interpolation=Interpolation.AREA)
    data = np.asarray(rgb16.to_ndarray(), dtype=np.uint16)
    if hdr is not None:
        rgb = tone_map(np.ascontiguousarray(data[..., :3]), hdr).astype(np.float32)
    else:
        rgb = data[..., :3].astype(np.float32) * np.float32(255 / 65535)
    if alpha:
        rgb *= data[..., 3:4].astype(np.float32) * np.float32(1 / 65535)
    return np.asarray(np.clip(rgb + 0.5, 0, 255), dtype=np.uint8)


# BT.2020 -> BT.709 primaries, on linear light (ITU-R BT.2087).
_BT2020_TO_709 = np.array([[1.6605, -0.5876, -0.0728],
                           [-0.1246, 1.1329, -0.0083],
                           [-0.0182, -0.1006, 1.1187]], dtype=np.float32)
_LUMA_2020 = np.array([[0.2627, 0.6780, 0.0593]], dtype=np.float32)
_LUMA_709 = np.array([[0.2126, 0.7152, 0.0722]], dtype=np.float32)
_REFERENCE_WHITE = 203.0  # nits: HDR's diffuse white (ITU-R BT.2408)
_PEAK = 1000.0 / _REFERENCE_WHITE  # content peak assumed, relative to white
_HLG_WHITE = 1000.0 / _REFERENCE_WHITE  # HLG's nominal display peak, relative to white
_LEVELS = 65536  # 16-bit signal in, 16-bit-precise light out: one table lookup each way
_to_light: dict[str, NDArray[np.float32]] = {}
_TO_GAMMA = np.round(255.0 * np.linspace(0.0, 1.0, _LEVELS) ** (1 / 2.4)).astype(np.uint8)


def tone_map(rgb16: NDArray[np.uint16], hdr: Hdr) -> NDArray[np.uint8]:
    """16-bit non-linear BT.2020 HDR RGB to 8-bit non-linear BT.709 SDR RGB.

    The signal is turned into light relative to HDR's reference white (PQ: absolute
    nits; HLG: its inverse OETF, then the OOTF of a 1,000-nit display), moved to BT.709
    primaries, mapped into the SDR range by an extended Reinhard curve on luminance
    (white at the content's peak, 1,000 nits) and encoded with BT.1886's 2.4 gamma. The
    curves per channel are tables, so a 1080p frame costs tens of milliseconds.
    """
    table = _to_light.get(hdr)
    if table is None:
        signal = np.linspace(0.0, 1.0, _LEVELS)
        values = _pq_eotf(signal) / _REFERENCE_WHITE if hdr == "pq" else _hlg_inverse_oetf(signal)
        table = _to_light[hdr] = np.asarray(values, dtype=np.float32)
    light = table[rgb16]
    if hdr == "hlg":
        luma = cv2.transform(light, _LUMA_2020)
        light *= np.power(np.maximum(luma, 1e-6), 0.2)[..., None] * np.float32(_HLG_WHITE)
    light = np.maximum(cv2.transform(light, _BT2020_TO_709), 0.0)
    luma = cv2.transform(light, _LUMA_709)
    # Reinhard's mapped / luma, which is 1 at black: no division by zero.
    scale = (1.0 + luma * np.float32(1 / (_PEAK * _PEAK))) / (1.0 + luma)
    sdr = light * scale[..., None]
    index = np.clip(sdr * (_LEVELS - 1) + 0.5, 0, _LEVELS - 1).astype(np.uint16)
    return np.asarray(_TO_GAMMA[index], dtype=np.uint8)


def _pq_eotf(signal: NDArray[np.float64]) -> NDArray[np.float64]:
    """SMPTE ST 2084: signal in [0, 1] to nits."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(signal, 0.0, 1.0), 1.0 / m2)
    return np.asarray(10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1.0 / m1))


def _hlg_inverse_oetf(signal: NDArray[np.float64]) -> NDArray[np.float64]:
    """ARIB STD-B67: signal in [0, 1] to scene light in [0, 1]."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    e = np.clip(signal, 0.0, 1.0)
    low = e * e / 3.0
    high = (np.exp((e - c) / a) + b) / 12.0
    return np.asarray(np.where(e <= 0.5, low, high))


class _End:
    """Put on the queue after the last frame."""


_Item = ClipFrame | _End | BaseException


@dataclass
class _Clock:
    """Maps decoded frames to the clip's clock and numbers them."""

    origin: int  # the first frame's pts
    time_base: Fraction
    fps: Fraction
    grid: Fraction  # the stream's base frame rate, whose multiples times are snapped to
    index: int | None = None  # the next frame's number, when known
    last: Fraction | None = None
    keyframes: dict[int, int] = field(default_factory=dict)  # pts -> index

    def stamp(self, frame: VideoFrame) -> tuple[int, Fraction, Fraction] | None:
        """The frame's index, time and duration; ``None`` for a frame to skip."""
        step = (Fraction(frame.duration) * self.time_base if frame.duration
                else 1 / self.fps)
        if frame.pts is not None:
            exact = Fraction(frame.pts - self.origin) * self.time_base
            time = on_grid(exact, self.grid, self.time_base)
            if self.last is not None and time <= self.last < exact:
                time = exact  # two frames within a millisecond: both stay
        else:
            time = Fraction(0) if self.last is None else self.last + step
        if self.last is not None and time <= self.last:
            return None  # a repeated or out-of-order timestamp: the earlier frame stands
        if self.index is None:
            known = self.keyframes.get(frame.pts) if frame.pts is not None else None
            self.index = known if known is not None else max(0, round(time * self.fps))
        index = self.index
        if frame.key_frame and frame.pts is not None:
            self.keyframes[frame.pts] = index
        self.index, self.last = index + 1, time
        return index, time, step


# Frame rates cameras and editors use; a stream's measured rate near one of them is it.
_NOMINAL_RATES = tuple(Fraction(n, d) for n, d in (
    (24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (48000, 1001), (48, 1), (50, 1),
    (60000, 1001), (60, 1), (100, 1), (120000, 1001), (120, 1), (15, 1), (12, 1), (10, 1)))


def nominal(rate: Fraction) -> Fraction:
    """``rate``, or the standard frame rate within 0.01 % of it.

    Matroska's 19001/317 is 59.94 fps measured from millisecond stamps; 30 and 29.97 fps
    are 0.1 % apart, so they stay apart.
    """
    closest = min(_NOMINAL_RATES, key=lambda standard: abs(rate - standard))
    return closest if abs(rate - closest) <= closest / 10_000 else rate


def stream_rate(stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's average frame rate, put on the standard rate it is near."""
    rate = stream.average_rate or stream.guessed_rate
    return nominal(Fraction(rate)) if rate else _FALLBACK_FPS


def frame_grid(stream: av.video.stream.VideoStream) -> Fraction:
    """The rate whose multiples a stream's frame times are snapped to (see :func:`on_grid`)."""
    base = stream.guessed_rate or stream.base_rate or stream.average_rate
    return nominal(Fraction(base)) if base else _FALLBACK_FPS


def on_grid(time: Fraction, rate: Fraction, tick: Fraction) -> Fraction:
    """``time`` moved onto the frame grid of ``rate`` when within a tick or a millisecond.

    A timestamp is only as precise as its time base, and keeps the rounding of every
    container it passed through: Matroska's milliseconds store a 30 fps frame 2 at 67 ms,
    not 66.67, and a time taken from two such stamps may be off by a whole millisecond,
    even once remuxed into MP4's finer clock. Left there, a render asking for 1/15 s
    would still see frame 1.
    """
    if rate <= 0:
        return time
    nearest = Fraction(round(time * rate)) / rate
    return nearest if abs(nearest - time) <= max(tick, _MILLISECOND) else time


class _Deinterlacer:
    """FFmpeg's ``bwdif``, one frame out per frame in.

    When the decoder flags interlaced frames, only those are deinterlaced (a stream may
    mix both); when only the container says so, every frame is.
    """

    def __init__(self, frame: VideoFrame, time_base: Fraction) -> None:
        self._graph = av.filter.Graph()
        source = self._graph.add_buffer(width=frame.width, height=frame.height,
                                        format=frame.format, time_base=time_base)
        which = "interlaced" if frame.interlaced_frame else "all"
        bwdif = self._graph.add("bwdif", f"mode=send_frame:parity=auto:deint={which}")
        sink = self._graph.add("buffersink")
        source.link_to(bwdif)
        bwdif.link_to(sink)
        self._graph.configure()

    def push(self, frame: VideoFrame | None) -> list[VideoFrame]:
        """Frames ready after ``frame`` went in (``None`` flushes)."""
        self._graph.vpush(frame)
        out: list[VideoFrame] = []
        while True:
            try:
                out.append(self._graph.vpull())
            except (BlockingIOError, av.error.EOFError):
                return out


def is_interlaced(stream: av.video.stream.VideoStream, frame: VideoFrame) -> bool:
    """Whether a stream's pictures are interlaced (its field order, or its first frame)."""
    return frame.interlaced_frame or stream.codec_context.field_order >= _FIELDS_TOP_FIRST


def close_iterator(iterator: Iterator[object]) -> None:
    """Close a suspended decode generator, releasing its codec before its container."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


class _Decoder:
    """One decode pass on a thread: frames onto a bounded queue, then an end marker.

    The thread is the only user of the container while it runs; :meth:`stop` sets
    its event, empties the queue so a blocked put returns, and joins it.
    """

    def __init__(self, reader: ClipReader, container: av.container.InputContainer,
                 stream: av.video.stream.VideoStream, clock: _Clock) -> None:
        self._reader = reader
        self._container, self._stream = container, stream
        self._clock = clock
        self.queue: queue.Queue[_Item] = queue.Queue(maxsize=reader.read_ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"clip-{reader.path.name}",
                                        daemon=True)
        self._thread.start()

    def _put(self, item: _Item) -> bool:
        if self._stop.is_set():
            return False
        self.queue.put(item)
        return not self._stop.is_set()

    def _run(self) -> None:
        reader = self._reader
        decoded = decode_video(self._container, self._stream)
        try:
            deinterlacer: _Deinterlacer | None = None
            pending: list[tuple[int, Fraction, Fraction]] = []
            for frame in decoded:
                stamp = self._clock.stamp(frame)
                if stamp is None:
                    continue
                if deinterlacer is None and reader.interlaced:
                    deinterlacer = _Deinterlacer(frame, reader.time_base)
                frames = [frame] if deinterlacer is None else deinterlacer.push(frame)
                pending.append(stamp)
                if not self._emit(frames, pending):
                    return
            if deinterlacer is not None and not self._emit(deinterlacer.push(None), pending):
                return
            self._put(_End())
        except BaseException as exc:  # handed to the caller, who raises it
            self._put(exc)
        finally:
            close_iterator(decoded)

    def _emit(self, frames: list[VideoFrame], pending: list[tuple[int, Fraction, Fraction]]
              ) -> bool:
        reader = self._reader
        for frame in frames:
            index, time, step = pending.pop(0)
            item = ClipFrame(index, time, step, frame, reader.orientation, reader.path)
            if reader.size is not None and time + step > reader.start:
                item.planes(*reader.size)  # prepared here, off the caller's thread
            if not self._put(item):
                return False
            if reader.end is not None and time >= reader.end:
                self._put(_End())
                return False
        return True

    def next_item(self) -> _Item:
        """The next frame, end marker or error from the thread (waiting for it)."""
        while True:
            try:
                return self.queue.get(timeout=0.5)
            except queue.Empty:
                if not self._thread.is_alive() and self.queue.empty():
                    return RuntimeError("the decode thread stopped without a reason")

    def stop(self) -> None:
        """Stop the thread and wait for it (safe to call more than once)."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                while True:
                    self.queue.get_nowait()
            self._thread.join(timeout=0.05)
        with contextlib.suppress(queue.Empty):
            while True:
                self.queue.get_nowait()

    @property
    def alive(self) -> bool:
        """Whether the decode thread still runs."""
        return self._thread.is_alive()


class ClipReader:
    """The frames of one clip, on its own clock, decoded ahead on a thread.

    Example::

        with ClipReader(path, start=Fraction(2), end=Fraction(9)) as reader:
            for n in range(frames):
                planes = reader.frame_at(Fraction(n, 25) + 2).planes(1920, 1080)

    Args:
        path: The clip.
        start: Trim start, seconds on the clip's clock (0 is its first frame).
        end: Trim end (exclusive), or ``None`` for the clip's end.
        read_ahead: How many decoded frames may wait in the queue.
        size: When given, each frame's planes are prepared at this size on the decode
            thread, so :meth:`ClipFrame.planes` with it costs the caller nothing.

    Raises:
        MediaError: When opening: missing, unreadable, no video, or corrupt.
    """

    def __init__(self, path: Path, *, start: Fraction = Fraction(0),
                 end: Fraction | None = None, read_ahead: int = 8,
                 size: tuple[int, int] | None = None) -> None:
        if start < 0 or (end is not None and end <= start):
            raise ValueError(f"a clip's trim must have 0 <= start < end, not {start}..{end}")
        self.path = Path(path)
        self.start, self.end = Fraction(start), None if end is None else Fraction(end)
        self.read_ahead = max(1, read_ahead)
        self.size = size
        self._decoder: _Decoder | None = None
        self._current: ClipFrame | None = None
        self._next: ClipFrame | None = None
        self._done = False
        self._closed = False
        self._container = open_clip(self.path)
        try:
            with clip_translated(self.path):
                self._setup()
        except BaseException:
            self._container.close()
            raise

    def _setup(self) -> None:
        if not self._container.streams.video:
            raise MediaError("clip has no video stream", path=self.path)
        self._stream = self._container.streams.video[0]
        codec_name(self.path, self._stream)
        check_picture_size(self.path, self._stream.codec_context.width,
                           self._stream.codec_context.height)
        self._stream.thread_type = "AUTO"
        self.time_base = self._stream.time_base or Fraction(1, 90_000)
        self.fps = stream_rate(self._stream)
        self.grid = frame_grid(self._stream)
        decoded = decode_video(self._container, self._stream)
        try:
            first = next(decoded, None)
        finally:
            close_iterator(decoded)
        if first is None:
            raise MediaError("clip has no frames", path=self.path)
        self.orientation = orientation(first)
        self.rotation, self.mirrored = self.orientation.rotation, self.orientation.mirrored
        self.interlaced = is_interlaced(self._stream, first)
        self.hdr = hdr_kind(first)
        self.alpha = has_alpha(first)
        self._origin = first.pts if first.pts is not None else 0
        self._keyframes: dict[int, int] = {}
        if self.hdr is not None:
            warn_hdr(self.path, self.hdr)

    def __enter__(self) -> ClipReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def decoding(self) -> bool:
        """Whether a decode thread is running (for tests: none after :meth:`close`)."""
        return self._decoder is not None and self._decoder.alive

    def close(self) -> None:
        """Stop and join the decode thread and close the file (safe to call twice)."""
        self._closed = True
        try:
            self._stop()
        finally:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                self._container.close()

    def _stop(self) -> None:
        decoder, self._decoder = self._decoder, None
        if decoder is not None:
            decoder.stop()
        self._current = self._next = None
        self._done = False

    def _start(self, index: int | None) -> None:
        clock = _Clock(self._origin, self.time_base, self.fps, self.grid, index, None,
                       self._keyframes)
        self._decoder = _Decoder(self, self._container, self._stream, clock)

    def _rewind(self) -> None:
        """Decode from the clip's first frame again."""
        self._stop()
        try:
            self._container.seek(0)
        except (av.error.FFmpegError, OSError):
            # Not seekable (a raw stream): read it again from the start.
            self._container.close()
            self._container = open_clip(self.path)
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
        self._start(0)

    def _seek(self, target: Fraction) -> None:
        """Continue from the last keyframe at or before ``target`` (from the start if unsure)."""
        self._stop()
        # Demuxers seek by decode time, which runs ahead of display time when frames
        # are reordered: aim a second early, then decode forward.
        aim = target - _SEEK_MARGIN
        if aim > 0:
            pts = self._origin + int(aim / self.time_base)
            with contextlib.suppress(av.error.FFmpegError, OSError):
                self._container.seek(pts, backward=True, stream=self._stream)
                self._start(None)
                first = self._peek()
                if first is not None and first.time <= target:
                    return
        self._rewind()

    def frame_at(self, t: Fraction) -> ClipFrame:
        """The frame on screen at clip time ``t`` (seconds on the clip's clock).

        That is the latest frame whose time is not after ``t``; before the trim's start,
        the frame at the start; at or after the trim's end (or the clip's), the trim's
        last frame. A ``t`` before the current frame (a loop) seeks back.

        Raises:
            MediaError: The clip fails to decode.
            RuntimeError: The reader is closed.
        """
        if self._closed:
            raise RuntimeError("the clip reader is closed")
        t = max(Fraction(t), self.start)
        if self._decoder is None or (self._current is not None and t < self._current.time):
            self._seek(t)
        while True:
            following = self._peek()
            if following is None or following.time > t or (
                    self.end is not None and following.time >= self.end
                    and self._current is not None):
                break
            self._current, self._next = following, None
        if self._current is None:
            raise MediaError("clip has no frame to show", path=self.path)
        return self._current

    def _peek(self) -> ClipFrame | None:
        """The next decoded frame, without taking it (``None`` at the end)."""
        if self._next is None and not self._done:
            assert self._decoder is not None
            item = self._decoder.next_item()
            if isinstance(item, _End):
                self._done = True
            elif isinstance(item, BaseException):
                self._stop()
                if isinstance(item, MediaError):
                    raise item
                raise MediaError(f"clip failed to decode ({reason(item)})",
                                 path=self.path) from item
            else:
                self._next = item
        return self._next


def frame_within(path: Path, start: Fraction, width: int, height: int,
                 longest: int) -> Planes:
    """The clip's frame on screen at ``start``, whole and upright (its picture is ``width``
    x ``height``), scaled to even sides at most ``longest`` pixels on the longest.

    Raises:
        MediaError: The clip cannot be read.
    """
    scale = min(1.0, longest / max(width, height))
    size = (max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2)))
    with ClipReader(path, start=start, size=size, read_ahead=1) as reader:
        return reader.frame_at(start).planes(*size)


def display_size(stream: av.video.stream.VideoStream, rotation: int) -> tuple[int, int]:
    """A stream's picture size as shown: its sample aspect ratio and ``rotation`` applied."""
    ctx = stream.codec_context
    width, height = ctx.width, ctx.height
    sar = stream.sample_aspect_ratio or ctx.sample_aspect_ratio
    if sar and sar > 0 and sar != 1:
        width = max(1, round(width * Fraction(sar)))
    return (height, width) if rotation in (90, 270) else (width, height)
