"""The recorded-narration scenario: camera photographs, flite's voices, captions, loudness.

Needs Debian's ``flite`` to make its recordings; without it the test is skipped,
except on CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _need_flite() -> None:
    if shutil.which("flite") is None:
        reason = "Debian's flite is not installed (apt-get install flite)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the recorded-narration benchmark cannot run on CI: {reason}")
        pytest.skip(reason)


def test_recorded_scenario_measures_a_whole_render_against_the_floor(tmp_path: Path) -> None:
    _need_flite()
    command = [sys.executable, "-m", "bench.recorded", "--segments", "2", "--size", "192x108",
               "--preset", "ultrafast", "--runs", "1", "--out", str(tmp_path),
               "--work", str(tmp_path / "work")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "recorded.json").read_text(encoding="utf-8"))
    assert len(data["runs"]["storyreel"]) == len(data["runs"]["floor"]) == 1
    assert data["ratio"]["cpu"] > 1  # a whole process costs more than the bare encode
    manifest = json.loads(Path(data["manifest"]).read_text(encoding="utf-8"))
    settings = manifest["settings"]
    assert settings["subtitles"]["enabled"] and settings["loudness"]["enabled"]
    folder = Path(data["manifest"]).parent
    for segment in manifest["segments"]:
        with wave.open(str(folder / segment["audio"]), "rb") as wav:
            assert wav.getframerate() == 16_000  # flite's own rate: not storyreel's voice
            seconds = wav.getnframes() / wav.getframerate()
        assert 2.0 < seconds < 20.0  # a spoken sentence
    with Image.open(folder / manifest["segments"][1]["image"]) as photo:
        assert photo.size == (3000, 4000) or photo.size == (4000, 3000)
        assert photo.getexif().get(0x0112) == 6  # stored turned, stood up by its EXIF
    assert "storyreel / floor" in (tmp_path / "recorded.md").read_text(encoding="utf-8")
    assert not list((tmp_path / "work").glob("recorded*"))
