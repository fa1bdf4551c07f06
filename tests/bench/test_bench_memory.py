"""Smoke test of the memory benchmark: two short narrations, validated and rendered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("psutil", reason="the bench extra is not installed")

from bench.memory import main


def test_memory_benchmark_measures_both_lengths(tmp_path: Path) -> None:
    assert main(["--minutes", "0.05,0.1", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "memory.json").read_text(encoding="utf-8"))
    assert [row["narration_s"] for row in rows] == [3.0, 6.0]
    for row in rows:
        assert 10 < row["validate_peak_mb"] < 4000 and 10 < row["render_peak_mb"] < 4000
    text = (tmp_path / "memory.md").read_text(encoding="utf-8")
    assert text.count("x the short run's peak") == 2
    assert not (tmp_path / "memory-work").exists()
