"""The benchmark's own project: photographic-looking stills and speech-like narration.

Everything is generated locally and deterministically, so the benchmark runs on a
fresh machine. Stills have assorted sizes and aspect ratios (phone photos, AI
renders, portraits, panoramas) and carry photographic detail (smooth light,
multi-scale texture, grain) so the encoder works as hard as on real pictures; every
other still also has fine detail down to single pixels (foliage, gravel, fabric: the
photographs on which an encoder spends the most per frame).
Stills are shared between projects (a project with more segments than distinct
stills cycles through them, never repeating a neighbour); narrations are unique.
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from storyreel.demo import write_speechlike_wav

__all__ = [
    "GAP",
    "ZOOM",
    "BenchProject",
    "make_photo_project",
    "make_project",
    "narration_seconds",
    "segment_seconds",
]

GAP = 0.3
ZOOM = 1.15
_GENERATOR = 2  # bump when the generated stills change, so cached ones are not reused
_MAX_STILLS = 40
_SIZES: tuple[tuple[int, int], ...] = (
    (4032, 3024), (1792, 1024), (1024, 1024), (3000, 2000), (1080, 1920), (2560, 1440),
    (1344, 768), (2048, 1536), (1600, 2400), (1920, 1080), (3840, 1646), (1200, 1500),
)
_RATES = (24_000, 44_100, 48_000, 22_050)


@dataclass(frozen=True)
class BenchProject:
    """A generated project on disk.

    Attributes:
        manifest: Manifest with the default Ken Burns motion.
        static_manifest: The same project with motion switched off.
        captions_manifest: The same project with captions burned in (phrase style).
        segments: Number of segments.
        width: Output width.
        height: Output height.
        fps: Output frame rate.
        narration: Total narration length in seconds (gaps excluded).
    """

    manifest: Path
    static_manifest: Path
    segments: int
    width: int
    height: int
    fps: int
    narration: float
    captions_manifest: Path


def segment_seconds(count: int) -> float:
    """Mean narration length per segment: about 70 s for 10, shorter for large counts."""
    return 6.7 if count <= 10 else max(1.0, 120.0 / count)


def _photo(width: int, height: int, seed: int) -> NDArray[np.uint8]:
    """An RGB picture with sky-to-ground light, soft shapes, multi-scale texture and grain."""
    rng = np.random.default_rng(1000 + seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    horizon = rng.uniform(0.35, 0.65)
    sky_top, sky_low = rng.uniform(60, 230, 3), rng.uniform(120, 250, 3)
    ground_top, ground_low = rng.uniform(30, 160, 3), rng.uniform(5, 90, 3)
    sky = sky_top + (sky_low - sky_top) * np.clip(y / horizon, 0, 1)
    ground = ground_top + (ground_low - ground_top) * np.clip((y - horizon) / (1 - horizon), 0, 1)
    light = np.where(y < horizon, sky, ground).astype(np.float32)
    picture = np.broadcast_to(light, (height, width, 3)).copy()
    picture += _shapes(width, height, rng)
    for cell, amplitude in ((256, 26.0), (64, 16.0), (16, 10.0), (4, 6.0)):
        picture += _octave(width, height, cell, rng) * amplitude
    grain = rng.standard_normal((height, width, 1), dtype=np.float32) * 3.0
    picture += grain
    if seed % 2:
        _fine_detail(picture, rng)
    return np.asarray(np.clip(picture, 0, 255), dtype=np.uint8)


def _fine_detail(picture: NDArray[np.float32], rng: np.random.Generator) -> None:
    """Add detail one or two pixels wide: thin strokes in every direction and sharp grain."""
    height, width = picture.shape[:2]
    strokes = np.zeros((height, width), np.float32)
    count = width * height // 400
    starts = rng.uniform(0, 1, (count, 2)) * (width, height)
    angles = rng.uniform(0, np.pi, count)
    lengths = rng.uniform(3, 14, count)
    ends = starts + np.stack([np.cos(angles), np.sin(angles)], axis=1) * lengths[:, None]
    levels = rng.uniform(-40, 40, count)
    for (x0, y0), (x1, y1), level in zip(starts.astype(int), ends.astype(int), levels,
                                         strict=True):
        cv2.line(strokes, (int(x0), int(y0)), (int(x1), int(y1)), float(level), 1)
    picture += strokes[..., None]
    picture += rng.standard_normal((height, width, 1), dtype=np.float32) * 9.0


def _octave(width: int, height: int, cell: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """Smooth noise with features about ``cell`` pixels wide (luma-heavy, slightly tinted)."""
    small_w, small_h = max(2, width // cell), max(2, height // cell)
    luma = rng.standard_normal((small_h, small_w, 1), dtype=np.float32)
    tint = rng.standard_normal((small_h, small_w, 3), dtype=np.float32) * 0.12
    small = np.ascontiguousarray(luma + tint)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC),
                      dtype=np.float32)


def _shapes(width: int, height: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """Soft-edged blobs (hills, trees, buildings seen out of focus), drawn small and scaled up."""
    scale = 8
    small_w, small_h = max(8, width // scale), max(8, height // scale)
    layer = np.zeros((small_h, small_w, 3), np.float32)
    for _ in range(int(rng.integers(6, 14))):
        centre = (int(rng.uniform(0, small_w)), int(rng.uniform(0.3, 1.0) * small_h))
        axes = (int(rng.uniform(0.04, 0.25) * small_w), int(rng.uniform(0.03, 0.2) * small_h))
        colour = tuple(float(c) for c in rng.uniform(-70, 50) + rng.uniform(-20, 20, 3))
        cv2.ellipse(layer, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    blurred = cv2.GaussianBlur(layer, (0, 0), 1.5)
    return np.asarray(cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR),
                      dtype=np.float32)


def _still(folder: Path, index: int) -> Path:
    width, height = _SIZES[index % len(_SIZES)]
    path = folder / f"still-{_GENERATOR}-{index:02d}-{width}x{height}.jpg"
    if not path.exists():
        temp = path.with_suffix(".tmp.jpg")
        Image.fromarray(_photo(width, height, index), "RGB").save(temp, quality=88)
        temp.replace(path)
    return path


def narration_seconds(path: Path) -> float:
    """Length of a WAV file in seconds."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def make_project(
    root: Path, count: int, width: int, height: int, fps: int, seconds: float | None = None
) -> BenchProject:
    """Create (or reuse) the benchmark project with ``count`` segments under ``root``.

    Args:
        root: Folder holding the shared stills and one sub-folder per project.
        count: Number of segments.
        width: Output width (even).
        height: Output height (even).
        fps: Output frame rate.
        seconds: Mean narration length per segment; default :func:`segment_seconds`.

    Returns:
        The project's manifests and facts.
    """
    mean = segment_seconds(count) if seconds is None else seconds
    stills = root / "stills"
    stills.mkdir(parents=True, exist_ok=True)
    folder = root / f"story-{count:03d}seg-{width}x{height}-{fps}fps-{mean:g}s"
    audio = folder / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    segments = []
    narration = 0.0
    for i in range(count):
        image = _still(stills, i % min(count, _MAX_STILLS))
        wav = audio / f"{i + 1:03d}.wav"
        length = mean * float(rng.uniform(0.8, 1.2))
        rate = _RATES[i % len(_RATES)]
        write_speechlike_wav(wav, length, rate=rate, seed=i, channels=1 + (i % 5 == 4))
        narration += narration_seconds(wav)
        segments.append({
            "image": str(Path("..") / "stills" / image.name),
            "audio": f"audio/{wav.name}",
            "text": f"Segment {i + 1}: narration read over a still photograph.",
        })
    manifests = []
    for name, direction, captions in (("story.json", "auto", False),
                                      ("story-static.json", "none", False),
                                      ("story-captions.json", "auto", True)):
        manifest = folder / name
        manifest.write_text(json.dumps({
            "title": f"Benchmark story, {count} segments",
            "width": width, "height": height, "fps": fps,
            "settings": {
                "gap": GAP, "ken_burns": {"zoom": ZOOM, "direction": direction},
                # The MoviePy way has no captions (burnt in or sidecar), crossfades or
                # loudness normalisation; storyreel does the same work as it. The
                # captioned manifest measures what burned-in caption styles cost.
                "subtitles": {"enabled": captions, "sidecar": False},
                "transitions": {"crossfade": 0.0},
                "loudness": {"enabled": False},
            },
            "segments": segments,
        }, indent=1), encoding="utf-8")
        manifests.append(manifest)
    return BenchProject(manifests[0], manifests[1], count, width, height, fps, narration,
                        manifests[2])


