"""The word-timing benchmark runs and reports every voice it finds (not its figures' speed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench.align import espeak_voice, known_speech

ROOT = Path(__file__).resolve().parents[2]


def test_each_word_starts_where_it_was_put() -> None:
    """Checked against the other way to compute it: the joined recording is silent just
    before every recorded start and sounds from it on."""
    case = known_speech("Nadie en el pueblo durmió", espeak_voice("es"),
                        np.random.default_rng(0))
    assert len(case.starts) == 5
    for start in case.starts:
        assert not np.any(case.samples[start - 480:start])  # 10 ms of silence before
        assert np.abs(case.samples[start:start + 480]).max() > 0  # sound at once
    gaps = np.diff(case.starts)
    assert np.all(gaps > 0.05 * 48_000)


def test_bench_align_writes_a_row_per_voice(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.align", "--sentences", "1", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads((tmp_path / "align.json").read_text(encoding="utf-8"))
    names = {row["voice"] for row in rows}
    assert {"espeak-ng en", "espeak-ng es", "espeak-ng de", "espeak-ng fr"} <= names
    if shutil.which("flite"):
        assert {"flite slt", "flite rms", "flite awb", "flite kal"} <= names
    for row in rows:
        assert row["segments"] == 1 and row["words"] > 3
        assert 0 <= row["median_ms"] <= row["p95_ms"]
        assert 0 <= row["fallback"] <= 1
    assert "| voice | language |" in (tmp_path / "align.md").read_text(encoding="utf-8")
