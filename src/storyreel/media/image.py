"""Still images: probing, decoding once, and conversion to the encoder's YUV planes."""

from __future__ import annotations

import io
import math
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from storyreel.errors import MediaError
from storyreel.media.files import check_regular_file, file_identity
from storyreel.timeline.framing import Focus, cover_box, focus_in

__all__ = [
    "MAX_IMAGE_PIXELS",
    "RGB_TO_YUV709",
    "Planes",
    "decode_covering",
    "encode_jpeg",
    "even_ceil",
    "frame_covering",
    "grey_within",
    "load_cover_planes",
    "load_framed",
    "load_reduced_grey",
    "probe_image",
    "rgb_to_yuv420",
]

#: Largest still accepted (width x height); larger files are treated as decompression bombs.
MAX_IMAGE_PIXELS = 80_000_000
_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "MPO"}
_HEADER_EXIF = {"JPEG", "MPO", "WEBP", "TIFF"}
#: EXIF orientation -> the turn that makes the picture upright (as ImageOps.exif_transpose).
_TURNS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
          4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
          6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_90}

Plane = NDArray[np.uint8]
_Sizer = Callable[[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Planes:
    """A picture in 8-bit YUV 4:2:0 (BT.709, limited range): full-size Y, half-size U and V."""

    y: Plane
    u: Plane
    v: Plane

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the luma plane."""
        return self.y.shape[1], self.y.shape[0]


#: Files found sound, by :func:`~storyreel.media.files.file_identity`: a studio plans a
#: timeline on every preview, and a TIFF or WebP is checked by decoding it whole.
_PROBED: OrderedDict[tuple[str, int, int, int], tuple[int, int]] = OrderedDict()
_PROBED_MAX = 512
_PROBED_LOCK = threading.Lock()


def probe_image(path: Path, segment: int | None = None) -> tuple[int, int]:
    """Check that ``path`` is a supported, sane, complete image, cheaply.

    JPEGs are decoded at 1/8 scale and PNGs have every chunk checked, so a truncated
    or corrupt file is found here rather than in the middle of a render. A file found
    sound is not checked again in this process until it changes (its path, size,
    modification time or inode).

    Returns:
        The image's width and height (after EXIF orientation).

    Raises:
        MediaError: Missing, unreadable, unsupported, too large or corrupt.
    """
    check_regular_file(path, "image", segment)
    try:
        identity = file_identity(path)
    except OSError:  # gone since: the check below names it
        identity = None
    if identity is not None:
        with _PROBED_LOCK:
            if identity in _PROBED:
                _PROBED.move_to_end(identity)
                return _PROBED[identity]
    size = _probe(path, segment)
    if identity is not None:
        with _PROBED_LOCK:
            _PROBED[identity] = size
            while len(_PROBED) > _PROBED_MAX:
                _PROBED.popitem(last=False)
    return size


def _probe(path: Path, segment: int | None) -> tuple[int, int]:
    with _open(path, segment) as im:
        width, height = im.size
        try:
            # getexif() decodes a whole PNG to find trailing EXIF chunks; only ask formats
            # that keep EXIF in their header.
            orientation = im.getexif().get(0x0112, 1) if im.format in _HEADER_EXIF else 1
            _check_pixels(im, path)
        except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
            raise MediaError("image is corrupt or truncated", path=path,
                             segment=segment) from exc
        return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _check_pixels(im: Image.Image, path: Path) -> None:
    """Decode enough of ``im`` to know its data is complete."""
    if im.format in ("JPEG", "MPO"):
        im.draft(None, (max(1, im.width // 8), max(1, im.height // 8)))
        im.load()
    elif im.format == "PNG":
        with Image.open(path) as fresh:
            fresh.verify()
    else:
        im.load()


def _open(path: Path, segment: int | None) -> Image.Image:
    check_regular_file(path, "image", segment)
    try:
        # Pillow refuses bombs over twice its limit itself; our own, lower cap follows.
        im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise MediaError(
            f"image is too large (over {MAX_IMAGE_PIXELS // 1_000_000} megapixels)",
            path=path, segment=segment,
        ) from exc
    except UnidentifiedImageError as exc:
        raise MediaError("not a supported image (use JPEG, PNG or WebP)", path=path,
                         segment=segment) from exc
    except OSError as exc:
        raise MediaError(f"cannot read image ({exc.strerror or exc})", path=path,
                         segment=segment) from exc
    if im.format not in _FORMATS:
        im.close()
        raise MediaError(f"unsupported image format {im.format}", path=path, segment=segment)
    if im.width * im.height > MAX_IMAGE_PIXELS:
        im.close()
        raise MediaError(
            f"image is too large ({im.width}x{im.height}, over "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels)", path=path, segment=segment,
        )
    return im


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return im.convert("RGB")


def load_cover_planes(
    path: Path, width: int, height: int, segment: int | None = None,
    focus: Focus | None = None,
) -> Planes:
    """Decode ``path`` once and fit it to *cover* a ``width`` x ``height`` frame.

    The image is cropped to the output aspect around ``focus`` (shares of the picture;
    its centre by default, see :func:`storyreel.timeline.framing.cover_box`) and
    resampled to exactly ``width`` x ``height`` (both even; area averaging when
    shrinking, bicubic when enlarging), then converted to YUV 4:2:0. Large JPEGs are
    decoded at a reduced scale when that still leaves enough pixels.

    Raises:
        MediaError: The file is missing, unsupported, too large or corrupt.
    """
    return load_framed(path, width, height, segment, focus)[0]


def load_framed(
    path: Path, width: int, height: int, segment: int | None = None,
    focus: Focus | None = None,
) -> tuple[Planes, Focus]:
    """:func:`load_cover_planes`, and where ``focus`` lies in the planes (shares).

    Raises:
        MediaError: The file is missing, unsupported, too large or corrupt.
    """
    return frame_covering(decode_covering(path, width, height, segment), width, height, focus)


def decode_covering(path: Path, width: int, height: int, segment: int | None = None
                    ) -> NDArray[np.uint8]:
    """``path`` decoded upright to RGB, whole, shrunk by the largest whole factor (and
    JPEG scale) that still covers a ``width`` x ``height`` frame: what
    :func:`load_framed` crops from, read-only (kept decodes are shared).

    Raises:
        MediaError: The file is missing, unsupported, too large or corrupt.
    """
    rgb = _decoded(path, _needed(width, height), segment)
    rgb.flags.writeable = False
    return rgb


def frame_covering(rgb: NDArray[np.uint8], width: int, height: int,
                   focus: Focus | None = None) -> tuple[Planes, Focus]:
    """The rest of :func:`load_framed`: ``rgb`` (from :func:`decode_covering`) cropped
    around ``focus`` and resampled to ``width`` x ``height``, and where ``focus`` lies in
    the planes."""
    src_h, src_w = rgb.shape[:2]
    box = cover_box(src_w, src_h, width, height, focus)
    left, top, right, bottom = (round(v) for v in box)
    crop = rgb[top:bottom, left:right]
    shrink = crop.shape[1] >= width
    fitted = cv2.resize(crop, (width, height),
                        interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return (rgb_to_yuv420(np.asarray(fitted, dtype=np.uint8)),
            focus_in(box, src_w, src_h, focus))


def load_reduced_grey(path: Path, longest: int, segment: int | None = None
                      ) -> NDArray[np.uint8]:
    """``path`` upright and in grey, its longest side at most ``longest`` pixels.

    Raises:
        MediaError: The file is missing, unsupported, too large or corrupt.
    """
    return grey_within(_decoded(path, lambda w, h: _within(w, h, longest), segment), longest)


def grey_within(rgb: NDArray[np.uint8], longest: int) -> NDArray[np.uint8]:
    """``rgb`` in grey, area-averaged down until its longest side is at most ``longest``."""
    scale = min(1.0, longest / max(rgb.shape[0], rgb.shape[1]))
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2GRAY), np.uint8)


def _needed(width: int, height: int) -> _Sizer:
    def sizer(src_w: int, src_h: int) -> tuple[int, int]:
        scale = max(width / src_w, height / src_h)
        return math.ceil(src_w * scale), math.ceil(src_h * scale)
    return sizer


def _within(src_w: int, src_h: int, longest: int) -> tuple[int, int]:
    scale = min(1.0, longest / max(src_w, src_h))
    return max(1, math.ceil(src_w * scale)), max(1, math.ceil(src_h * scale))


def _decoded(path: Path, needed_of: _Sizer, segment: int | None) -> NDArray[np.uint8]:
    """``path`` decoded upright to RGB, at a reduced size still at least ``needed_of``
    (the picture's upright width and height) asks for."""
    try:
        with _open(path, segment) as im:
            needed = _decode_size(im, needed_of)
            im.draft(None, needed)
            im.load()
            turn = _TURNS.get(im.getexif().get(0x0112, 1))
            small = _reduced(im, needed)  # a reduced copy has no EXIF: turned by the original's
            if turn is not None:
                small = small.transpose(turn)
            return np.asarray(small if small.mode == "RGB" else _to_rgb(small))
    except MediaError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"image is corrupt or truncated ({exc})", path=path,
                         segment=segment) from exc


def _reduced(im: Image.Image, needed: tuple[int, int]) -> Image.Image:
    """``im`` shrunk by the largest whole factor that still covers ``needed`` (a box
    average, as the area resampling that follows would do), before any conversion: a
    large still is converted (float, 16-bit, alpha) at the size it is used, not whole."""
    factor = min(im.width // max(1, needed[0]), im.height // max(1, needed[1]))
    if factor < 2:
        return im
    try:
        return im.reduce(factor)
    except ValueError:  # a mode Pillow cannot reduce (palette, 16-bit): converted whole
        return im


def _decode_size(im: Image.Image, needed_of: _Sizer) -> tuple[int, int]:
    """Smallest decoded size (as stored) that still gives what ``needed_of`` asks of
    the upright picture."""
    src_w, src_h = im.size
    orientation = im.getexif().get(0x0112, 1) if im.format in _HEADER_EXIF else 1
    if orientation in (5, 6, 7, 8):  # the picture is stored rotated by 90 degrees
        upright = needed_of(src_h, src_w)
        return upright[1], upright[0]
    return needed_of(src_w, src_h)


#: BT.709 RGB (0-255) -> limited-range Y'CbCr, as a 3x4 affine matrix for cv2.transform.
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB
_Y = np.array([_KR, _KG, _KB]) * 219.0 / 255.0
_CB = (np.array([0.0, 0.0, 1.0]) - np.array([_KR, _KG, _KB])) / (2 * (1 - _KB)) * 224.0 / 255.0
_CR = (np.array([1.0, 0.0, 0.0]) - np.array([_KR, _KG, _KB])) / (2 * (1 - _KR)) * 224.0 / 255.0
RGB_TO_YUV709 = np.array(
    [[*_Y, 16.0], [*_CB, 128.0], [*_CR, 128.0]], dtype=np.float32
)


def rgb_to_yuv420(rgb: NDArray[np.uint8]) -> Planes:
    """Convert an ``(h, w, 3)`` RGB array (even ``w`` and ``h``) to BT.709 YUV 4:2:0 planes."""
    height, width = rgb.shape[:2]
    if width % 2 or height % 2:
        raise ValueError("YUV 4:2:0 needs an even width and height")
    yuv = np.asarray(cv2.transform(np.ascontiguousarray(rgb), RGB_TO_YUV709), dtype=np.uint8)
    y = np.ascontiguousarray(yuv[:, :, 0])
    half = (width // 2, height // 2)
    u = np.asarray(cv2.resize(yuv[:, :, 1], half, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    v = np.asarray(cv2.resize(yuv[:, :, 2], half, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return Planes(y, u, v)


def encode_jpeg(rgb: NDArray[np.uint8], max_bytes: int) -> bytes:
    """``rgb`` as a baseline JPEG (4:2:0) at the best quality, from 92 down, that keeps
    it within ``max_bytes``.

    Raises:
        ValueError: Not even the lowest quality tried fits.
    """
    picture = Image.fromarray(np.ascontiguousarray(rgb))
    for quality in range(92, 39, -8):
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality, optimize=True, subsampling="4:2:0")
        if out.tell() <= max_bytes:
            return out.getvalue()
    raise ValueError(f"the picture does not fit in {max_bytes} bytes as a JPEG")


def even_ceil(value: float) -> int:
    """Smallest even integer not below ``value``."""
    return 2 * math.ceil(value / 2 - 1e-9)
