"""The benchmark report: JSON with every run, a markdown summary and a chart."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import psutil

if TYPE_CHECKING:
    from bench.project import BenchProject

__all__ = [
    "machine_info", "merge_results", "render_report", "side_by_side", "targets", "versions",
    "write_report", "write_results",
]

CHART = "time_per_frame.png"

Row = dict[str, Any]

# Targets from the benchmark's requirements, on a 2-core machine.
FLOOR_MEDIUM, FLOOR_VERYFAST = 1.05, 1.25
MOVIEPY_KB, MOVIEPY_STATIC, VERYFAST_VS_MOVIEPY = 2.0, 10.0, 4.0
MEMORY_LIMIT_MB, MEMORY_GROWTH, FRAME_TIME_GROWTH = 500.0, 1.10, 1.10
BUSY = 0.05  # other processes' CPU share above which a run is reported as disturbed


def machine_info() -> dict[str, Any]:
    """CPU model, core counts, memory and OS."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def write_results(out: Path, name: str, data: object, text: str, *, indent: int = 1) -> None:
    """Write one scenario's figures as ``<name>.json`` and its report as ``<name>.md``
    into ``out``, and print the report."""
    (out / f"{name}.json").write_text(json.dumps(data, indent=indent), encoding="utf-8")
    (out / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)


def side_by_side(result: dict[str, Any], other: str) -> list[str]:
    """Markdown rows of storyreel's runs beside ``other``'s, each with the other processes'
    load, and their medians (``result`` holds ``runs`` and ``median`` keyed by both)."""
    lines = ["| run | storyreel wall s | storyreel CPU s | "
             f"{other} wall s | {other} CPU s | others % |", "|---|---:|---:|---:|---:|---:|"]
    runs = result["runs"]
    for n, (a, b) in enumerate(zip(runs["storyreel"], runs[other], strict=True), 1):
        lines.append(f"| {n} | {a['wall']:.1f} | {a['cpu']:.1f} | {b['wall']:.1f} | "
                     f"{b['cpu']:.1f} | {100 * a['others_load']:.0f} |")
    m = result["median"]
    lines.append(f"| median | {m['wall']['storyreel']:.1f} | {m['cpu']['storyreel']:.1f} | "
                 f"{m['wall'][other]:.1f} | {m['cpu'][other]:.1f} | |")
    return lines


