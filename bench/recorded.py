"""``python -m bench.recorded``: camera photographs with recorded narration, against the floor.

The project a creator brings from a camera and a microphone: 12-megapixel JPEG
photographs (some stored turned, with an EXIF orientation that stands them up),
each with a narration recorded in a voice other than storyreel's own (Debian's
``flite``, its ``slt``, ``rms``, ``awb`` and ``kal`` voices, at their native 16 kHz),
captions burned in (so every narration is aligned to its text) and loudness
normalised (so the mix is measured, its true peak too). The recordings are inputs,
made before any clock starts.

storyreel's CLI is measured as a whole process (start-up, analysis, the sound track,
every part, the join and the verification) beside :mod:`bench.floor` (libx264 alone
encoding the exact frames that render draws, from memory), alternately, so both see
the same machine. ``--phases`` also renders once in this process and prints when
each phase started and when the first and the last frame reached the encoder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from bench.measure import child_env, compile_sources, output_size, run_measured
from bench.photos import against_floor
from bench.project import GAP, ZOOM, _collage
from bench.report import side_by_side, write_results

__all__ = ["main", "make_recorded_project", "phases"]

ROOT = Path(__file__).resolve().parent.parent
_GENERATOR = 1  # bump when the photographs or recordings change
_VOICES = ("slt", "rms", "awb", "kal")
#: (width, height) as stored, and the EXIF orientation that stands the photograph up.
_SHOTS = (((4000, 3000), 1), ((3000, 4000), 6), ((4000, 3000), 3), ((3000, 4000), 8))
_LINES = (
    "We left the harbour before dawn, when the water was still and the gulls were asleep "
    "on the posts of the old pier.",
    "By noon the wind had turned, and the little boat leaned into every wave while the "
    "coast slid slowly out of sight behind us.",
    "The island rose out of the haze in the afternoon: green cliffs, a white lighthouse, "
    "and a single road winding up from the beach.",
    "We stayed until the light was gone, and sailed home under more stars than any of us "
    "had seen since we were children.",
)


def _flite() -> str:
    found = shutil.which("flite")
    if found is None:
        raise SystemExit("bench.recorded needs Debian's flite (apt-get install flite)")
    return found


def _record(path: Path, text: str, voice: str) -> None:
    """A narration spoken by ``flite``'s ``voice`` (written beside, then moved into place)."""
    temp = path.with_suffix(".tmp.wav")
    subprocess.run([_flite(), "-voice", voice, "-t", text, "-o", str(temp)], check=True,
                   capture_output=True)
    temp.replace(path)


def _photograph(path: Path, index: int) -> None:
    """A camera-sized JPEG; turned ones are stored sideways with the orientation to undo it."""
    (width, height), orientation = _SHOTS[index % len(_SHOTS)]
    upright = Image.fromarray(_collage(max(width, height), min(width, height), 50 + index))
    if height > width:
        upright = upright.transpose(Image.Transpose.ROTATE_90)  # a portrait photograph
    undo = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
            8: Image.Transpose.ROTATE_270}[orientation]
    stored = upright.transpose(undo) if undo is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    temp = path.with_suffix(".tmp.jpg")
    stored.save(temp, quality=92, exif=exif)
    temp.replace(path)


def make_recorded_project(root: Path, count: int = 4, width: int = 1920, height: int = 1080,
                          fps: int = 30) -> Path:
    """Create (or reuse) the project under ``root``; returns its manifest."""
    folder = root / f"recorded-{_GENERATOR}-{count:02d}seg-{width}x{height}-{fps}fps"
    audio = folder / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    segments = []
    for i in range(count):
        still = folder / f"photo-{i + 1:02d}.jpg"
        if not still.exists():
            _photograph(still, i)
        wav = audio / f"{i + 1:03d}-{_VOICES[i % len(_VOICES)]}.wav"
        text = _LINES[i % len(_LINES)]
        if not wav.exists():
            _record(wav, text, _VOICES[i % len(_VOICES)])
        segments.append({"image": still.name, "audio": f"audio/{wav.name}", "text": text})
    manifest = folder / "story.json"
    manifest.write_text(json.dumps({
        "title": f"Recorded narration, {count} segments", "width": width, "height": height,
        "fps": fps,
        "settings": {"gap": GAP, "ken_burns": {"zoom": ZOOM},
                     "subtitles": {"enabled": True, "sidecar": False},
                     "transitions": {"crossfade": 0.0}, "loudness": {"enabled": True}},
        "segments": segments,
    }, indent=1), encoding="utf-8")
    return manifest


