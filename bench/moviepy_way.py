"""The MoviePy way: the reference renderer storyreel replaces, written as its users write it.

Run as ``python -m bench.moviepy_way MANIFEST OUT.mp4 --preset P [--static]``.
Per segment an ``ImageClip`` (the still fitted once to cover the output at the
largest zoom) lasting its narration plus the gap, with Ken Burns done per frame by
a ``transform``: the crop box is interpolated (eased zoom and pan, as storyreel
moves) and the crop is resized to the output. The clips are joined with
``concatenate_videoclips`` and written by ``write_videofile`` with libx264, AAC,
8000k, the project's frame rate and the same preset. ``--static`` leaves out the
motion. The per-frame crop and resize use Pillow with the LANCZOS filter, as
MoviePy's own ``Resize`` effect does; ``--fast-resize`` uses OpenCV's bilinear
filter instead, the fastest choice a MoviePy user has.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from moviepy import (  # type: ignore[import-untyped]
    AudioFileClip,
    ImageClip,
    concatenate_videoclips,
)
from numpy.typing import NDArray
from PIL import Image, ImageOps

__all__ = ["main"]

Frame = NDArray[np.uint8]


def _fitted(path: Path, width: int, height: int) -> Frame:
    with Image.open(path) as im:
        rgb = ImageOps.fit(ImageOps.exif_transpose(im).convert("RGB"), (width, height),
                           Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def _pil_resize(crop: Frame, size: tuple[int, int]) -> Frame:
    return np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS))


def _cv2_resize(crop: Frame, size: tuple[int, int]) -> Frame:
    return np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


def _ken_burns(index: int, duration: float, zoom: float, size: tuple[int, int],
               resize: Callable[[Frame, tuple[int, int]], Frame]
               ) -> Callable[[Callable[[float], Frame], float], Frame]:
    """Per-frame crop box (eased zoom in or out, with a pan) resized to the output."""
    out_w, out_h = size
    ends = ((0.5, 0.5), ((0.2, 0.8)[index % 2], (0.3, 0.7)[(index // 2) % 2]))
    start, end = ends if index % 2 == 0 else ends[::-1]

    def effect(get_frame: Callable[[float], Frame], t: float) -> Frame:
        picture = get_frame(t)
        src_h, src_w = picture.shape[:2]
        e = 0.5 - 0.5 * math.cos(math.pi * min(1.0, t / duration))
        z = 1 + (zoom - 1) * (e if index % 2 == 0 else 1 - e)
        box_w, box_h = round(src_w / z), round(src_h / z)
        x = round((start[0] + (end[0] - start[0]) * e) * (src_w - box_w))
        y = round((start[1] + (end[1] - start[1]) * e) * (src_h - box_h))
        return resize(picture[y : y + box_h, x : x + box_w], (out_w, out_h))

    return effect


def _clips(manifest: dict[str, Any], base: Path, static: bool, fast: bool) -> list[Any]:
    width, height = int(manifest["width"]), int(manifest["height"])
    settings = manifest.get("settings", {})
    gap = float(settings.get("gap", 0.3))
    zoom = 1.0 if static else float(settings.get("ken_burns", {}).get("zoom", 1.15))
    fit = (math.ceil(width * zoom / 2) * 2, math.ceil(height * zoom / 2) * 2)
    clips = []
    for index, segment in enumerate(manifest["segments"]):
        audio = AudioFileClip(str(base / segment["audio"]), fps=48_000)
        duration = audio.duration + gap
        clip = ImageClip(_fitted(base / segment["image"], *fit)).with_duration(duration)
        if not static:
            resize = _cv2_resize if fast else _pil_resize
            clip = clip.transform(_ken_burns(index, duration, zoom, (width, height), resize))
        clips.append(clip.with_audio(audio))
    return clips


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.moviepy_way", description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--static", action="store_true", help="no Ken Burns motion")
    parser.add_argument("--fast-resize", action="store_true",
                        help="OpenCV bilinear instead of Pillow LANCZOS for the per-frame resize")
    args = parser.parse_args(argv)
    manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
    clips = _clips(manifest, args.manifest.parent, args.static, args.fast_resize)
    video = concatenate_videoclips(clips)
    try:
        video.write_videofile(
            str(args.out), fps=float(manifest.get("fps", 30)), codec="libx264",
            audio_codec="aac", bitrate="8000k", audio_fps=48_000, audio_bitrate="192k",
            preset=args.preset, logger=None,
            # As storyreel: High profile at every preset (8x8 transforms also at ultrafast).
            ffmpeg_params=["-profile:v", "high", "-x264-params", "8x8dct=1"],
            temp_audiofile=str(args.out.with_suffix(".temp-audio.m4a")),
        )
    finally:
        video.close()
        for clip in clips:
            clip.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
