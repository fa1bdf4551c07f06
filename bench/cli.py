"""``python -m bench``: storyreel side by side with MoviePy and with the encoder's floor.

For the first segment count (10 by default) every preset is measured for
storyreel and the floor, and at the MoviePy preset (medium by default) also the
MoviePy way with and without Ken Burns and storyreel without motion. The other
segment counts measure storyreel and the floor at the scaling preset. Runs of one
segment count alternate between the renderers (the order rotates every round), so
slow drifts of the machine hit all of them alike; each figure is the median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av

from bench.clips import main as clips_main
from bench.draft import main as draft_main
from bench.measure import Sample, child_env, output_size, run_measured
from bench.photos import main as photos_main
from bench.platforms import main as platforms_main
from bench.project import BenchProject, make_project
from bench.recorded import main as recorded_main
from bench.report import versions, write_report
from bench.rerender import main as rerender_main

__all__ = ["Job", "main"]

ROOT = Path(__file__).resolve().parent.parent
STORYREEL, STORYREEL_STATIC = "storyreel", "storyreel-static"
MOVIEPY, MOVIEPY_STATIC = "moviepy", "moviepy-static"
FLOOR, FLOOR_STATIC = "floor", "floor-static"
MOVIEPY_OPENCV = "moviepy-opencv"
# Captions burned in: the phrase style, and the word style (the spoken word highlighted).
STORYREEL_PHRASE, STORYREEL_WORD = "storyreel-phrase", "storyreel-word"
VARIANTS = (STORYREEL, FLOOR, MOVIEPY, MOVIEPY_OPENCV, STORYREEL_STATIC, MOVIEPY_STATIC,
            FLOOR_STATIC, STORYREEL_PHRASE, STORYREEL_WORD)


@dataclass
class Job:
    """One renderer on one project at one preset, and its measured runs."""

    variant: str
    segments: int
    preset: str
    runs: int
    samples: list[Sample] = field(default_factory=list)
    frames: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Human-readable name."""
        return f"{self.variant} {self.preset} {self.segments} seg"

    def summary(self) -> dict[str, object]:
        """Medians and every run, JSON-ready."""
        wall = statistics.median(s.wall for s in self.samples)
        return {
            "variant": self.variant, "segments": self.segments, "preset": self.preset,
            "frames": self.frames, "runs": len(self.samples),
            "wall": wall, "cpu": statistics.median(s.cpu for s in self.samples),
            "peak_rss_mb": statistics.median(s.peak_rss_mb for s in self.samples),
            "others_load": statistics.median(s.others_load for s in self.samples),
            "fps": self.frames / wall, "ms_per_frame": 1000 * wall / self.frames,
            "samples": [vars(s) for s in self.samples], **self.extra,
        }


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a fast sanity run: 3 short segments at 640x360, ultrafast and "
                             "veryfast, one run each")
    parser.add_argument("--segments", type=_csv, default=None,
                        help="segment counts, the first one fully compared (default 10,50,200)")
    parser.add_argument("--presets", type=_csv, default=None,
                        help="libx264 presets (default ultrafast,veryfast,medium)")
    parser.add_argument("--moviepy-preset", default=None,
                        help="preset of the MoviePy comparison (default medium, else the last)")
    parser.add_argument("--scale-preset", default=None,
                        help="preset of the larger segment counts (default veryfast)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per measurement at the first segment count (default 3)")
    parser.add_argument("--moviepy-runs", type=int, default=None,
                        help="runs of each MoviePy measurement (default: --runs)")
    parser.add_argument("--scale-runs", type=int, default=1,
                        help="runs per measurement at the larger segment counts (default 1)")
    parser.add_argument("--size", type=output_size, default=None,
                        help="output WxH (default 1920x1080)")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=None,
                        help="mean narration per segment (default about 7 s for 10 segments, "
                             "shorter for more)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="results folder (default bench/results/)")
    parser.add_argument("--no-moviepy", action="store_true", help="skip the MoviePy way")
    parser.add_argument("--no-voice", action="store_true",
                        help="skip the voice measurements (synthesis speed, text-only render)")
    parser.add_argument("--only", type=_csv, default=None,
                        help=f"measure only these renderers (of {', '.join(VARIANTS)})")
    parser.add_argument("--no-rerender", action="store_true",
                        help="skip the edit-and-re-render scenario (bench.rerender)")
    parser.add_argument("--no-draft", action="store_true",
                        help="skip the edit-to-draft scenario in the studio (bench.draft)")
    parser.add_argument("--no-photos", action="store_true",
                        help="skip the photographs against the floor (bench.photos)")
    parser.add_argument("--no-recorded", action="store_true",
                        help="skip the photographs with recorded narration against the floor "
                             "(bench.recorded)")
    parser.add_argument("--no-clips", action="store_true",
                        help="skip the stills and clips against ffmpeg (bench.clips)")
    parser.add_argument("--no-page", action="store_true",
                        help="skip the studio page and its frame previews in Chromium "
                             "(bench.page, bench.frame)")
    parser.add_argument("--no-align", action="store_true",
                        help="skip the word-timing accuracy (bench.align)")
    parser.add_argument("--no-platforms", action="store_true",
                        help="skip three platforms in one render against three renders "
                             "(bench.platforms)")
    return parser


