"""``python -m bench.voice``: how fast the voices speak, and what narrating costs a render.

Two measurements:

* **Synthesis speed** of every voice engine ready on this machine: seconds of speech
  made per second of wall time (after one warm-up), over a paragraph of a story.
* **Text-only against recorded**: the same project rendered twice in a child process,
  once with text only (every narration synthesised, with an empty narration cache)
  and once with recordings (the very same narrations, as WAV files beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from storyreel.demo import DEMO_STORY
from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.engines import engine_statuses, open_engine
from storyreel.voice.narrate import Narrator, export_narration

__all__ = ["main", "render_comparison", "synthesis_speed"]

PARAGRAPH = " ".join(text for _, text in DEMO_STORY)


def synthesis_speed(runs: int = 3) -> list[dict[str, object]]:
    """Seconds of speech per second of wall time, per ready engine (median of ``runs``)."""
    rows: list[dict[str, object]] = []
    for status in engine_statuses():
        if not status.ready:
            rows.append({"engine": status.name, "ready": False, "reason": status.reason})
            continue
        engine = open_engine(Voice.model_validate({"engine": status.name}))
        voice = engine.default_voice
        engine.synthesise("Warm up.", voice, 1.0)
        speeds, seconds = [], 0.0
        for _ in range(runs):
            started = time.perf_counter()
            speech = engine.synthesise(PARAGRAPH, voice, 1.0)
            wall = time.perf_counter() - started
            seconds = speech.seconds
            speeds.append(seconds / wall)
        rows.append({"engine": status.name, "ready": True, "version": status.version,
                     "voice": voice, "speech_s": round(seconds, 2),
                     "x_realtime": round(statistics.median(speeds), 1)})
    return rows


def _project(folder: Path, segments: int, width: int, height: int,
             recorded: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    narrator = Narrator(NarrationCache(folder / "cache"))
    items: list[dict[str, object]] = []
    for i in range(segments):
        text = DEMO_STORY[i % len(DEMO_STORY)][1]
        image = folder / f"{i:03d}.png"
        Image.new("RGB", (width, height), (30 + 7 * i % 200, 90, 140)).save(image)
        item: dict[str, object] = {"image": image.name, "text": text}
        if recorded:
            entry = narrator.speak(text, Voice()).entry
            item["audio"] = export_narration(entry, folder / f"{i:03d}.wav").name
        items.append(item)
    manifest = folder / "story.json"
    manifest.write_text(json.dumps({"title": "Voice bench", "width": width, "height": height,
                                    "fps": 30, "segments": items}), encoding="utf-8")
    return manifest


def _render(manifest: Path, preset: str) -> float:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="voice-cache-") as cache:
        env["STORYREEL_CACHE_DIR"] = cache  # nothing cached: text-only renders synthesise
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "storyreel", "render", str(manifest), "-o",
                        str(manifest.with_suffix(".mp4")), "--preset", preset, "--quiet"],
                       check=True, env=env)
        return time.perf_counter() - started


def render_comparison(work: Path, segments: int, width: int, height: int, preset: str,
                      runs: int) -> dict[str, object]:
    """Render the text-only and the recorded project ``runs`` times each (alternating)."""
    text_only = _project(work / "text-only", segments, width, height, recorded=False)
    recorded = _project(work / "recorded", segments, width, height, recorded=True)
    times: dict[str, list[float]] = {"text_only": [], "recorded": []}
    for _ in range(runs):
        times["text_only"].append(_render(text_only, preset))
        times["recorded"].append(_render(recorded, preset))
    text_s, recorded_s = (statistics.median(times[k]) for k in ("text_only", "recorded"))
    return {"segments": segments, "size": f"{width}x{height}", "preset": preset,
            "runs": runs, "text_only_s": round(text_s, 2), "recorded_s": round(recorded_s, 2),
            "narration_cost_s": round(text_s - recorded_s, 2)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run both measurements, print them and write ``voice.json``."""
    parser = argparse.ArgumentParser(prog="python -m bench.voice", description=__doc__)
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    speed = synthesis_speed(args.runs)
    for row in speed:
        if row["ready"]:
            print(f"synthesis {row['engine']} {row['voice']}: {row['x_realtime']}x real time "
                  f"({row['speech_s']} s of speech)", flush=True)
        else:
            print(f"synthesis {row['engine']}: not measured ({row['reason']})", flush=True)
    with tempfile.TemporaryDirectory(prefix="voice-bench-", dir=args.out) as work:
        renders = render_comparison(Path(work), args.segments, width, height, args.preset,
                                    args.runs)
    print(f"render {renders['segments']} segments {renders['size']} {renders['preset']}: "
          f"text only {renders['text_only_s']} s, recorded {renders['recorded_s']} s "
          f"(narrating costs {renders['narration_cost_s']} s)", flush=True)
    report = args.out / "voice.json"
    report.write_text(json.dumps({"synthesis": speed, "render": renders}, indent=1),
                      encoding="utf-8")
    print(f"Wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
