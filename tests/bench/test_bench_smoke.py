"""Smoke test of the benchmark machinery: a tiny project, one run of every renderer.

The matrix runs at one preset (ultrafast): the report names its ratios and quality rows
after the presets it was given, and the targets that need a preset it was not given
(medium, veryfast) say NOT MEASURED, which is checked here too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

for module in ("moviepy", "matplotlib", "psutil", "skimage"):
    pytest.importorskip(module, reason="the bench extra is not installed")

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = {"storyreel", "floor", "moviepy", "moviepy-opencv", "storyreel-static",
            "moviepy-static", "floor-static", "storyreel-phrase", "storyreel-word"}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "bench", "--segments", "2,3", "--size", "160x90",
               "--presets", "ultrafast", "--runs", "1", "--seconds", "1",
               "--no-voice", "--no-photos", "--no-recorded", "--no-clips", "--no-align",
               "--no-platforms", "--no-page", "--no-draft", "--out", str(out)]
    # A guard against a hang, not a measure: the whole matrix took 200 s on a busy machine.
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_every_renderer_measured_with_sane_numbers(report: tuple[Path, dict]) -> None:
    _, data = report
    rows = data["results"]
    assert {r["variant"] for r in rows} == VARIANTS
    ours = {r["frames"] for r in rows if r["segments"] == 2 and "moviepy" not in r["variant"]}
    assert len(ours) == 1, "storyreel and the floor must encode the same number of frames"
    (count,) = ours
    for r in rows:
        if "moviepy" in r["variant"]:  # MoviePy rounds clip durations its own way
            assert abs(r["frames"] - count) <= 2
    assert 2 * 1.0 * 30 * 0.8 < count < 2 * (1.2 + 0.3) * 30 + 2
    for r in rows:
        assert r["runs"] == 1 and len(r["samples"]) == 1
        assert 0 < r["wall"] < 120
        assert r["cpu"] > 0
        assert 10 < r["peak_rss_mb"] < 4000
        assert r["fps"] == pytest.approx(r["frames"] / r["wall"])
        assert r["ms_per_frame"] == pytest.approx(1000 * r["wall"] / r["frames"])
    quality = [r for r in rows if r["variant"] == "floor" and r["segments"] == 2]
    assert {r["preset"] for r in quality} == {"ultrafast"}
    for r in quality:
        assert 25 < r["psnr_y"] < 99 and 0.5 < r["ssim_y"] <= 1.0


def test_scaling_targets_ratios_and_machine(report: tuple[Path, dict]) -> None:
    _, data = report
    scaled = {(r["variant"], r["segments"]) for r in data["results"] if r["segments"] == 3}
    assert scaled == {("storyreel", 3), ("floor", 3)}
    assert {r["preset"] for r in data["results"]} == {"ultrafast"}
    for key in ("storyreel/floor ultrafast", "storyreel-word/storyreel-phrase ultrafast",
                "storyreel-word/floor ultrafast", "storyreel/moviepy ultrafast",
                "storyreel-static/floor-static ultrafast"):
        ratio = data["ratios"][key]
        assert ratio is not None and ratio > 0, key
    verdicts = {t["target"]: t["verdict"] for t in data["targets"]}
    assert set(verdicts.values()) <= {"PASS", "MISS", "NOT MEASURED"}
    assert verdicts["storyreel within 5 % of the encoder's floor at medium"] == "NOT MEASURED"
    assert verdicts["storyreel within 25 % of the encoder's floor at veryfast"] == "NOT MEASURED"
    assert "storyreel/floor veryfast" not in data["ratios"]  # no row of an unrun preset
    memory = next(t for t in data["targets"] if t["target"] == "peak memory at 3 segments")
    assert memory["verdict"] in {"PASS", "MISS"} and memory["measured"] > 0
    assert data["machine"]["logical_cores"] >= 1 and data["machine"]["cpu"]
    assert data["versions"]["moviepy"] != "not installed"


def test_markdown_and_chart_written(report: tuple[Path, dict]) -> None:
    out, _ = report
    text = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## Machine", "## Targets", "## Presets", "## Scaling", "## Method"):
        assert heading in text
    assert "**MISS**" in text or "**PASS**" in text
    assert (out / "time_per_frame.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((out / "work").iterdir()), "scratch renders are removed"


def test_edit_and_rerender_scenario_measured(report: tuple[Path, dict]) -> None:
    out, _ = report
    data = json.loads((out / "rerender.json").read_text(encoding="utf-8"))
    for name in ("full", "unchanged", "text", "picture"):
        assert data[name]["wall"] > 0 and data[name]["cpu"] > 0
    for name in ("unchanged", "text", "picture"):
        assert data[name]["wall_vs_full"] > 0
    assert data["chunked_vs_floor"]["cpu"] > 0
    text = (out / "rerender.md").read_text(encoding="utf-8")
    assert "one segment's text changed" in text and "encoder floor" in text


def test_photographs_scenario_compares_a_whole_render_with_the_floor(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.photos", "--segments", "2", "--seconds", "0.6",
               "--size", "192x108", "--preset", "ultrafast", "--runs", "1",
               "--out", str(tmp_path), "--work", str(tmp_path / "work")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "photos.json").read_text(encoding="utf-8"))
    assert len(data["runs"]["storyreel"]) == len(data["runs"]["floor"]) == 1
    for run in data["runs"]["storyreel"] + data["runs"]["floor"]:
        assert run["wall"] > 0 and run["cpu"] > 0
    assert data["frames"] > 2 * 0.6 * 30  # both encode the project's every frame
    # a whole process (start-up, analysis, sound, join) costs more than the bare encode
    assert data["ratio"]["cpu"] > 1 and data["ratio"]["wall"] > 0
    stills = sorted(Path(data["manifest"]).parent.glob("photo-*.jpg"))
    assert len(stills) == 2
    from PIL import Image

    with Image.open(stills[0]) as still:
        assert still.size == (4032, 3024)
        # camera detail everywhere: no flat or empty stretch of the collage
        grey = np.asarray(still.convert("L").resize((403, 302)), dtype=np.float32)
        assert float(np.abs(np.diff(grey, axis=1)).mean()) > 4
    assert "storyreel / floor" in (tmp_path / "photos.md").read_text(encoding="utf-8")
    assert not list((tmp_path / "work").glob("photos*"))  # its files are cleaned up


def test_voice_bench_reports_speed_and_both_renders(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.voice", "--segments", "2", "--size", "160x90",
               "--preset", "ultrafast", "--runs", "1", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "voice.json").read_text(encoding="utf-8"))
    engines = {row["engine"]: row for row in data["synthesis"]}
    assert set(engines) == {"hibari", "kokoro", "piper", "espeak"}
    assert engines["hibari"]["ready"] and engines["hibari"]["x_realtime"] > 1
    render = data["render"]
    assert render["segments"] == 2
    assert render["text_only_s"] > 0 and render["recorded_s"] > 0