def _defaults(args: argparse.Namespace) -> None:
    quick = args.quick
    args.segments = [int(n) for n in args.segments or (["3"] if quick else ["10", "50", "200"])]
    args.presets = args.presets or (["ultrafast", "veryfast"] if quick else
                                    ["ultrafast", "veryfast", "medium"])
    args.runs = args.runs or (1 if quick else 3)
    args.moviepy_runs = args.moviepy_runs or args.runs
    args.size = args.size or ((640, 360) if quick else (1920, 1080))
    if quick and args.seconds is None:
        args.seconds = 2.0
    if args.moviepy_preset is None:
        args.moviepy_preset = "medium" if "medium" in args.presets else args.presets[-1]
    if args.scale_preset is None:
        args.scale_preset = "veryfast" if "veryfast" in args.presets else args.presets[0]


def plan_jobs(args: argparse.Namespace) -> list[Job]:
    """Every measurement of the run, in the order of the first round."""
    main_count, *others = args.segments
    jobs = []
    for preset in args.presets:
        jobs += [Job(STORYREEL, main_count, preset, args.runs),
                 Job(FLOOR, main_count, preset, args.runs),
                 Job(STORYREEL_PHRASE, main_count, preset, args.runs),
                 Job(STORYREEL_WORD, main_count, preset, args.runs)]
    if not args.no_moviepy:
        preset = args.moviepy_preset
        jobs += [Job(MOVIEPY, main_count, preset, args.moviepy_runs),
                 Job(MOVIEPY_OPENCV, main_count, preset, args.moviepy_runs),
                 Job(STORYREEL_STATIC, main_count, preset, args.runs),
                 Job(MOVIEPY_STATIC, main_count, preset, args.moviepy_runs),
                 Job(FLOOR_STATIC, main_count, preset, args.runs)]
    for count in others:
        jobs += [Job(STORYREEL, count, args.scale_preset, args.scale_runs),
                 Job(FLOOR, count, args.scale_preset, args.scale_runs)]
    if args.only:
        jobs = [job for job in jobs if job.variant in args.only]
    return jobs


def _count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


class Runner:
    """Runs jobs as child processes in a scratch folder and records their samples."""

    def __init__(self, work: Path, projects: dict[int, BenchProject], main_count: int) -> None:
        self.work = work
        self.projects = projects
        self.main_count = main_count
        self.env = child_env()

    def command(self, job: Job, out: Path, result: Path, quality: bool) -> list[str]:
        project = self.projects[job.segments]
        py = sys.executable
        if job.variant in (STORYREEL, STORYREEL_STATIC, STORYREEL_PHRASE, STORYREEL_WORD):
            manifest = {STORYREEL: project.manifest, STORYREEL_STATIC: project.static_manifest
                        }.get(job.variant, project.captions_manifest)
            style = ["--caption-style", "word"] if job.variant == STORYREEL_WORD else []
            # A full render each run: nothing taken from the part cache.
            return [py, "-m", "storyreel", "render", str(manifest), "-o", str(out),
                    "--preset", job.preset, "--quiet", "--no-cache", *style]
        if job.variant in (MOVIEPY, MOVIEPY_STATIC, MOVIEPY_OPENCV):
            flags = {MOVIEPY: [], MOVIEPY_STATIC: ["--static"],
                     MOVIEPY_OPENCV: ["--fast-resize"]}[job.variant]
            return [py, "-m", "bench.moviepy_way", str(project.manifest), str(out),
                    "--preset", job.preset, *flags]
        manifest = project.static_manifest if job.variant == FLOOR_STATIC else project.manifest
        return [py, "-m", "bench.floor", str(manifest), "--preset", job.preset,
                "--out", str(out), "--json", str(result), *(["--quality"] if quality else [])]

    def run(self, job: Job) -> Sample:
        out = self.work / f"{job.variant}-{job.preset}-{job.segments}.mp4"
        result = out.with_suffix(".json")
        quality = (job.variant in (FLOOR, FLOOR_STATIC) and not job.samples
                   and job.segments == self.main_count)
        log = out.with_suffix(".log")
        sample = run_measured(self.command(job, out, result, quality), env=self.env,
                              cwd=self.work, log=log)
        job.frames = _count_frames(out)
        if job.variant in (FLOOR, FLOOR_STATIC):
            data = json.loads(result.read_text(encoding="utf-8"))
            sample = Sample(data["wall"], data["cpu"], data["peak_rss_mb"], sample.others_load)
            job.extra["pool_frames"] = data["pool_frames"]
            job.extra.update({k: data[k] for k in ("psnr_y", "ssim_y", "ssim_frames") if k in data})
            result.unlink()
        for leftover in self.work.glob(f"{out.stem}.*"):  # the render and anything beside it
            leftover.unlink()
        job.samples.append(sample)
        return sample