# -- photographs ------------------------------------------------------------------------

#: Camera photographs shipped inside scikit-image's wheel (no download), by file name.
_PHOTOS = ("grass.png", "gravel.png", "brick.png", "hubble_deep_field.jpg",
           "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "moon.png",
           "motorcycle_left.png", "camera.png", "ihc.png", "coins.png")
_PHOTO_SIZES = ((4032, 3024), (3000, 2000), (4000, 2250), (2048, 1536))
_PHOTO_GENERATOR = 1  # bump when the collages change, so old ones are not reused
_ROW = 300  # every photograph is at least this tall: strips of it fill the rows


def _photo_folder() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).resolve().parent


def _collage(width: int, height: int, seed: int) -> NDArray[np.uint8]:
    """Camera photographs laid side by side at their own resolution (never scaled up), so
    every pixel carries a camera's detail: grass blades, gravel, brick, stars, fur."""
    rng = np.random.default_rng(2000 + seed)
    photos = []
    for name in _PHOTOS:
        with Image.open(_photo_folder() / name) as im:
            photos.append(np.asarray(im.convert("RGB")))
    canvas = np.zeros((height, width, 3), np.uint8)
    for y in range(0, height, _ROW):
        x = 0
        while x < width:
            photo = photos[int(rng.integers(len(photos)))]
            top = int(rng.integers(photo.shape[0] - _ROW + 1))
            window = photo[top:top + _ROW, ::-1] if rng.uniform() < 0.5 else \
                photo[top:top + _ROW]
            h, w = min(_ROW, height - y), min(window.shape[1], width - x)
            canvas[y:y + h, x:x + w] = window[:h, :w]
            x += w
    return canvas