def versions() -> dict[str, str]:
    """Versions of storyreel, the libraries it and the references use, and FFmpeg's."""
    found = {}
    for name in ("storyreel", "av", "numpy", "opencv-contrib-python-headless", "numba", "pillow",
                 "moviepy", "imageio-ffmpeg", "scikit-image", "psutil", "matplotlib"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    spec = importlib.util.find_spec("storyreel")
    if spec is not None and spec.origin:
        found["storyreel source"] = str(Path(spec.origin).parent)
    found["repository commit"] = _git_commit()
    libav = av.library_versions.get("libavcodec")
    if libav:
        found["libavcodec (PyAV)"] = ".".join(str(part) for part in libav)
    try:
        import imageio_ffmpeg  # type: ignore[import-untyped]

        found["ffmpeg (MoviePy)"] = imageio_ffmpeg.get_ffmpeg_version()
    except ImportError:
        pass
    return found


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def _find(rows: Sequence[Row], variant: str, preset: str | None, segments: int) -> Row | None:
    for row in rows:
        if row["variant"] == variant and row["segments"] == segments and (
            preset is None or row["preset"] == preset
        ):
            return row
    return None


def _ratio(a: Row | None, b: Row | None, key: str = "wall") -> float | None:
    return a[key] / b[key] if a and b else None


def ratios(rows: Sequence[Row], main: int, moviepy_preset: str, key: str = "wall"
           ) -> dict[str, float | None]:
    """Headline ratios of ``key`` (``wall`` or ``cpu``) at the first segment count."""
    def get(variant: str, preset: str) -> Row | None:
        return _find(rows, variant, preset, main)

    def ratio(a: Row | None, b: Row | None) -> float | None:
        return _ratio(a, b, key)

    found: dict[str, float | None] = {}
    for preset in sorted({r["preset"] for r in rows if r["segments"] == main}):
        found[f"storyreel/floor {preset}"] = ratio(get("storyreel", preset), get("floor", preset))
        for style in ("phrase", "word"):
            found[f"storyreel-{style}/floor {preset}"] = ratio(get(f"storyreel-{style}", preset),
                                                               get("floor", preset))
        found[f"storyreel-word/storyreel-phrase {preset}"] = ratio(
            get("storyreel-word", preset), get("storyreel-phrase", preset))
    mp = moviepy_preset
    found[f"storyreel/moviepy {mp}"] = ratio(get("storyreel", mp), get("moviepy", mp))
    found[f"storyreel-static/moviepy-static {mp}"] = ratio(
        get("storyreel-static", mp), get("moviepy-static", mp))
    found[f"storyreel veryfast/moviepy {mp}"] = ratio(
        get("storyreel", "veryfast"), get("moviepy", mp))
    found[f"floor/moviepy {mp}"] = ratio(get("floor", mp), get("moviepy", mp))
    found[f"storyreel/moviepy-opencv {mp}"] = ratio(get("storyreel", mp), get("moviepy-opencv", mp))
    found[f"storyreel-static/floor-static {mp}"] = ratio(
        get("storyreel-static", mp), get("floor-static", mp))
    found[f"floor-static/moviepy-static {mp}"] = ratio(
        get("floor-static", mp), get("moviepy-static", mp))
    return found


def _target(name: str, required: str, measured: float | None, ok: bool | None, unit: str,
            note: str = "") -> Row:
    verdict = "NOT MEASURED" if measured is None or ok is None else ("PASS" if ok else "MISS")
    return {"target": name, "required": required, "measured": measured, "unit": unit,
            "verdict": verdict, "note": note}


def targets(rows: Sequence[Row], main: int, moviepy_preset: str, scale_preset: str
            ) -> list[Row]:
    """The engine's targets with their measured values and PASS / MISS."""
    found = ratios(rows, main, moviepy_preset)
    mp = moviepy_preset

    def faster(key: str) -> float | None:
        value = found.get(key)
        return 1 / value if value else None

    def check(value: float | None, good: bool) -> bool | None:
        return None if value is None else good

    medium, veryfast = found.get("storyreel/floor medium"), found.get("storyreel/floor veryfast")
    kb, static = faster(f"storyreel/moviepy {mp}"), faster(f"storyreel-static/moviepy-static {mp}")
    vf = faster(f"storyreel veryfast/moviepy {mp}")
    quality = {r["preset"]: r for r in rows if r["variant"] == "floor" and "psnr_y" in r}
    cost = ""
    if "veryfast" in quality and mp in quality:
        cost = (f"quality cost: PSNR-Y {quality['veryfast']['psnr_y']:.2f} dB at veryfast vs "
                f"{quality[mp]['psnr_y']:.2f} dB at {mp}; SSIM-Y "
                f"{quality['veryfast']['ssim_y']:.4f} vs {quality[mp]['ssim_y']:.4f}")
    best_kb = faster(f"floor/moviepy {mp}")
    best_static = faster(f"floor-static/moviepy-static {mp}")
    opencv = faster(f"storyreel/moviepy-opencv {mp}")
    kb_note = (f"libx264 alone is {best_kb:.2f}x faster than the MoviePy way: the most any "
               "renderer can reach" if best_kb else "")
    if opencv:
        kb_note += f"; {opencv:.2f}x faster than MoviePy with OpenCV resizing"
    static_note = (f"libx264 alone on the still frames is {best_static:.2f}x faster than the "
                   "MoviePy way: the most any renderer can reach" if best_static else "")
    result = [
        _target("storyreel within 5 % of the encoder's floor at medium",
                f"<= {FLOOR_MEDIUM:.2f}x floor", medium,
                check(medium, (medium or 0) <= FLOOR_MEDIUM), "x floor"),
        _target("storyreel within 25 % of the encoder's floor at veryfast",
                f"<= {FLOOR_VERYFAST:.2f}x floor", veryfast,
                check(veryfast, (veryfast or 0) <= FLOOR_VERYFAST), "x floor"),
        _target(f"faster than the MoviePy way with Ken Burns ({mp})",
                f">= {MOVIEPY_KB:g}x faster", kb, check(kb, (kb or 0) >= MOVIEPY_KB), "x faster",
                kb_note),
        _target(f"faster than the MoviePy way with static images ({mp})",
                f">= {MOVIEPY_STATIC:g}x faster", static,
                check(static, (static or 0) >= MOVIEPY_STATIC), "x faster", static_note),
        _target(f"storyreel at veryfast vs the MoviePy way at {mp}",
                f">= {VERYFAST_VS_MOVIEPY:g}x faster", vf,
                check(vf, (vf or 0) >= VERYFAST_VS_MOVIEPY), "x faster", cost),
    ]
    involved = [
        [("storyreel", "medium"), ("floor", "medium")],
        [("storyreel", "veryfast"), ("floor", "veryfast")],
        [("storyreel", mp), ("moviepy", mp)],
        [("storyreel-static", mp), ("moviepy-static", mp)],
        [("storyreel", "veryfast"), ("moviepy", mp)],
    ]
    for target, pairs in zip(result, involved, strict=True):
        _flag_busy(target, [_find(rows, v, p, main) for v, p in pairs])
    return result + _scaling_targets(rows, scale_preset)


def _flag_busy(target: Row, used: Sequence[Row | None]) -> None:
    """Say so in the target's note when a wall time it rests on had no quiet run."""
    busy = [f"{r['variant']} {r['preset']} {r['segments']} seg" for r in used
            if r is not None and r.get("quiet_runs", 1) == 0]
    if busy and target["measured"] is not None:
        warning = f"DISTURBED: no quiet run of {', '.join(busy)}"
        target["note"] = f"{warning}; {target['note']}" if target["note"] else warning


def _scaling_targets(rows: Sequence[Row], preset: str) -> list[Row]:
    scaled = sorted((r for r in rows if r["variant"] == "storyreel" and r["preset"] == preset),
                    key=lambda r: r["segments"])
    if len(scaled) < 2:
        return [_target("peak memory flat and under 500 MB, time per frame flat",
                        "two or more segment counts", None, None, "")]
    low, high = scaled[0], scaled[-1]
    peak = high["peak_rss_mb"]
    growth = peak / low["peak_rss_mb"]
    frame_growth = high["ms_per_frame"] / low["ms_per_frame"]
    span = f"{low['segments']} -> {high['segments']} segments, {preset}"
    flat = _target(f"time per frame stays flat ({span})", f"<= {FRAME_TIME_GROWTH:.2f}x",
                   frame_growth, frame_growth <= FRAME_TIME_GROWTH, "x")
    _flag_busy(flat, [low, high])
    return [
        _target(f"peak memory at {high['segments']} segments", f"< {MEMORY_LIMIT_MB:g} MB",
                peak, peak < MEMORY_LIMIT_MB, "MB"),
        _target(f"peak memory does not grow ({span})", f"<= {MEMORY_GROWTH:.2f}x",
                growth, growth <= MEMORY_GROWTH, "x"),
        flat,
    ]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _markdown(data: dict[str, Any]) -> str:
    rows: list[Row] = data["results"]
    cfg = data["config"]
    main = cfg["segments"][0]
    lines = [
        "# storyreel benchmark",
        "",
        f"Run {data['created']} with `{data['command']}`"
        + "".join(f" and `{command}`" for command in data.get("merged", []))
        + f" (took {data['elapsed_s'] / 60:.1f} min).",
        "",
        "## Machine",
        "",
        *(f"- {key.replace('_', ' ')}: {value}" for key, value in data["machine"].items()),
        "",
        "## Library versions",
        "",
        *(f"- {key}: {value}" for key, value in data["versions"].items()),
        "",
        "## Projects",
        "",
        "| segments | frames | video | size | narration | stills |",
        "|---:|---:|---:|---|---:|---|",
    ]
    for proj in data["projects"]:
        lines.append(f"| {proj['segments']} | {proj['frames']} | {proj['duration_s']:.1f} s | "
                     f"{proj['width']}x{proj['height']} @ {proj['fps']} | "
                     f"{proj['narration_s']:.1f} s | {proj['stills']} JPEG, assorted sizes |")
    busy = max((s.get("others_load", 0.0) for r in rows for s in r["samples"]), default=0.0)
    if busy > BUSY:
        lines += ["", f"> **The machine was shared during this run**: other processes used up to "
                  f"{100 * busy:.0f} % of its CPU during a measurement. Wall times are therefore "
                  f"taken from the quiet runs (other processes under {100 * BUSY:.0f} %) wherever "
                  "a measurement has one, and from all its runs otherwise (column *quiet*: quiet "
                  "runs / runs; *others %*: median load of the runs used). CPU-time ratios, "
                  "listed beside the wall-time ones, are the steadier figure."]
    lines += ["", "## Targets", "", "| target | required | measured | verdict | note |",
              "|---|---|---:|---|---|"]
    for t in data["targets"]:
        lines.append(f"| {t['target']} | {t['required']} | {_fmt(t['measured'])} {t['unit']} | "
                     f"**{t['verdict']}** | {t['note']} |")
    lines += ["", f"## Side by side ({main} segments)", "",
              "Medians of alternating runs (wall: of the quiet runs where there are any). "
              "Wall and CPU in seconds; peak memory is resident "
              "memory of the whole process tree; the floor's figures cover only the encoding.",
              "", "| renderer | preset | quiet | wall s | CPU s | fps | ms/frame | peak MB | "
              "others % |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted((r for r in rows if r["segments"] == main),
                    key=lambda r: (r["preset"], r["variant"])):
        lines.append(f"| {r['variant']} | {r['preset']} | {_quiet(r)} | {r['wall']:.1f} | "
                     f"{r['cpu']:.1f} | {r['fps']:.1f} | {r['ms_per_frame']:.2f} | "
                     f"{r['peak_rss_mb']:.0f} | {100 * r.get('others_load', 0.0):.0f} |")
    cpu = data.get("cpu_ratios", {})
    lines += ["", "## Ratios", "", "Below 1: storyreel takes less; above 1: more.", "",
              "| ratio | wall time | CPU time |", "|---|---:|---:|"]
    lines += [f"| {key} | {_fmt(value)} | {_fmt(cpu.get(key))} |"
              for key, value in data["ratios"].items()]
    lines += _preset_table(rows, main)
    lines += _scaling_table(rows, cfg["scale_preset"])
    lines += ["", f"![Time per frame and peak memory by segment count]({CHART})"]
    if data.get("notes"):
        lines += ["", "## Findings", "", data["notes"]]
    lines += ["", "## Method", "", *data["method"], ""]
    return "\n".join(lines)


def _quiet(row: Row) -> str:
    return f"{row.get('quiet_runs', 0)}/{row['runs']}"


def settle(row: Row) -> Row:
    """Summarise a measurement: wall time from its quiet runs when it has any.

    A run is quiet when other processes used at most ``BUSY`` of the machine's CPU.
    CPU time and peak memory are medians of all runs.
    """
    samples = row["samples"]
    quiet = [s for s in samples if s.get("others_load", 0.0) <= BUSY]
    used = quiet or samples
    settled = dict(row)
    settled["runs"] = len(samples)
    settled["quiet_runs"] = len(quiet)
    settled["wall"] = statistics.median(s["wall"] for s in used)
    settled["others_load"] = statistics.median(s.get("others_load", 0.0) for s in used)
    settled["cpu"] = statistics.median(s["cpu"] for s in samples)
    settled["peak_rss_mb"] = statistics.median(s["peak_rss_mb"] for s in samples)
    settled["fps"] = row["frames"] / settled["wall"]
    settled["ms_per_frame"] = 1000 * settled["wall"] / row["frames"]
    return settled


def _preset_table(rows: Sequence[Row], main: int) -> list[str]:
    lines = ["", f"## Presets ({main} segments)", "",
             "Quality: the floor's frames encoded at the preset, decoded and compared with the "
             "frames that went in (what a lossless qp 0 encode returns): PSNR of the Y plane "
             "over every frame, SSIM of the Y plane over evenly spaced frames.", "",
             "| preset | storyreel s | storyreel fps | floor s | storyreel/floor | PSNR-Y dB | "
             "SSIM-Y |", "|---|---:|---:|---:|---:|---:|---:|"]
    for floor in (r for r in rows if r["variant"] == "floor" and r["segments"] == main):
        ours = _find(rows, "storyreel", floor["preset"], main)
        if ours is None:
            continue
        lines.append(
            f"| {floor['preset']} | {ours['wall']:.1f} | {ours['fps']:.1f} | {floor['wall']:.1f}"
            f" | {ours['wall'] / floor['wall']:.3f} | {_fmt(floor.get('psnr_y'))} | "
            f"{_fmt(floor.get('ssim_y'), 4)} |")
    return lines


def _scaling_table(rows: Sequence[Row], preset: str) -> list[str]:
    lines = ["", f"## Scaling ({preset})", "",
             "| segments | frames | storyreel ms/frame | floor ms/frame | storyreel/floor | "
             "storyreel peak MB | quiet runs (storyreel / floor) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for ours in sorted((r for r in rows if r["variant"] == "storyreel" and r["preset"] == preset),
                       key=lambda r: r["segments"]):
        floor = _find(rows, "floor", preset, ours["segments"])
        lines.append(
            f"| {ours['segments']} | {ours['frames']} | {ours['ms_per_frame']:.2f} | "
            f"{_fmt(floor['ms_per_frame'] if floor else None)} | "
            f"{_fmt(_ratio(ours, floor), 3)} | {ours['peak_rss_mb']:.0f} | {_quiet(ours)} / "
            f"{_quiet(floor) if floor else 'n/a'} |")
    return lines


def _chart(rows: Sequence[Row], preset: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (speed, memory) = plt.subplots(1, 2, figsize=(10, 4))
    try:
        for variant, style in (("storyreel", "o-"), ("floor", "s--"), ("moviepy", "^:")):
            series = sorted((r for r in rows if r["variant"] == variant and r["preset"] == preset),
                            key=lambda r: r["segments"])
            if not series:
                continue
            counts = [r["segments"] for r in series]
            label = "encoder floor (libx264 alone)" if variant == "floor" else variant
            line = speed.plot(counts, [r["ms_per_frame"] for r in series], style, label=label)
            busy = [r for r in series if r.get("quiet_runs", 1) == 0]
            speed.plot([r["segments"] for r in busy], [r["ms_per_frame"] for r in busy], style[0],
                       markerfacecolor="white", color=line[0].get_color())
            if variant != "floor":
                memory.plot(counts, [r["peak_rss_mb"] for r in series], style, label=variant)
        speed.set(title=f"Time per frame ({preset}; hollow: machine busy)", xlabel="segments",
                  ylabel="ms per frame", xscale="log")
        speed.set_ylim(bottom=0)
        memory.axhline(MEMORY_LIMIT_MB, color="grey", linewidth=0.8, label="500 MB target")
        memory.set(title="Peak memory", xlabel="segments", ylabel="MB (process tree)",
                   xscale="log")
        memory.set_ylim(bottom=0)
        for axis in (speed, memory):
            counts = sorted({r["segments"] for r in rows})
            axis.set_xticks(counts, [str(c) for c in counts])
            axis.minorticks_off()
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


_METHOD = [
    "- storyreel: `python -m storyreel render MANIFEST -o OUT --preset P --quiet` as a child "
    "process, timed from start to exit (start-up, media checks, audio, encoding and the "
    "read-back verification included).",
    "- MoviePy way (`bench/moviepy_way.py`): MoviePy 2.x, per segment an ImageClip of the "
    "still fitted once, Ken Burns per frame by a `transform` (interpolated crop box, "
    "Pillow LANCZOS resize to the output, as MoviePy's own Resize effect), "
    "`concatenate_videoclips`, `write_videofile(codec="
    "\"libx264\", audio_codec=\"aac\", bitrate=\"8000k\", fps, preset)`; the static variant "
    "has no transform. Timed as a child process like storyreel (its ffmpeg child included).",
    "- Caption styles (`storyreel-phrase`, `storyreel-word`): the same project with its "
    "captions burned in (two per segment), in the phrase style and in the word style (the "
    "spoken word highlighted: one caption picture per word change, drawn once); "
    "`storyreel-word/storyreel-phrase` is what following every word costs.",
    "- MoviePy with OpenCV (`moviepy-opencv`): the same script with OpenCV's bilinear resize "
    "instead of Pillow's LANCZOS, the fastest per-frame resize a MoviePy user can pick.",
    "- Encoder floor (`bench/floor.py`): the exact frames a render of the manifest draws "
    "(storyreel's own frame source: stills, Ken Burns motion, segment lengths) kept in memory "
    "as yuv420p frames before the clock starts; the clock covers only libx264 (same preset, "
    "8 Mbit/s, High profile, one continuous stream) and muxing. "
    "Its memory figure is dominated by the frames it holds on purpose. If the frames do not "
    "fit in half the free memory, the first segments are cycled (same frame count). "
    "`floor-static` encodes the still frames of the static variant the same way.",
    "- Other processes' load: busy CPU time of the whole machine during the measurement "
    "minus the measured process tree's, as a share of all cores (column *others %*).",
    "- Peak memory: largest sum of resident memory of the process and its children, polled "
    "every 50 ms, and at least the kernel's high-water mark (wait4). CPU: user + system time.",
    "- Runs at one segment count alternate between renderers, the order rotating each round; "
    "tables show medians.",
]


def write_report(out: Path, rows: list[Row], projects: dict[int, BenchProject],
                 args: argparse.Namespace, elapsed: float, found_versions: dict[str, str]
                 ) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``time_per_frame.png`` into ``out``.

    ``found_versions`` comes from :func:`versions`, taken when the run started.
    """
    config = {key: (str(value) if isinstance(value, Path) else value)
              for key, value in vars(args).items()}
    data: dict[str, Any] = {
        "schema": 1,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench " + " ".join(_argv(args)),
        "elapsed_s": elapsed,
        "machine": machine_info(),
        "versions": found_versions,
        "config": config,
        "projects": [_project_row(p, rows) for p in projects.values()],
        "results": rows,
        "method": _METHOD,
    }
    return render_report(data, out)


def render_report(data: dict[str, Any], out: Path) -> list[Path]:
    """Write ``data`` as ``report.json``, ``report.md`` and ``time_per_frame.png`` in ``out``.

    Ratios and targets are recomputed from ``data["results"]`` and ``data["config"]``.
    """
    rows = data["results"] = [settle(row) for row in data["results"]]
    cfg = data["config"]
    main, mp = cfg["segments"][0], cfg["moviepy_preset"]
    data["ratios"] = ratios(rows, main, mp)
    data["cpu_ratios"] = ratios(rows, main, mp, "cpu")
    data["targets"] = targets(rows, main, mp, cfg["scale_preset"])
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", out / CHART]
    paths[0].write_text(json.dumps(data, indent=1), encoding="utf-8")
    paths[1].write_text(_markdown(data), encoding="utf-8")
    _chart(data["results"], data["config"]["scale_preset"], paths[2])
    return paths


def merge_results(rows: list[Row], extra: list[Row]) -> list[Row]:
    """``rows`` plus ``extra``; runs of the same measurement are pooled and re-summarised."""
    merged = {(r["variant"], r["preset"], r["segments"]): dict(r) for r in rows}
    for row in extra:
        key = (row["variant"], row["preset"], row["segments"])
        if key not in merged:
            merged[key] = dict(row)
            continue
        pooled = {**merged[key], **{k: v for k, v in row.items() if k not in merged[key]}}
        pooled["samples"] = merged[key]["samples"] + row["samples"]
        merged[key] = settle(pooled)
    return list(merged.values())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.report REPORT.json``: redraw the markdown and chart from the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument("report", type=Path, help="a report.json written by python -m bench")
    parser.add_argument("--out", type=Path, help="folder to write to (default: the JSON's)")
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="other report.json files whose measurements are added (runs of "
                             "the same renderer, preset and segment count are pooled)")
    parser.add_argument("--notes", type=Path,
                        help="markdown appended to the report as its findings (kept in the JSON)")
    args = parser.parse_args(argv)
    data = json.loads(args.report.read_text(encoding="utf-8"))
    for extra_path in args.merge:
        extra = json.loads(extra_path.read_text(encoding="utf-8"))
        data["results"] = merge_results(data["results"], extra["results"])
        data["elapsed_s"] += extra["elapsed_s"]
        data.setdefault("merged", []).append(extra["command"])
    if args.notes is not None:
        data["notes"] = args.notes.read_text(encoding="utf-8").strip()
    for path in render_report(data, args.out or args.report.parent):
        print(f"Wrote {path}")
    return 0


def _argv(args: argparse.Namespace) -> list[str]:
    parts = [f"--segments {','.join(str(n) for n in args.segments)}",
             f"--presets {','.join(args.presets)}", f"--runs {args.runs}",
             f"--moviepy-runs {args.moviepy_runs}", f"--scale-runs {args.scale_runs}",
             f"--size {args.size[0]}x{args.size[1]}", f"--fps {args.fps}"]
    if args.seconds is not None:
        parts.append(f"--seconds {args.seconds:g}")
    if args.no_moviepy:
        parts.append("--no-moviepy")
    if args.only:
        parts.append(f"--only {','.join(args.only)}")
    return parts


def _project_row(project: BenchProject, rows: Sequence[Row]) -> Row:
    frames = max((r["frames"] for r in rows if r["segments"] == project.segments
                  and r["variant"] == "storyreel"), default=0)
    manifest = json.loads(project.manifest.read_text(encoding="utf-8"))
    stills = len({s["image"] for s in manifest["segments"]})
    return {"segments": project.segments, "frames": frames,
            "duration_s": frames / project.fps, "width": project.width,
            "height": project.height, "fps": project.fps, "narration_s": project.narration,
            "stills": stills, "manifest": str(project.manifest)}


if __name__ == "__main__":
    raise SystemExit(main())
