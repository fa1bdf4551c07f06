"""The encoder's floor: libx264 alone encoding frames that are already in memory.

Run as ``python -m bench.floor MANIFEST --preset P --out OUT.mp4 --json RESULT.json``.
Before the clock starts, the project's frames are drawn by storyreel's own frame
source (the same stills, Ken Burns motion, crossfades, captions and fades, in the
encoder's pixel format) and kept in memory: the exact frames a render of the
manifest hands to its encoder. The clock then covers only handing those frames to
libx264 (same preset, 8 Mbit/s, High profile, as storyreel, in one continuous
stream) and muxing the packets: the time no renderer using this encoder can beat.

If the project's frames do not fit the memory budget, the first frames are kept and
the encoder cycles through them, so the number of frames and the kind of content
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
import numpy as np
import psutil
from av.video.frame import VideoFrame
from skimage.metrics import structural_similarity

from bench.measure import high_water_mark
from storyreel import load_project
from storyreel.frames.pictures import open_picture
from storyreel.media.encoder import PlaneViews, plane_views
from storyreel.render.analysis import analyse_project
from storyreel.render.decor import Decorator
from storyreel.render.frames import FrameProducer
from storyreel.timeline.story import build_story, seconds_to_frames

__all__ = ["main"]

_SSIM_SAMPLES = 40


def build_pool(manifest_path: Path, budget: int) -> tuple[list[VideoFrame], int, Fraction]:
    """The project's frames as a render draws them, up to ``budget`` bytes.

    Returns:
        The frames, the project's total frame count and its frame rate.
    """
    project = load_project(manifest_path)
    captions = project.settings.subtitles
    analysis = analyse_project(project, speech=captions.enabled, focus=True)
    if analysis.problems:
        raise SystemExit(f"the project does not render: {analysis.problems[0]}")
    story = build_story(project, analysis)
    plan, fps = story.plan, story.plan.fps
    fades = project.settings.transitions
    decorator = Decorator(project, story, seconds_to_frames(fades.fade_in, fps),
                          seconds_to_frames(fades.fade_out, fps))
    cap = max(1, budget // (project.width * project.height * 3 // 2))

    def new_frame() -> tuple[VideoFrame, PlaneViews]:
        frame = VideoFrame(project.width, project.height, "yuv420p")
        return frame, plane_views(frame)

    pool: list[VideoFrame] = []
    with FrameProducer(plan, lambda i: open_picture(project, story, i), new_frame,
                       decorator if decorator.active else None,
                       span=range(min(cap, plan.total_frames))) as producer:
        for frame in producer.frames(poll=lambda: None):
            kept = VideoFrame(project.width, project.height, "yuv420p")
            for dest, source in zip(plane_views(kept), plane_views(frame), strict=True):
                dest[:] = source
            pool.append(kept)
            producer.recycle(frame)
    return pool, plan.total_frames, fps


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
    reference = [plane_views(frame)[0] for frame in pool]
    with av.open(str(out)) as container:
        total = container.streams.video[0].frames
        step = max(1, total // _SSIM_SAMPLES)
        psnr, ssim = [], []
        for i, decoded in enumerate(container.decode(video=0)):
            got = plane_views(decoded)[0]
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
