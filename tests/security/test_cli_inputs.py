"""The command line refuses to destroy its own inputs, and absurd arguments or special files
are one-line errors with exit code 2 (no hang, no traceback)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from PIL import Image

import storyreel
from media import write_project
from storyreel.cli import main
from storyreel.demo import write_speechlike_wav

FONT = Path(storyreel.__file__).with_name("fonts") / "DejaVuSans-Bold.ttf"


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A manifest using every kind of input: stills, narrations, music, logo, font, intro."""
    folder = tmp_path / "p"
    manifest = write_project(folder, [0.3, 0.3])
    data = json.loads(manifest.read_text())
    write_speechlike_wav(folder / "music.wav", 0.5)
    Image.new("RGBA", (32, 32), (255, 0, 0, 128)).save(folder / "logo.png")
    (folder / "font.ttf").write_bytes(FONT.read_bytes())
    data["settings"].update({"music": {"path": "music.wav"}, "logo": {"path": "logo.png"}})
    data["settings"]["subtitles"]["font"] = "font.ttf"
    manifest.write_text(json.dumps(data))
    return manifest


@pytest.mark.parametrize("output", ["story.json", "audio/001.wav", "images/002.png", "music.wav",
                                    "logo.png", "font.ttf", "./audio/../logo.png"])
def test_an_output_that_is_an_input_is_refused(project: Path, output: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = project.parent
    before = _digest(folder)
    assert main(["render", str(project), "-o", str(folder / output), "-q"]) == 2
    err = capsys.readouterr().err
    assert "an input of the project" in err and len(err.strip().splitlines()) == 1
    assert _digest(folder) == before


def test_an_output_linked_to_an_input_is_refused(project: Path) -> None:
    folder = project.parent
    link = folder / "out.mp4"
    link.symlink_to(folder / "audio/001.wav")
    before = _digest(folder)
    assert main(["render", str(project), "-o", str(link), "-q"]) == 2
    assert _digest(folder) == before
    assert main(["render", str(project), "-o", str(folder / "audio/001.wav"), "--intro",
                 str(folder / "images/001.png"), "-q"]) == 2


@pytest.mark.parametrize("args", [
    ["render", "{manifest}", "--fps", "1e309"],
    ["render", "{manifest}", "--fps", "1e400"],
    ["render", "{manifest}", "--fps", "9" * 5000],
    ["serve", "--max-jobs", "100000"],
    ["serve", "--max-jobs", "0"],
])
def test_absurd_arguments_are_one_line_usage_errors(project: Path, args: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    argv = [arg.replace("{manifest}", str(project)) for arg in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error" in err.strip().splitlines()[-1]  # argparse's usage, then one line


def test_a_still_image_is_not_an_intro_clip(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(project)]) == 0
    data = json.loads(project.read_text())
    data["settings"]["intro"] = "images/001.png"
    project.write_text(json.dumps(data))
    assert main(["validate", str(project)]) == 2
    assert "still image" in capsys.readouterr().err


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "folder"])
def test_special_files_as_manifest_are_refused_without_reading(
        tmp_path: Path, special: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = _special(tmp_path, special)
    # A FIFO nobody writes to would block a reader forever; /dev/zero never ends.
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert ("not a regular file" in err or "folder" in err) and "not found" not in err


@pytest.mark.parametrize("what", ["images/001.png", "audio/002.wav", "music.wav", "logo.png"])
@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "folder"])
def test_special_files_as_media_are_named_for_what_they_are(
        project: Path, what: str, special: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = project.parent
    target = folder / what
    target.unlink()
    if special == "/dev/zero":
        target.symlink_to("/dev/zero")
    else:
        _special(folder, special, target)
    assert main(["validate", str(project)]) == 2
    err = capsys.readouterr().err
    expected = "folder" if special == "folder" else "not a regular file"
    assert expected in err and "not found" not in err, err


def _special(folder: Path, kind: str, path: Path | None = None) -> Path:
    if kind == "/dev/zero":
        return Path("/dev/zero")
    path = path or folder / f"special-{kind}"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    return path


def test_control_characters_never_reach_the_caption_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "p"
    manifest = write_project(folder, [0.6], title="Bell\a and\x00 nul",
                             settings={"subtitles": {"enabled": False, "sidecar": True}})
    data = json.loads(manifest.read_text())
    data["segments"][0]["text"] = "Ring\a the\x00 bell\x1b[31m now.\x7f Then\x9b stop."
    data["segments"][0]["chapter"] = "Chapter\x00 one\a"
    manifest.write_text(json.dumps(data))
    out = tmp_path / "out" / "story.mp4"
    assert main(["render", str(manifest), "-o", str(out), "-q"]) == 0
    written = [out.with_suffix(".srt"), out.with_suffix(".vtt")]
    texts = [path.read_text(encoding="utf-8") for path in written]
    assert len(texts) == 2 and "Ring the bell[31m now. Then stop." in texts[0]
    for text in texts:
        assert not [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0]
