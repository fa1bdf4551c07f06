"""Outputs replace only files: ``render -o`` and ``say -o`` refuse a pipe or a device, and
no render of a batch may replace a manifest or a picture another project reads."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from storyreel.cli import main
from storyreel.errors import OutputError
from storyreel.media.files import check_output_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from test_cli import make_project


def _is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(os.lstat(path).st_mode)


def test_a_device_or_a_pipe_is_not_an_output(tmp_path: Path) -> None:
    for device in (Path("/dev/null"), Path("/dev/zero")):
        if device.exists():
            with pytest.raises(OutputError, match="not a regular file"):
                check_output_file(device)
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="pipe, device or socket"):
        check_output_file(fifo)
    with pytest.raises(OutputError, match="folder"):
        check_output_file(tmp_path)
    check_output_file(tmp_path / "new.mp4")  # missing: fine
    (tmp_path / "old.mp4").write_bytes(b"old")
    check_output_file(tmp_path / "old.mp4")  # a file: replaced
    (tmp_path / "link.mp4").symlink_to(Path("/dev/null"))
    check_output_file(tmp_path / "link.mp4")  # a link is replaced, never followed


def test_render_refuses_a_fifo_as_its_output(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path / "p", segments=1)
    fifo = tmp_path / "out.mp4"
    os.mkfifo(fifo)
    assert main(["render", str(manifest), "-o", str(fifo), "--no-cache"]) != 0
    err = capsys.readouterr().err
    assert "not a regular file" in err and len(err.strip().splitlines()) == 1
    assert _is_fifo(fifo)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_say_refuses_a_fifo_as_its_output(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "said.wav"
    os.mkfifo(fifo)
    assert main(["say", "Hello there.", "-o", str(fifo)]) != 0
    assert "not a regular file" in capsys.readouterr().err
    assert _is_fifo(fifo)


def test_no_batch_entry_replaces_what_another_reads(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    first = make_project(tmp_path / "first", segments=1)
    second = make_project(tmp_path / "second", segments=1)
    manifest_before = first.read_bytes()
    picture = tmp_path / "first" / "media" / "0.png"
    picture_before = picture.read_bytes()
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join([
        json.dumps({"manifest": str(first), "output": str(tmp_path / "out" / "first.mp4")}),
        json.dumps({"manifest": str(second), "output": str(first)}),
        json.dumps({"manifest": str(second), "output": str(picture)}),
        json.dumps({"manifest": str(second), "output": str(tmp_path / "first" / "story.mp4")}),
    ]), encoding="utf-8")
    assert main(["render", "--batch", str(batch), "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert "2 of 4 rendered" in err  # the first, and the last: beside, not over, a manifest
    assert err.count("which project 1 of this render reads") == 2
    assert "internal error" not in err
    assert first.read_bytes() == manifest_before
    assert picture.read_bytes() == picture_before
    assert (tmp_path / "out" / "first.mp4").is_file()
