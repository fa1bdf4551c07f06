"""Peak memory against narration length: ``python -m bench.memory``.

A one-segment project is validated and then rendered by the CLI in a child process,
once with a short narration (2 minutes) and once with a long one (2 hours); the peak
resident memory of each run is measured (see :mod:`bench.measure`). Streaming audio
keeps the long run within 1.5x of the short one. The picture is kept tiny (128x72 at
1 fps) so that the run measures what the narration costs, not the encoder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from bench.measure import Sample, run_measured
from bench.report import write_results

__all__ = ["main", "write_narration"]

ROOT = Path(__file__).resolve().parents[1]
#: The long run may peak at most this many times the short one's memory.
TARGET_RATIO = 1.5
_RATE = 8000


def write_narration(path: Path, seconds: float) -> None:
    """A long but small narration: 8 kHz mono, a voice-like hum in bursts with pauses."""
    t = np.arange(_RATE * 10) / _RATE
    voice = np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    voice[(t % 2.5) > 1.8] = 0.0  # a pause every 2.5 s
    block = (voice * 8000).astype("<i2").tobytes()
    whole, rest = divmod(int(seconds * _RATE), len(voice))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_RATE)
        for _ in range(whole):
            out.writeframes(block)
        out.writeframes(block[: rest * 2])


def _project(folder: Path, seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (256, 144), (40, 90, 160)).save(folder / "still.png")
    write_narration(folder / "voice.wav", seconds)
    manifest = folder / "story.json"
    manifest.write_text(json.dumps({
        "title": f"Memory {seconds:g} s", "width": 128, "height": 72, "fps": 1,
        "segments": [{"image": "still.png", "audio": "voice.wav",
                      "text": "A narration whose words are timed to the voice."}],
        "settings": {"preset": "ultrafast"},
    }), encoding="utf-8")
    return manifest


def measure(seconds: float, work: Path) -> dict[str, float]:
    """Peak memory (MB) and wall time of validating and rendering one narration length."""
    manifest = _project(work / f"n{seconds:g}", seconds)
    cli = [sys.executable, "-m", "storyreel"]
    validate: Sample = run_measured([*cli, "validate", str(manifest)], cwd=ROOT,
                                    log=work / f"validate-{seconds:g}.log")
    render: Sample = run_measured([*cli, "render", str(manifest), "-q", "-o",
                                   str(work / f"out-{seconds:g}.mp4")], cwd=ROOT,
                                  log=work / f"render-{seconds:g}.log")
    return {"narration_s": seconds, "validate_peak_mb": validate.peak_rss_mb,
            "validate_wall_s": validate.wall, "render_peak_mb": render.peak_rss_mb,
            "render_wall_s": render.wall}


def report(rows: list[dict[str, float]]) -> str:
    """Markdown table of the runs and the ratio of the longest to the shortest."""
    lines = ["| narration | validate peak | render peak | render wall |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['narration_s'] / 60:g} min | {row['validate_peak_mb']:.0f} MB | "
                     f"{row['render_peak_mb']:.0f} MB | {row['render_wall_s']:.0f} s |")
    short, long = rows[0], rows[-1]
    for step in ("validate", "render"):
        ratio = long[f"{step}_peak_mb"] / short[f"{step}_peak_mb"]
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        lines.append(f"\n{step}: {ratio:.2f}x the short run's peak "
                     f"(target <= {TARGET_RATIO}x): **{verdict}**")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table, write ``memory.json`` and ``memory.md``."""
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--minutes", default="2,120",
                        help="narration lengths in minutes, shortest first (default 2,120)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    lengths = [float(part) * 60 for part in args.minutes.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "memory-work"
    try:
        rows = [measure(seconds, work) for seconds in lengths]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(args.out, "memory", rows, report(rows), indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