def phases(manifest: Path, preset: str) -> list[tuple[float, float, str]]:
    """Render once in this process; returns (seconds since start, CPU seconds of the
    process since start, event) triples: each phase's start, and when the first and the
    last frame reached the encoder. On a loaded machine the CPU seconds show the work
    done before the first frame and after the last, which the wall clock does not."""
    from storyreel import load_project, render

    events: list[tuple[float, float, str]] = []
    start, cpu = time.perf_counter(), time.process_time()
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def on_progress(progress: Any) -> None:
        now, used = time.perf_counter() - start, time.process_time() - cpu
        with lock:
            if progress.phase not in seen:
                events.append((now, used, f"phase {progress.phase} ({progress.message})"))
                seen[progress.phase] = 0
            if progress.phase == "export" and progress.done and not seen["export"]:
                events.append((now, used, "first frames encoded"))
            if progress.phase == "export" and progress.total and \
                    progress.done >= progress.total > seen["export"]:
                events.append((now, used, "last frame encoded"))
            seen[progress.phase] = progress.done

    project = load_project(manifest)
    shutil.rmtree(manifest.parent / ".storyreel-cache", ignore_errors=True)
    out = manifest.parent / "phases.mp4"
    render(project, out, on_progress=on_progress, cache=False, preset=preset)
    events.append((time.perf_counter() - start, time.process_time() - cpu, "published"))
    out.unlink(missing_ok=True)
    return events


def before_and_after(work: Path, manifest: Path, before: Path, runs: int, preset: str
                     ) -> dict[str, list[dict[str, float]]]:
    """``runs`` rounds of storyreel from the ``before`` source tree, storyreel from this
    checkout and the floor, back to back (the order rotating every round); every run's
    wall and CPU seconds and the other processes' load."""
    out, floor_json = work / "recorded.mp4", work / "recorded-floor.json"
    env = child_env()
    compile_sources(before / "storyreel")
    old = dict(env, PYTHONPATH=os.pathsep.join((str(before), env["PYTHONPATH"])))
    render = [sys.executable, "-m", "storyreel", "render", str(manifest), "-o", str(out),
              "--preset", preset, "--quiet", "--no-cache"]
    floor = [sys.executable, "-m", "bench.floor", str(manifest), "--preset", preset,
             "--out", str(work / "recorded-floor.mp4"), "--json", str(floor_json)]
    variants = {"before": (render, old), "after": (render, env), "floor": (floor, env)}
    found: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(runs):
        for name in names[round_ % 3:] + names[:round_ % 3]:
            command, environment = variants[name]
            sample = run_measured(command, env=environment, cwd=work,
                                  log=work / f"recorded-{name}.log")
            row = {"wall": sample.wall, "cpu": sample.cpu, "others_load": sample.others_load}
            if name == "floor":  # the floor's own clock covers only the encoding
                data = json.loads(floor_json.read_text(encoding="utf-8"))
                row.update(wall=data["wall"], cpu=data["cpu"])
            found[name].append(row)
            print(f"round {round_ + 1} {name}: {row['wall']:.1f} s wall, {row['cpu']:.1f} s CPU,"
                  f" others {100 * row['others_load']:.0f} %", flush=True)
    for leftover in work.glob("recorded*"):
        leftover.unlink()
    return found


def markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures as a Markdown section."""
    width, height = args.size
    lines = [f"### Recorded narration: full render against the floor ({args.segments} "
             f"segments, {result['frames']} frames, {width}x{height} @ {args.fps}, "
             f"{args.preset})", "", *side_by_side(result, "floor")]
    r = result["ratio"]
    lines += ["", f"storyreel / floor: **{r['wall']:.3f}x wall, {r['cpu']:.3f}x CPU** "
              "(target <= 1.05x)."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes ``recorded.json`` and ``recorded.md`` to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.recorded", description=__doc__)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--size", type=output_size, default=(1920, 1080))
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, default=None,
                        help="also render with the storyreel package under this folder "
                             "(e.g. an exported src/ of an earlier commit), in the same rounds")
    parser.add_argument("--phases", action="store_true",
                        help="only render once in this process and print its phases")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    width, height = args.size
    manifest = make_recorded_project(args.out / "projects", args.segments, width, height,
                                     args.fps)
    if args.phases:
        for at, used, event in phases(manifest, args.preset):
            print(f"{at:7.2f} s  {used:7.2f} s CPU  {event}")
        return 0
    if args.before is not None:
        rounds = before_and_after(args.work, manifest, args.before.resolve(), args.runs,
                                  args.preset)
        (args.out / "recorded-before-after.json").write_text(json.dumps(rounds, indent=1),
                                                             encoding="utf-8")
        return 0
    result = against_floor(args.work, manifest, args.runs, args.preset, "recorded")
    write_results(args.out, "recorded", result, markdown(result, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
