"""``python -m bench.photos``: a full render of photographs against the encoder's floor.

A short project of photographs with fine detail (4 segments, about 25 s, 1080p30 by
default; see :func:`bench.project.make_photo_project`), rendered as a creator
renders it (the CLI, the part cache on and emptied first) and measured from outside
as a whole process: start-up, analysis, the sound track, every part, the join and
the verification. Beside it, :mod:`bench.floor`: libx264 alone encoding the exact
frames that render draws, from memory. Runs alternate (storyreel, floor, storyreel,
floor, ...) so both see the same machine; the median of each is compared.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.measure import child_env, output_size, run_measured
from bench.project import make_photo_project
from bench.report import side_by_side, write_results

__all__ = ["against_floor", "main", "run_scenario"]

ROOT = Path(__file__).resolve().parent.parent


def run_scenario(work: Path, projects: Path, runs: int, size: tuple[int, int], fps: int,
                 preset: str, segments: int, seconds: float) -> dict[str, Any]:
    """Measure ``runs`` alternating rounds; returns every run and the medians' ratios."""
    manifest = make_photo_project(projects, segments, size[0], size[1], fps, seconds)
    return against_floor(work, manifest, runs, preset, "photos")


def against_floor(work: Path, manifest: Path, runs: int, preset: str, name: str
                  ) -> dict[str, Any]:
    """``runs`` alternating rounds of storyreel's CLI and the floor on ``manifest`` (scratch
    files named after ``name`` in ``work``); returns every run and the medians' ratios."""
    out, floor_json = work / f"{name}.mp4", work / f"{name}-floor.json"
    env = child_env()
    ours: list[dict[str, float]] = []
    floor: list[dict[str, float]] = []
    for _ in range(runs):
        shutil.rmtree(manifest.parent / ".storyreel-cache", ignore_errors=True)
        sample = run_measured([sys.executable, "-m", "storyreel", "render", str(manifest),
                               "-o", str(out), "--preset", preset, "--quiet"],
                              env=env, cwd=work, log=work / f"{name}.log")
        ours.append({"wall": sample.wall, "cpu": sample.cpu, "peak_rss_mb": sample.peak_rss_mb,
                     "others_load": sample.others_load})
        run_measured([sys.executable, "-m", "bench.floor", str(manifest), "--preset", preset,
                      "--out", str(work / f"{name}-floor.mp4"), "--json", str(floor_json)],
                     env=env, cwd=work, log=work / f"{name}-floor.log")
        data = json.loads(floor_json.read_text(encoding="utf-8"))
        floor.append({"wall": data["wall"], "cpu": data["cpu"], "frames": data["frames"]})
    shutil.rmtree(manifest.parent / ".storyreel-cache", ignore_errors=True)
    for suffix in (".mp4", "-floor.mp4", "-floor.json", ".log", "-floor.log"):
        (work / f"{name}{suffix}").unlink(missing_ok=True)
    median = {key: {"storyreel": statistics.median(r[key] for r in ours),
                    "floor": statistics.median(r[key] for r in floor)}
              for key in ("wall", "cpu")}
    return {"runs": {"storyreel": ours, "floor": floor}, "median": median,
            "ratio": {key: m["storyreel"] / m["floor"] for key, m in median.items()},
            "frames": floor[0]["frames"], "manifest": str(manifest)}


def markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures as a Markdown section."""
    width, height = args.size
    lines = [f"### Photographs: full render against the floor ({args.segments} segments, "
             f"{result['frames']} frames, {width}x{height} @ {args.fps}, {args.preset})", "",
             *side_by_side(result, "floor")]
    r = result["ratio"]
    lines += ["", f"storyreel / floor: **{r['wall']:.3f}x wall, {r['cpu']:.3f}x CPU** "
              "(target <= 1.08x)."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes ``photos.json`` and ``photos.md`` to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.photos", description=__doc__)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="narration per segment (4 x 6 s plus pauses: about 25 s)")
    parser.add_argument("--size", type=output_size, default=(1920, 1080))
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = run_scenario(args.work, args.out / "projects", args.runs, args.size, args.fps,
                          args.preset, args.segments, args.seconds)
    write_results(args.out, "photos", result, markdown(result, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
