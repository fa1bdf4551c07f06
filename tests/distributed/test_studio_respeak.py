"""A studio render with ``serve --redis`` speaks edited text again on the workers first."""

from __future__ import annotations

import sys
from pathlib import Path

from farmkit import Workers
from test_narration_workers import run_job_process, speech_jobs

from storyreel.service.narration import narration_from
from storyreel.service.options import build_manifest
from storyreel.service.store import SegmentRow
from storyreel.words import RESPEAKING

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
from soundkit import decoded_sound, fresh_speech, likeness
from studiokit import TINY, png_bytes, wav_bytes

OLD = "The keeper climbed the stairs at dusk."
NEW = "The keeper climbed the tower at dusk."


def test_an_edited_narration_is_spoken_again_by_the_workers(tmp_path: Path,
                                                           workers: Workers) -> None:
    workers.start("w1")
    folder = tmp_path / "project"
    (folder / "images").mkdir(parents=True)
    (folder / "audio").mkdir()
    (folder / "output").mkdir()
    (folder / "images" / "a.png").write_bytes(png_bytes())
    (folder / "audio" / "old.wav").write_bytes(wav_bytes(tmp_path))
    rows = [SegmentRow(1, 1, 0, NEW, None, None, "images/a.png", 480, 270, "audio/old.wav",
                       48_000, 0.0, narration_from(OLD, {}))]
    spec = {"job_id": 4, "kind": "render", "manifest": build_manifest("Keeper", TINY, rows),
            "base_dir": str(folder), "output": str(folder / "output" / "render-4.mp4"),
            "narrate": [0], "options": {}, "draft": True, "cache": str(tmp_path / "cache")}
    assert "audio" not in spec["manifest"]["segments"][0]  # the old words are never used

    lines = run_job_process(spec, workers.url)
    assert lines[-1]["kind"] == "done", lines[-3:]
    said = {line["payload"]["message"] for line in lines
            if line["kind"] == "progress" and line["payload"]["phase"] == "narrate"}
    assert said == {RESPEAKING.format(count=1, s="")}
    (spoken,) = lines[-1]["payload"]["narrations"]
    assert spoken["source"] == narration_from(NEW, {})
    assert [job.worker_name for job in speech_jobs(workers.url)] == ["w1"]
    sound = decoded_sound(Path(lines[-1]["payload"]["path"]))
    assert likeness(sound, fresh_speech(NEW, tmp_path / "voice")) > 0.8
