"""Smoke test of the clips benchmark in its quick form: both sides encode the same frames
showing the same pictures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

pytest.importorskip("psutil", reason="the bench extra is not installed")

from bench.clips import ffmpeg_command, main, make_clip_project


def _need_ffmpeg() -> None:
    if os.environ.get("FFMPEG") or shutil.which("ffmpeg"):
        return
    message = "the ffmpeg command line is not installed (apt-get install ffmpeg)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _lumas(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.float32)
                for f in container.decode(video=0)]


def test_quick_run_reports_both_sides_on_the_same_frames(tmp_path: Path) -> None:
    _need_ffmpeg()
    assert main(["--quick", "--out", str(tmp_path), "--work", str(tmp_path / "work")]) == 0
    data = json.loads((tmp_path / "clips.json").read_text(encoding="utf-8"))
    assert data["frames"]["storyreel"] == data["frames"]["ffmpeg"] == data["planned_frames"]
    assert data["planned_frames"] == 6 * 30  # six 1 s segments at 30 fps, no gaps
    for side in ("storyreel", "ffmpeg"):
        assert data["median"]["wall"][side] > 0 and data["median"]["cpu"][side] > 0
    assert data["ratio"]["wall"] > 0
    assert "target <= 1.10x" in (tmp_path / "clips.md").read_text(encoding="utf-8")


def test_ffmpeg_draws_what_storyreel_draws(tmp_path: Path) -> None:
    """The floor does the same work: frame by frame, both outputs show the same picture
    (the phone clip upright, the 4K one scaled, the 60 fps one at 30)."""
    _need_ffmpeg()
    manifest = make_clip_project(tmp_path / "projects", (320, 180), 30, 1.0)
    command, total = ffmpeg_command(manifest, tmp_path / "ffmpeg.mp4", "ultrafast",
                                    os.environ.get("FFMPEG") or "ffmpeg")
    subprocess.run(command, check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "storyreel", "render", str(manifest), "-o",
                    str(tmp_path / "ours.mp4"), "--preset", "ultrafast", "--quiet",
                    "--no-cache"], check=True, timeout=300)
    ours, theirs = _lumas(tmp_path / "ours.mp4"), _lumas(tmp_path / "ffmpeg.mp4")
    assert len(ours) == len(theirs) == total
    for a, b in zip(ours, theirs, strict=True):
        mse = float(np.mean((a - b) ** 2))
        assert 10 * np.log10(255**2 / max(mse, 1e-6)) > 28
    # and they are not just alike by being flat: neighbouring segments differ
    assert float(np.mean(np.abs(ours[15] - ours[45]))) > 10
