"""Projects of pictures and text: the render speaks every narration itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from mp4probe import audio_track, probe

import storyreel
from media import write_manifest, write_solid, write_tone_wav
from storyreel.cli import main

TEXTS = ("The lighthouse stood alone on the cliff.",
         "Every night its keeper climbed one hundred steps.")


def _text_only(folder: Path, **settings: object) -> Path:
    segments = []
    for i, text in enumerate(TEXTS):
        write_solid(folder / f"{i}.png", (160, 90), (30 + 90 * i, 60, 90))
        segments.append({"image": f"{i}.png", "text": text})
    return write_manifest(folder, segments, width=160, height=90, fps=25,
                          settings={"preset": "ultrafast", **settings})


def test_text_only_project_renders_a_conforming_mp4_with_speech(project_dir: Path,
                                                                out_dir: Path) -> None:
    phases: list[str] = []
    project = storyreel.load_project(_text_only(project_dir))
    result = storyreel.render(project, out_dir / "spoken.mp4",
                              on_progress=lambda p: phases.append(p.phase))
    assert phases[0] == "narrate"
    assert "analyse" in phases
    assert result.synthesised == [0, 1]
    info = probe(result.path)
    assert (info.width, info.height) == (160, 90)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert abs(info.audio_duration - info.video_duration) <= 1 / 25
    words = sum(len(t.split()) for t in TEXTS)
    assert 2.0 <= words / float(info.audio_duration) <= 4.5  # speech, plus the gaps
    sound, rate = audio_track(result.path)
    assert rate == 48_000
    block = rate // 10
    blocks = sound[0, : sound.shape[1] // block * block].reshape(-1, block)
    loud = np.sqrt(np.mean(blocks**2, axis=1))
    assert len(loud) > 40
    assert (loud > 0.03).mean() > 0.5  # voiced most of the time, not silence
    assert result.loudness is not None and abs(result.loudness + 14) < 1.5
    assert [len(w.words) for w in result.words] == [len(t.split()) for t in TEXTS]
    assert {w.source for w in result.words} == {"aligned"}
    assert result.warnings == []


def test_recordings_win_and_text_fills_the_rest(project_dir: Path, out_dir: Path) -> None:
    manifest = _text_only(project_dir)
    data = json.loads(manifest.read_text())
    write_tone_wav(project_dir / "rec.wav", 1.0)
    data["segments"][1]["audio"] = "rec.wav"
    manifest.write_text(json.dumps(data))
    project = storyreel.load_project(manifest)
    result = storyreel.render(project, out_dir / "mixed.mp4")
    assert result.synthesised == [0]
    assert result.narration_starts[0] == 0
    span = result.narration_starts[1] - result.narration_starts[0]
    assert span > 48_000  # the first narration is a spoken sentence, then the gap


def test_cli_writes_the_words_beside_the_video(project_dir: Path, out_dir: Path) -> None:
    manifest = _text_only(project_dir, loudness={"enabled": False})
    out = out_dir / "words.mp4"
    assert main(["render", str(manifest), "-o", str(out), "-q", "--words-json",
                 "--speed", "1.3"]) == 0
    words = json.loads(out.with_suffix(".words.json").read_text())["words"]
    first = [w for w in words if w["segment"] == 1]
    second = [w for w in words if w["segment"] == 2]
    assert [w["text"] for w in first] == TEXTS[0].split()
    assert [w["text"] for w in second] == TEXTS[1].split()
    assert second[0]["start"] > first[-1]["end"]
    duration = float(probe(out).video_duration)
    assert 0 < second[-1]["end"] <= duration
