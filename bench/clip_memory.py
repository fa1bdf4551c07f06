"""Peak memory of reading a video clip against its length: ``python -m bench.clip_memory``.

A clip of each length is encoded (a moving gradient with a frame counter, H.264), then
read through in a child process exactly as a render reads a segment's clip: every
frame asked for in order with :meth:`ClipReader.frame_at` and scaled to the output
size on the decode thread. The peak resident memory of each child is measured (see
:mod:`bench.measure`); frames are streamed through a bounded queue, so a 10-minute
clip should peak within 1.5x of a 1-minute one. The issue's target is a 4K clip
(``--size 3840x2160``); the default is smaller so the run fits a busy machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from bench.measure import Sample, run_measured
from bench.report import write_results

__all__ = ["main", "read_through", "write_long_clip"]

ROOT = Path(__file__).resolve().parents[1]
#: The long clip may peak at most this many times the short one's memory.
TARGET_RATIO = 1.5
FPS = 30


def write_long_clip(path: Path, seconds: float, size: tuple[int, int]) -> None:
    """A cheap-to-encode clip: a gradient sliding sideways, one bright bar per frame."""
    width, height = size
    ramp = np.linspace(0, 255, width * 2).astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast",
                                                              "crf": "28"})
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(round(seconds * FPS)):
            row = np.roll(ramp, index * 4)[:width]
            luma = np.broadcast_to(row, (height, width)).copy()
            luma[:, (index * 8) % width:(index * 8) % width + 8] = 235
            frame = av.VideoFrame(width, height, "yuv420p")
            frame.planes[0].update(luma.tobytes())
            frame.planes[1].update(np.full((height // 2, width // 2), 128, np.uint8).tobytes())
            frame.planes[2].update(np.full((height // 2, width // 2), 128, np.uint8).tobytes())
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def read_through(path: Path, size: tuple[int, int]) -> int:
    """Read every frame of ``path`` as a render would, at ``size``; the frames read."""
    from storyreel.media.clip import ClipReader, probe_clip  # the measured child's work

    info = probe_clip(path, check_frames=True)
    frames = int(info.duration * FPS)
    with ClipReader(path, size=size) as reader:
        for index in range(frames):
            reader.frame_at(Fraction(index, FPS)).planes(*size)
    return frames


def measure(seconds: float, size: tuple[int, int], out_size: tuple[int, int],
            work: Path) -> dict[str, float]:
    """Peak memory (MB) and wall time of reading a clip of ``seconds`` through."""
    clip = work / f"clip-{seconds:g}s.mp4"
    write_long_clip(clip, seconds, size)
    sample: Sample = run_measured(
        [sys.executable, "-m", "bench.clip_memory", "--read", str(clip),
         "--out-size", "x".join(map(str, out_size))],
        cwd=ROOT, log=work / f"read-{seconds:g}.log")
    mb = clip.stat().st_size / 1e6
    clip.unlink()
    return {"clip_s": seconds, "clip_mb": mb, "peak_mb": sample.peak_rss_mb,
            "wall_s": sample.wall, "cpu_s": sample.cpu}


def report(rows: list[dict[str, float]], size: str, out_size: str) -> str:
    """Markdown table of the runs and the ratio of the longest to the shortest."""
    lines = [f"Clip {size} H.264 at {FPS} fps, read at {out_size}.", "",
             "| clip | file | peak memory | wall | CPU |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['clip_s'] / 60:g} min | {row['clip_mb']:.1f} MB | "
                     f"{row['peak_mb']:.0f} MB | {row['wall_s']:.0f} s | {row['cpu_s']:.0f} s |")
    ratio = rows[-1]["peak_mb"] / rows[0]["peak_mb"]
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    lines.append(f"\nLongest against shortest: {ratio:.2f}x the peak "
                 f"(target <= {TARGET_RATIO}x): **{verdict}**")
    return "\n".join(lines) + "\n"


def _size(text: str) -> tuple[int, int]:
    width, height = (int(part) for part in text.lower().split("x"))
    return width, height


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table, write ``clip_memory.json`` and ``clip_memory.md``."""
    parser = argparse.ArgumentParser(prog="python -m bench.clip_memory", description=__doc__)
    parser.add_argument("--minutes", default="1,10",
                        help="clip lengths in minutes, shortest first (default 1,10)")
    parser.add_argument("--size", default="640x360", help="clip size (the target: 3840x2160)")
    parser.add_argument("--out-size", default="640x360", help="size frames are read at")
    parser.add_argument("--read", type=Path, help=argparse.SUPPRESS)  # the measured child
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.read is not None:
        read_through(args.read, _size(args.out_size))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "clip-memory-work"
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = [measure(float(part) * 60, _size(args.size), _size(args.out_size), work)
                for part in args.minutes.split(",")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(args.out, "clip_memory", rows, report(rows, args.size, args.out_size),
                  indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
