"""The encoder's floor: libx264 alone encoding frames that are already in memory.

Run as ``python -m bench.floor MANIFEST --preset P --out OUT.mp4 --json RESULT.json``.
Before the clock starts, the frames of the project are generated in the encoder's
pixel format (yuv420p PyAV frames): each still fitted to the output and moved with
a Ken Burns zoom and pan like storyreel's (or still, if the manifest switches
motion off), one segment after another with the project's own segment lengths.
The clock then covers only handing those frames to libx264 (same preset,
8 Mbit/s, High profile, as storyreel) and muxing the packets: the time no
renderer using this encoder can beat.

If the project's frames do not fit the memory budget, the first segments' frames
are kept and the encoder cycles through them (whole segments, in order, with cuts
between them as in the project), so the number of frames and the kind of content
stay the same.

With ``--quality`` the output is decoded afterwards and compared with the frames
that went in, which are exactly what a lossless (qp 0) encode would give back:
PSNR of every frame (Y plane) and SSIM (Y plane) of evenly spaced frames.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import psutil
from av.video.frame import VideoFrame
from numpy.typing import NDArray
from PIL import Image, ImageOps
from skimage.metrics import structural_similarity

from bench.measure import high_water_mark
from bench.project import narration_seconds
from storyreel.timeline.plan import plan_timeline

__all__ = ["main"]

_RATE = 48_000
_SSIM_SAMPLES = 40
Plane = NDArray[np.uint8]


def _views(frame: VideoFrame) -> list[Plane]:
    views = []
    for plane in frame.planes:
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8)
        rows = rows.reshape(plane.height, plane.line_size)
        views.append(rows[:, : plane.width])
    return views


def _cover_yuv(path: Path, width: int, height: int) -> list[Plane]:
    """The still, EXIF-oriented and cropped to cover ``width`` x ``height``, as I420 planes."""
    with Image.open(path) as im:
        rgb = ImageOps.fit(ImageOps.exif_transpose(im).convert("RGB"), (width, height),
                           Image.Resampling.BILINEAR)
    i420 = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2YUV_I420)
    quarter = (height // 2, width // 2)
    chroma = i420[height:].reshape(2, *quarter)
    return [i420[:height], chroma[0], chroma[1]]


def _warp(still: list[Plane], dest: list[Plane], zoom: float, px: float, py: float) -> None:
    src_h, src_w = still[0].shape
    out_h, out_w = dest[0].shape
    win_w, win_h = src_w / zoom, src_h / zoom
    x0, y0 = px * (src_w - win_w), py * (src_h - win_h)
    for src, dst, div in zip(still, dest, (1, 2, 2), strict=True):
        sx, sy = win_w / out_w, win_h / out_h
        matrix = np.array([[sx, 0.0, x0 / div + 0.5 * sx - 0.5],
                           [0.0, sy, y0 / div + 0.5 * sy - 0.5]])
        cv2.warpAffine(src, matrix, (dst.shape[1], dst.shape[0]), dst=dst,
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_REPLICATE)


def _segment_frames(
    still: list[Plane], index: int, count: int, size: tuple[int, int], max_zoom: float
) -> list[VideoFrame]:
    """Eased zoom (in on even segments, out on odd ones) combined with a pan.

    Without zoom the segment is one picture, handed to the encoder ``count`` times.
    """
    if max_zoom <= 1.0:
        frame = VideoFrame(size[0], size[1], "yuv420p")
        _warp(still, _views(frame), 1.0, 0.5, 0.5)
        return [frame] * count
    ends = ((0.5, 0.5), ((0.2, 0.8)[index % 2], (0.3, 0.7)[(index // 2) % 2]))
    start, end = ends if index % 2 == 0 else ends[::-1]
    frames = []
    for k in range(count):
        t = k / (count - 1) if count > 1 else 0.0
        e = 0.5 - 0.5 * math.cos(math.pi * t)
        zoom = 1 + (max_zoom - 1) * (e if index % 2 == 0 else 1 - e)
        frame = VideoFrame(size[0], size[1], "yuv420p")
        _warp(still, _views(frame), zoom,
              start[0] + (end[0] - start[0]) * e, start[1] + (end[1] - start[1]) * e)
        frames.append(frame)
    return frames


def _segment_lengths(manifest: dict[str, object], base: Path, fps: Fraction, gap: float
                     ) -> list[int]:
    segments = manifest["segments"]
    assert isinstance(segments, list)
    samples = [round(narration_seconds(base / s["audio"]) * _RATE) for s in segments]
    plan = plan_timeline(samples, fps=fps, sample_rate=_RATE, gap=round(gap * _RATE))
    return [span.frames for span in plan.spans]


def build_pool(manifest_path: Path, budget: int) -> tuple[list[VideoFrame], int, Fraction]:
    """Frames of the project's first segments, up to ``budget`` bytes.

    Returns:
        The frames, the project's total frame count and its frame rate.
    """
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    base = manifest_path.parent
    width, height = int(manifest["width"]), int(manifest["height"])
    fps = Fraction(manifest["fps"])
    settings = manifest.get("settings", {})
    motion = settings.get("ken_burns", {})
    zoom = 1.0 if motion.get("direction") == "none" else float(motion.get("zoom", 1.15))
    lengths = _segment_lengths(manifest, base, fps, float(settings.get("gap", 0.3)))
    cap = max(1, budget // (width * height * 3 // 2))
    pool: list[VideoFrame] = []
    for index, (segment, length) in enumerate(zip(manifest["segments"], lengths, strict=True)):
        if len(pool) >= cap:
            break
        fit = (math.ceil(width * zoom / 2) * 2, math.ceil(height * zoom / 2) * 2)
        still = _cover_yuv(base / segment["image"], *fit)
        pool += _segment_frames(still, index, min(length, cap - len(pool)), (width, height), zoom)
    return pool, sum(lengths), fps


def encode(pool: list[VideoFrame], total: int, fps: Fraction, preset: str, out: Path
           ) -> tuple[float, float]:
    """Encode ``total`` frames cycling through ``pool``; returns (wall, cpu) seconds."""
    with av.open(str(out), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = pool[0].width, pool[0].height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 8_000_000
        stream.options = {"preset": preset, "profile": "high", "x264-params": "8x8dct=1"}
        time_base = 1 / fps
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(total):
            frame = pool[i % len(pool)]
            frame.pts = i
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return time.perf_counter() - start, time.process_time() - cpu


def quality(pool: list[VideoFrame], out: Path) -> dict[str, float | int]:
    """Y-plane PSNR (mean of all frames) and SSIM (mean of evenly spaced frames) vs the input."""
    reference = [_views(frame)[0] for frame in pool]
    with av.open(str(out)) as container:
        total = container.streams.video[0].frames
        step = max(1, total // _SSIM_SAMPLES)
        psnr, ssim = [], []
        for i, decoded in enumerate(container.decode(video=0)):
            got = _views(decoded)[0]
            want = reference[i % len(reference)]
            mse = float(np.mean((got.astype(np.float32) - want) ** 2))
            psnr.append(99.0 if mse == 0 else 10 * math.log10(255**2 / mse))
            if i % step == step // 2:
                ssim.append(float(structural_similarity(  # type: ignore[no-untyped-call]
                    got, want, data_range=255)))
    return {"psnr_y": float(np.mean(psnr)), "ssim_y": float(np.mean(ssim)),
            "ssim_frames": len(ssim), "quality_frames": len(psnr)}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; writes the result JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--memory-budget-mb", type=int, default=0,
                        help="frames kept in memory (default: half of the available RAM)")
    parser.add_argument("--quality", action="store_true")
    args = parser.parse_args(argv)
    budget = args.memory_budget_mb * 1_000_000 or psutil.virtual_memory().available // 2
    pool, total, fps = build_pool(args.manifest, budget)
    wall, cpu = encode(pool, total, fps, args.preset, args.out)
    result: dict[str, float | int] = {
        "wall": wall, "cpu": cpu, "frames": total, "pool_frames": len(pool),
        "peak_rss_mb": high_water_mark() / 1e6,
    }
    if args.quality:
        result.update(quality(pool, args.out))
    args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
