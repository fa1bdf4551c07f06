"""storyreel voices, say and narrate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from storyreel.cli import main
from storyreel.media.audio import SAMPLE_RATE, decode_audio


def test_voices_lists_engines_and_says_what_is_missing(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORYREEL_KOKORO_MODEL", raising=False)
    monkeypatch.delenv("STORYREEL_PIPER_MODEL", raising=False)
    assert main(["voices"]) == 0
    out = capsys.readouterr().out
    assert "hibari: ready (0.2.1)" in out
    assert "heart" in out
    assert "kokoro: not available" in out and "piper: not available" in out
    assert "STORYREEL_KOKORO_MODEL" in out and "STORYREEL_PIPER_MODEL" in out


def test_say_writes_a_wav_to_audition(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hello.wav"
    assert main(["say", "Hello, this is the built-in voice.", "-o", str(out),
                 "--speed", "1.2"]) == 0
    seconds = decode_audio(out).shape[1] / SAMPLE_RATE
    assert 1.0 < seconds < 4.0
    assert [p.name for p in tmp_path.iterdir()] == ["hello.wav"]


@pytest.mark.parametrize(("argv", "message"), [
    (["say", "🐉", "-o", "x.wav"], "nothing a voice can say"),
    (["say", "日本語です。", "-o", "x.wav"], "no English words"),
    (["say", "Hi.", "-o", "x.wav", "--voice", "emma"], "never downloads"),
    (["say", "Hi.", "-o", "x.wav", "--speed", "9"], "speed must be 0.5-2"),
    (["say", "Hi.", "-o", "x.wav", "--engine", "kokoro"], "STORYREEL_KOKORO_MODEL"),
])
def test_say_refuses_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                   message: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STORYREEL_KOKORO_MODEL", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "x.wav").exists()


def test_narrate_writes_missing_narrations_and_skips_recordings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.new("RGB", (64, 36)).save(tmp_path / "a.png")
    main(["say", "A recording.", "-o", str(tmp_path / "rec.wav")])
    manifest = tmp_path / "story.json"
    manifest.write_text(json.dumps({"segments": [
        {"image": "a.png", "text": "The first segment is spoken."},
        {"image": "a.png", "audio": "rec.wav", "text": "A recording."},
        {"image": "a.png", "text": "So is the third."}]}))
    capsys.readouterr()
    assert main(["narrate", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "segment 2: skipped, it has a recording" in out
    written = sorted(p.name for p in (tmp_path / "narration").iterdir())
    assert written == ["01.wav", "03.wav"]
    assert decode_audio(tmp_path / "narration" / "01.wav").shape[1] > SAMPLE_RATE


def test_narrate_names_the_segment_it_cannot_speak(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    Image.new("RGB", (64, 36)).save(tmp_path / "a.png")
    manifest = tmp_path / "story.json"
    manifest.write_text(json.dumps({"segments": [{"image": "a.png", "text": "Fine."},
                                                 {"image": "a.png", "text": "🐉 🐉"}]}))
    assert main(["narrate", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "segment 2 voice" in err and "nothing a voice can say" in err