def run_all(jobs: Sequence[Job], runner: Runner, partial: Path | None = None) -> None:
    """Run every job its number of times, alternating within each segment count.

    After each run the summaries so far are saved to ``partial`` (if given), so a long
    run that fails late keeps what it measured.
    """
    done, total = 0, sum(job.runs for job in jobs)
    for count in dict.fromkeys(job.segments for job in jobs):
        group = [job for job in jobs if job.segments == count]
        for round_ in range(max(job.runs for job in group)):
            shift = round_ % len(group)
            for job in group[shift:] + group[:shift]:
                if round_ >= job.runs:
                    continue
                done += 1
                sample = runner.run(job)
                print(f"[{done}/{total}] {job.label}: {sample.wall:.1f} s wall "
                      f"({job.frames / sample.wall:.1f} fps), {sample.cpu:.1f} s CPU, "
                      f"peak {sample.peak_rss_mb:.0f} MB, other processes used "
                      f"{100 * sample.others_load:.0f} % of the CPU", flush=True)
                if partial is not None:
                    partial.write_text(json.dumps(
                        [j.summary() for j in jobs if j.samples], indent=1), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write the report; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _defaults(args)
    unknown = set(args.only or ()) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown renderer(s) for --only: {', '.join(sorted(unknown))}")
    out: Path = args.out.resolve()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    found_versions = versions()
    width, height = args.size
    print(f"Preparing projects in {out / 'projects'} ...", flush=True)
    projects = {count: make_project(out / "projects", count, width, height, args.fps,
                                    args.seconds) for count in args.segments}
    jobs = plan_jobs(args)
    partial = out / "results-partial.json"
    run_all(jobs, Runner(work, projects, args.segments[0]), partial)
    partial.unlink()
    paths = write_report(out, [job.summary() for job in jobs], projects, args,
                         time.time() - started, found_versions)
    for path in paths:
        print(f"Wrote {path}")
    if not args.no_rerender:
        count = 50 if 50 in args.segments else args.segments[0]
        rerender = ["--segments", str(count), "--size",
                    f"{width}x{height}", "--fps", str(args.fps), "--out", str(out),
                    "--work", str(work), "--preset", args.moviepy_preset]
        print(f"Edit and re-render: python -m bench.rerender {' '.join(rerender)}", flush=True)
        rerender_main(rerender)
    if not args.no_draft:
        draft = ["--out", str(out), "--work", str(work)]
        print(f"Edit to draft: python -m bench.draft {' '.join(draft)}", flush=True)
        draft_main(draft)
    if not args.no_photos:
        photos = ["--out", str(out), "--work", str(work), "--preset", args.moviepy_preset,
                  "--runs", str(args.runs)]
        if args.quick:  # the full run keeps the scenario's own 4 x 6 s at 1080p
            photos += ["--size", f"{width}x{height}", "--segments", "2", "--seconds", "2"]
        print(f"Photographs: python -m bench.photos {' '.join(photos)}", flush=True)
        photos_main(photos)
    if not args.no_recorded:
        recorded = ["--out", str(out), "--work", str(work), "--preset", args.moviepy_preset,
                    "--runs", str(args.runs)]
        if args.quick:
            recorded += ["--size", f"{width}x{height}", "--segments", "2"]
        print(f"Recorded narration: python -m bench.recorded {' '.join(recorded)}", flush=True)
        recorded_main(recorded)
    if not args.no_clips:
        clips = ["--out", str(out), "--work", str(work), "--runs", str(args.runs)]
        if args.quick:
            clips.append("--quick")
        print(f"Stills and clips: python -m bench.clips {' '.join(clips)}", flush=True)
        clips_main(clips)
    if not args.no_page:
        from bench import frame, page

        print("Studio page: python -m bench.page; frame previews: python -m bench.frame",
              flush=True)
        page.main(["--runs", "3" if args.quick else "5", "--json", str(out / "page.json")])
        frame.main(["--json", str(out / "frame.json")])
    if not args.no_align:
        from bench import align

        print("Word timings: python -m bench.align", flush=True)
        align.main(["--out", str(out)] + (["--sentences", "3"] if args.quick else []))
    if not args.no_platforms:
        platforms = ["--out", str(out), "--work", str(work), "--runs", str(args.runs)]
        if args.quick:
            platforms += ["--segments", "2", "--seconds", "2"]
        print(f"Platforms: python -m bench.platforms {' '.join(platforms)}", flush=True)
        platforms_main(platforms)
    if not args.no_voice:
        from bench import voice

        width, height = args.size
        voice.main(["--segments", str(args.segments[0]), "--size", f"{width}x{height}",
                    "--preset", args.scale_preset, "--runs", str(args.runs),
                    "--out", str(out)])
    return 0