def make_photo_project(root: Path, count: int = 4, width: int = 1920, height: int = 1080,
                       fps: int = 30, seconds: float = 6.0) -> Path:
    """A short project of photographs with fine detail (default: 4 segments, 25 s, 1080p30).

    The stills are 12-megapixel-class collages of the camera photographs that ship with
    scikit-image, each at its own resolution, so the encoder sees real photographic
    detail down to single pixels. Returns the manifest (plain cuts, no captions or
    loudness normalisation, like the main benchmark's).
    """
    folder = root / f"photos-{_PHOTO_GENERATOR}-{count:02d}seg-{width}x{height}-{fps}fps"
    audio = folder / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    segments = []
    for i in range(count):
        still = folder / f"photo-{i + 1:02d}.jpg"
        if not still.exists():
            w, h = _PHOTO_SIZES[i % len(_PHOTO_SIZES)]
            temp = still.with_suffix(".tmp.jpg")
            Image.fromarray(_collage(w, h, i), "RGB").save(temp, quality=92)
            temp.replace(still)
        wav = audio / f"{i + 1:03d}.wav"
        write_speechlike_wav(wav, seconds, rate=48_000, seed=100 + i)
        segments.append({"image": still.name, "audio": f"audio/{wav.name}",
                         "text": f"Photograph {i + 1}, read over slowly."})
    manifest = folder / "story.json"
    manifest.write_text(json.dumps({
        "title": f"Photographs, {count} segments", "width": width, "height": height,
        "fps": fps,
        "settings": {"gap": GAP, "ken_burns": {"zoom": ZOOM},
                     "subtitles": {"enabled": False, "sidecar": False},
                     "transitions": {"crossfade": 0.0}, "loudness": {"enabled": False}},
        "segments": segments,
    }, indent=1), encoding="utf-8")
    return manifest
