"""``python -m bench.platforms``: three platforms in one render against three renders.

The project of photographs (:func:`bench.project.make_photo_project`), with burned-in
captions, caption files and loudness normalisation on, rendered for YouTube, Shorts
and a square feed: once as ``--platform youtube,shorts,square`` (one narration
analysis, one loudness measurement and one sound track shared by the three videos),
and as three CLI renders of one platform each, as a creator did before. Both sides run
without the part cache (``--no-cache``), so neither reuses anything from an earlier
run; the rounds alternate so both see the same machine, and the medians are compared.
CPU time is the figure to trust on a shared machine; wall time moves with the load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.measure import Sample, child_env, output_size, run_measured
from bench.project import make_photo_project
from bench.report import side_by_side, write_results

__all__ = ["PLATFORMS", "main", "run_scenario"]

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ("youtube", "shorts", "square")
_OTHER = "three renders"


def captioned(manifest: Path) -> Path:
    """The photo project with captions, caption files and loudness normalisation on."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["settings"].update({"subtitles": {"enabled": True, "sidecar": True},
                             "loudness": {"enabled": True}})
    target = manifest.with_name("platforms.json")
    target.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return target


def _render(manifest: Path, out: Path, platforms: str, size: tuple[int, int], preset: str,
            work: Path) -> Sample:
    return run_measured([sys.executable, "-m", "storyreel", "render", str(manifest),
                         "-o", str(out), "--platform", platforms, "--size",
                         f"{size[0]}x{size[1]}", "--preset", preset, "--no-cache", "--quiet"],
                        env=child_env(), cwd=work, log=work / "platforms.log")


def _figures(samples: Sequence[Sample]) -> dict[str, float]:
    return {"wall": sum(s.wall for s in samples), "cpu": sum(s.cpu for s in samples),
            "peak_rss_mb": max(s.peak_rss_mb for s in samples),
            "others_load": max(s.others_load for s in samples)}


def run_scenario(work: Path, projects: Path, runs: int, size: tuple[int, int], fps: int,
                 preset: str, segments: int, seconds: float) -> dict[str, Any]:
    """Measure ``runs`` alternating rounds; returns every run and the medians' ratios."""
    manifest = captioned(make_photo_project(projects, segments, size[0], size[1], fps,
                                            seconds))
    one: list[dict[str, float]] = []
    three: list[dict[str, float]] = []
    for _ in range(runs):
        one.append(_figures([_render(manifest, work / "together.mp4", ",".join(PLATFORMS),
                                     size, preset, work)]))
        three.append(_figures([_render(manifest, work / f"alone-{name}.mp4", name, size,
                                       preset, work) for name in PLATFORMS]))
    made = sorted(p.name for p in work.glob("*.mp4") if p.name.startswith(("together",
                                                                            "alone")))
    for path in work.iterdir():
        if path.name.startswith(("together", "alone", "platforms.log")):
            path.unlink()
    median = {key: {"storyreel": statistics.median(r[key] for r in one),
                    _OTHER: statistics.median(r[key] for r in three)}
              for key in ("wall", "cpu")}
    return {"runs": {"storyreel": one, _OTHER: three}, "median": median,
            "ratio": {key: m["storyreel"] / m[_OTHER] for key, m in median.items()},
            "videos": made, "manifest": str(manifest)}


def markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures as a Markdown section."""
    width, height = args.size
    lines = [f"### Three platforms in one render against three renders ({args.segments} "
             f"segments of {args.seconds:g} s, {', '.join(PLATFORMS)} at the shorter side "
             f"{min(width, height)} px, {args.fps} fps, {args.preset}, captions and loudness "
             "on, no part cache)", "",
             "storyreel = one `--platform youtube,shorts,square` render; three renders = "
             "the sum of three `--platform <one>` renders.", "",
             *side_by_side(result, _OTHER)]
    r = result["ratio"]
    lines += ["", f"one render / three renders: **{r['cpu']:.3f}x CPU, {r['wall']:.3f}x wall**."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes ``platforms.json`` and ``platforms.md`` to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.platforms", description=__doc__)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0, help="narration per segment")
    parser.add_argument("--size", type=output_size, default=(640, 360),
                        help="the project's size: each platform's shape at its shorter side")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = run_scenario(args.work, args.out / "projects", args.runs, args.size, args.fps,
                          args.preset, args.segments, args.seconds)
    write_results(args.out, "platforms", result, markdown(result, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
