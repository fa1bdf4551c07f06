"""``python -m bench.clips``: a project mixing stills and video clips against ffmpeg's own
command line doing the same picture work (the floor for clips).

The project (1080p30 by default) alternates stills and generated H.264 footage with
motion: a 1080p clip, a 4K clip, an upright phone clip (stored landscape with a
90-degree rotation) and a 60 fps clip, each trimmed inside the clip and covering the
frame. storyreel renders it as a creator does (the CLI, the part cache emptied
first, one process measured from outside). Beside it, one ``ffmpeg`` command (Debian's
build, the command line itself) decodes the same inputs, seeks to the same trims,
turns the phone clip upright, scales (area filter, as storyreel does) and crops each to
cover the frame, brings each to the output's frame rate, holds each still for its
segment, joins them and encodes the same frame count with libx264 at the same preset,
8 Mbit/s and High profile. Segment lengths come from storyreel's own plan of the
project, so both encode the same frames. ffmpeg does less than storyreel (no narration,
sound track or verification), so the ratio is an upper bound on storyreel's overhead.
Runs alternate; medians are compared.

ffmpeg is a benchmark tool, not a dependency of storyreel: install it with
``apt-get install ffmpeg`` (or point ``FFMPEG`` at a binary).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from bench.measure import child_env, output_size, run_measured
from bench.report import side_by_side, write_results
from storyreel import load_project
from storyreel.demo import write_speechlike_wav
from storyreel.render.analysis import analyse_project
from storyreel.timeline.story import build_story

__all__ = ["ffmpeg_binary", "ffmpeg_command", "main", "make_clip_project", "run_scenario"]

ROOT = Path(__file__).resolve().parent.parent
_GENERATOR = 1  # bump when the footage changes, so old files are not reused


@dataclass(frozen=True)
class Footage:
    """One generated clip: its stored size, rate, rotation and length."""

    name: str
    width: int
    height: int
    fps: int
    rotation: int
    seconds: float


def ffmpeg_binary() -> str:
    """The ``ffmpeg`` command line to measure (``FFMPEG`` overrides the search)."""
    found = os.environ.get("FFMPEG") or shutil.which("ffmpeg")
    if not found:
        raise SystemExit("bench.clips compares storyreel with the ffmpeg command line, which "
                         "is not installed: apt-get install ffmpeg (or set FFMPEG to one)")
    return found


def _footage(size: tuple[int, int], seconds: float) -> list[Footage]:
    """The clips, sized from the output: its own size, twice it (4K for 1080p), the same
    upright as a phone stores it, and two thirds of it at 60 fps."""
    w, h = size

    def even(value: float) -> int:
        return max(2, 2 * round(value / 2))

    return [Footage("landscape", w, h, 30, 0, seconds),
            Footage("uhd", 2 * w, 2 * h, 30, 0, seconds),
            Footage("phone", h, w, 30, 90, seconds),  # stored landscape: the height is w
            Footage("sixty", even(w * 2 / 3), even(h * 2 / 3), 60, 0, seconds)]


def _texture(width: int, height: int, seed: int) -> NDArray[np.uint8]:
    """A detailed picture twice the clip's width, panned across to make motion."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 1, width // 4 + 1, 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(small).resize((2 * width, height), Image.Resampling.BICUBIC))
    noise = rng.integers(-12, 13, big.shape, dtype=np.int16)
    mixed: NDArray[np.uint8] = np.clip(big.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return mixed


def _write_footage(path: Path, spec: Footage, seed: int) -> None:
    """Encode ``spec`` with moving content (a pan and a travelling block), as H.264."""
    if path.exists():
        return
    stored_w, stored_h = (spec.height, spec.width) if spec.rotation else (spec.width,
                                                                          spec.height)
    texture = _texture(stored_w, stored_h, seed)
    temp = path.with_suffix(".tmp.mp4")
    frames = round(spec.seconds * spec.fps)
    with av.open(str(temp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=spec.fps, options={"preset": "veryfast",
                                                                   "crf": "20"})
        stream.width, stream.height, stream.pix_fmt = stored_w, stored_h, "yuv420p"
        if spec.rotation:
            stream.set_display_rotation(-spec.rotation)  # counter-clockwise in PyAV
        for i in range(frames):
            shift = (i * stored_w) // (2 * frames)
            picture = np.ascontiguousarray(texture[:, shift:shift + stored_w])
            box = stored_h // 4
            x = (i * 7) % max(1, stored_w - box)
            picture[box:2 * box, x:x + box] = (240, 200, 40)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    temp.replace(path)


def make_clip_project(root: Path, size: tuple[int, int], fps: int, seconds: float
                      ) -> Path:
    """Write (or reuse) the footage, stills and narrations; returns the manifest.

    Six segments of ``seconds`` of narration: a still, the 1080p clip, the 4K clip, a
    still, the phone clip and the 60 fps clip; each clip is trimmed from 1 s in and is
    longer than its segment (cut at its end).
    """
    width, height = size
    folder = root / f"clips-{_GENERATOR}-{width}x{height}-{fps}fps-{seconds:g}s"
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    clips = {}
    for n, spec in enumerate(_footage(size, seconds + 2)):
        clips[spec.name] = folder / f"{spec.name}.mp4"
        _write_footage(clips[spec.name], spec, seed=n)
    for n in range(2):
        still = folder / f"still-{n + 1}.png"
        if not still.exists():
            Image.fromarray(_texture(width, height, 50 + n)[:, :width]).save(still)
    order = ["still-1.png", "landscape", "uhd", "still-2.png", "phone", "sixty"]
    segments = []
    for i, name in enumerate(order):
        wav = folder / "audio" / f"{i + 1:02d}.wav"
        if not wav.exists():
            write_speechlike_wav(wav, seconds, rate=48_000, seed=300 + i)
        visual: dict[str, Any] = {"image": name} if name.endswith(".png") else {
            "video": clips[name].name, "clip": {"start": 1.0, "end": 1.0 + seconds + 1.0}}
        segments.append({**visual, "audio": f"audio/{wav.name}",
                         "text": f"Segment {i + 1}, read over footage."})
    manifest = folder / "story.json"
    manifest.write_text(json.dumps({
        "title": "Stills and clips", "width": width, "height": height, "fps": fps,
        "settings": {"gap": 0.0, "ken_burns": {"direction": "none"},
                     "subtitles": {"enabled": False, "sidecar": False},
                     "transitions": {"crossfade": 0.0, "fade_in": 0.0, "fade_out": 0.0},
                     "loudness": {"enabled": False}},
        "segments": segments,
    }, indent=1), encoding="utf-8")
    return manifest


def ffmpeg_command(manifest: Path, out: Path, preset: str, binary: str = "ffmpeg"
                   ) -> tuple[list[str], int]:
    """The ffmpeg command doing the same picture work as a render of ``manifest``, and the
    number of frames it encodes (each segment's length from storyreel's own plan)."""
    project = load_project(manifest)
    story = build_story(project, analyse_project(project, speech=False))
    plan, fps = story.plan, story.plan.fps
    spans = {span.index: span for span in plan.spans}
    w, h = project.width, project.height
    inputs: list[str] = []
    chains: list[str] = []
    total = 0
    for i, segment in enumerate(project.segments):
        frames = spans[i].frames
        if i == len(project.segments) - 1:
            frames = plan.total_frames - total  # the tail, if the plan holds one
        total += frames
        seconds = f"{float(Fraction(frames) / fps) + 1:.3f}"
        data = segment.visual.model_dump()
        if "video" in data:
            start = f"{data['clip']['start']:.3f}"
            inputs += ["-ss", start, "-t", seconds, "-i", str(data["video"])]
        else:
            inputs += ["-loop", "1", "-framerate", str(fps), "-t", seconds, "-i",
                       str(data["image"])]
        chains.append(
            f"[{i}:v]scale={w}:{h}:force_original_aspect_ratio=increase:flags=area,"
            f"crop={w}:{h},setsar=1,fps={fps},trim=end_frame={frames},"
            f"setpts=PTS-STARTPTS,format=yuv420p[v{i}]")
    joined = "".join(f"[v{i}]" for i in range(len(project.segments)))
    graph = ";".join(chains) + f";{joined}concat=n={len(project.segments)}:v=1:a=0[out]"
    command = [binary, "-hide_banner", "-loglevel", "error", "-y", *inputs,
               "-filter_complex", graph, "-map", "[out]", "-an", "-c:v", "libx264",
               "-preset", preset, "-b:v", "8M", "-profile:v", "high", "-pix_fmt", "yuv420p",
               "-r", str(fps), str(out)]
    return command, total


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def run_scenario(work: Path, projects: Path, runs: int, size: tuple[int, int], fps: int,
                 preset: str, seconds: float) -> dict[str, Any]:
    """Measure ``runs`` alternating rounds; returns every run and the medians' ratios."""
    binary = ffmpeg_binary()
    manifest = make_clip_project(projects, size, fps, seconds)
    ours_out, theirs_out = work / "clips.mp4", work / "clips-ffmpeg.mp4"
    command, planned = ffmpeg_command(manifest, theirs_out, preset, binary)
    env = child_env()
    runs_of: dict[str, list[dict[str, float]]] = {"storyreel": [], "ffmpeg": []}
    frames: dict[str, int] = {}
    for _ in range(runs):
        shutil.rmtree(manifest.parent / ".storyreel-cache", ignore_errors=True)
        ours = run_measured([sys.executable, "-m", "storyreel", "render", str(manifest),
                             "-o", str(ours_out), "--preset", preset, "--quiet"],
                            env=env, cwd=work, log=work / "clips.log")
        theirs = run_measured(command, env=env, cwd=work, log=work / "clips-ffmpeg.log")
        for name, sample, path in (("storyreel", ours, ours_out),
                                   ("ffmpeg", theirs, theirs_out)):
            runs_of[name].append({"wall": sample.wall, "cpu": sample.cpu,
                                  "peak_rss_mb": sample.peak_rss_mb,
                                  "others_load": sample.others_load})
            frames[name] = _frames(path)
    shutil.rmtree(manifest.parent / ".storyreel-cache", ignore_errors=True)
    for path in (ours_out, theirs_out, work / "clips.log", work / "clips-ffmpeg.log"):
        path.unlink(missing_ok=True)
    median = {key: {name: statistics.median(r[key] for r in rows)
                    for name, rows in runs_of.items()} for key in ("wall", "cpu")}
    return {"runs": runs_of, "median": median, "frames": frames, "planned_frames": planned,
            "ratio": {key: m["storyreel"] / m["ffmpeg"] for key, m in median.items()},
            "manifest": str(manifest), "ffmpeg": command}


def markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures as a Markdown section."""
    width, height = args.size
    lines = [f"### Stills and clips against the ffmpeg command line (6 segments, "
             f"{result['planned_frames']} frames, {width}x{height} @ {args.fps}, "
             f"{args.preset})", "", *side_by_side(result, "ffmpeg")]
    r = result["ratio"]
    lines += ["", f"Frames encoded: storyreel {result['frames']['storyreel']}, ffmpeg "
              f"{result['frames']['ffmpeg']}.", "",
              f"storyreel / ffmpeg: **{r['wall']:.3f}x wall, {r['cpu']:.3f}x CPU** "
              "(target <= 1.10x)."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes ``clips.json`` and ``clips.md`` to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.clips", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a sanity run: 320x180, 1 s segments, ultrafast, one run")
    parser.add_argument("--size", type=output_size, default=None,
                        help="output WxH (default 1920x1080)")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=None,
                        help="narration per segment (default 4)")
    parser.add_argument("--preset", default=None, help="libx264 preset (default veryfast)")
    parser.add_argument("--runs", type=int, default=None, help="rounds (default 3)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.size = args.size or ((320, 180) if args.quick else (1920, 1080))
    args.seconds = args.seconds or (1.0 if args.quick else 4.0)
    args.preset = args.preset or ("ultrafast" if args.quick else "veryfast")
    args.runs = args.runs or (1 if args.quick else 3)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = run_scenario(args.work, args.out / "projects", args.runs, args.size, args.fps,
                          args.preset, args.seconds)
    write_results(args.out, "clips", result, markdown(result, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
