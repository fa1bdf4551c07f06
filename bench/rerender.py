"""``python -m bench.rerender``: edit one segment and render again, against a full render.

On the benchmark project (50 segments by default) with burned-in captions,
crossfades and loudness normalisation on (what a creator renders), it measures as
child processes, like the main benchmark: a full render into an empty part cache, a
re-render with nothing changed, a re-render after changing one segment's text, and
one after replacing its picture (wall and CPU time of the whole CLI process). Beside
them, on the project as the main benchmark renders it, a full chunked render without
the cache against the encoder's floor (libx264 alone on the same frames). Optionally
(``--quality``) the chunked against continuous encoding figures of :mod:`bench.quality`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.measure import Sample, child_env, output_size, run_measured
from bench.project import make_project
from bench.report import write_results

__all__ = ["main", "run_scenario"]

ROOT = Path(__file__).resolve().parent.parent
_EDITED_TEXT = "Segment {n}: a corrected line, read over the same photograph."


def _creator_manifest(plain: Path) -> Path:
    """The benchmark project with captions, crossfades and loudness on."""
    data = json.loads(plain.read_text(encoding="utf-8"))
    data["settings"].update({"subtitles": {"enabled": True, "sidecar": True},
                             "transitions": {"crossfade": 0.5},
                             "loudness": {"enabled": True}})
    manifest = plain.with_name("story-edit.json")
    manifest.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return manifest


def _edit(manifest: Path, index: int, **fields: str) -> dict[str, Any]:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    before = dict(data["segments"][index])
    data["segments"][index].update(fields)
    manifest.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return before


def _row(sample: Sample) -> dict[str, float]:
    return {"wall": sample.wall, "cpu": sample.cpu, "peak_rss_mb": sample.peak_rss_mb,
            "others_load": sample.others_load}


def run_scenario(work: Path, projects: Path, segments: int, size: tuple[int, int], fps: int,
                 preset: str, floor: bool) -> dict[str, Any]:
    """Measure every step; returns the figures (seconds) and their ratios."""
    project = make_project(projects, segments, size[0], size[1], fps)
    manifest = _creator_manifest(project.manifest)
    shutil.rmtree(manifest.parent / ".storyreel-cache", ignore_errors=True)
    out = work / "rerender.mp4"
    py, env = sys.executable, child_env()

    def render(path: Path, *extra: str) -> Sample:
        command = [py, "-m", "storyreel", "render", str(path), "-o", str(out),
                   "--preset", preset, "--quiet", *extra]
        return run_measured(command, env=env, cwd=work, log=work / "rerender.log")

    middle = segments // 2
    steps: dict[str, Sample] = {"full": render(manifest), "unchanged": render(manifest)}
    before = _edit(manifest, middle, text=_EDITED_TEXT.format(n=middle + 1))
    steps["text"] = render(manifest)
    _edit(manifest, middle, text=before["text"])
    listed = json.loads(manifest.read_text(encoding="utf-8"))["segments"]
    other = listed[(middle + 1) % len(listed)]["image"]
    _edit(manifest, middle, image=other)
    steps["picture"] = render(manifest)
    _edit(manifest, middle, image=before["image"])
    result: dict[str, Any] = {name: _row(s) for name, s in steps.items()}
    for name in ("unchanged", "text", "picture"):
        for key in ("wall", "cpu"):
            result[name][f"{key}_vs_full"] = result[name][key] / result["full"][key]
    if floor:
        result.update(_floor(project.manifest, work, preset, render))
    for name in ("rerender.mp4", "rerender.log", "floor.mp4", "floor.json", "floor.log"):
        (work / name).unlink(missing_ok=True)
    return result


def _floor(plain: Path, work: Path, preset: str, render: Any) -> dict[str, Any]:
    """A full chunked render without the cache, and libx264 alone on the same frames."""
    chunked = render(plain, "--no-cache")
    result_json = work / "floor.json"
    run_measured([sys.executable, "-m", "bench.floor", str(plain), "--preset", preset,
                  "--out", str(work / "floor.mp4"), "--json", str(result_json)],
                 env=child_env(), cwd=work, log=work / "floor.log")
    data = json.loads(result_json.read_text(encoding="utf-8"))
    return {"chunked_no_cache": _row(chunked),
            "floor": {"wall": data["wall"], "cpu": data["cpu"]},
            "chunked_vs_floor": {"wall": chunked.wall / data["wall"],
                                 "cpu": chunked.cpu / data["cpu"]}}


def markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures as a Markdown section."""
    lines = [f"### Edit and re-render ({args.segments} segments, {args.size[0]}x{args.size[1]}"
             f" @ {args.fps}, {args.preset})", "",
             "| render | wall s | CPU s | wall vs full | CPU vs full |",
             "|---|---:|---:|---:|---:|"]
    for name, label in (("full", "full render, empty cache"),
                        ("unchanged", "re-render, nothing changed"),
                        ("text", "re-render, one segment's text changed"),
                        ("picture", "re-render, one segment's picture changed")):
        row = result[name]
        ratios = (f"{100 * row['wall_vs_full']:.1f} % | {100 * row['cpu_vs_full']:.1f} %"
                  if name != "full" else "100 % | 100 %")
        lines.append(f"| {label} | {row['wall']:.1f} | {row['cpu']:.1f} | {ratios} |")
    if "floor" in result:
        c, f, r = result["chunked_no_cache"], result["floor"], result["chunked_vs_floor"]
        lines += ["", "| full render | wall s | CPU s |", "|---|---:|---:|",
                  f"| storyreel, chunked, --no-cache | {c['wall']:.1f} | {c['cpu']:.1f} |",
                  f"| encoder floor | {f['wall']:.1f} | {f['cpu']:.1f} |",
                  f"| ratio | {r['wall']:.3f}x | {r['cpu']:.3f}x |"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes ``rerender.json`` and ``rerender.md`` to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.rerender", description=__doc__)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--size", type=output_size, default=(1920, 1080))
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor comparison")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = run_scenario(args.work, args.out / "projects", args.segments, args.size,
                          args.fps, args.preset, not args.no_floor)
    write_results(args.out, "rerender", result, markdown(result, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
