"""Many projects in one command: carry on after a failure, summary, exit code."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from test_cli import make_project

from storyreel.cli import main
from storyreel.cli.batch import read_batch
from storyreel.errors import ManifestError


def _frames(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, sum(1 for _ in container.decode(stream))


def test_batch_with_a_broken_project_renders_the_others_and_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_project(tmp_path / "good")
    other = make_project(tmp_path / "other", segments=1)
    make_project(tmp_path / "broken")
    (tmp_path / "broken/media/1.png").unlink()
    batch = tmp_path / "week.jsonl"
    batch.write_text("\n".join([
        "# this week's videos",
        json.dumps({"manifest": "good/story.json", "output": "out/good.mp4",
                    "width": 128, "height": 72}),
        "broken/story.json",
        "",
        json.dumps({"manifest": str(other), "output": str(tmp_path / "out/other.mp4")}),
    ]), encoding="utf-8")

    assert main(["render", "--batch", str(batch), "--no-cache"]) == 1

    err = capsys.readouterr().err
    assert _frames(tmp_path / "out/good.mp4") == (128, 51)  # two segments, a crossfade
    assert _frames(tmp_path / "out/other.mp4") == (160, 23)
    assert not (tmp_path / "broken/output").exists()
    assert "2 of 3 rendered" in err
    assert "FAILED" in err and "1.png" in err
    assert err.index("Project 1 of 3") < err.index("failed: ") < err.index("Project 3 of 3")
    assert good.is_file()


def test_several_manifests_on_the_command_line_all_succeed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = make_project(tmp_path / "a", segments=1)
    second = make_project(tmp_path / "b", segments=1)
    assert main(["render", str(first), str(second), "--preset", "ultrafast"]) == 0
    outputs = sorted(tmp_path.glob("*/output/*.mp4"))
    assert [p.parent.parent.name for p in outputs] == ["a", "b"]
    assert [_frames(p)[1] for p in outputs] == [23, 23]
    assert "2 of 2 rendered" in capsys.readouterr().err


def test_one_output_for_many_projects_is_a_usage_error(tmp_path: Path) -> None:
    first = make_project(tmp_path / "a", segments=1)
    assert main(["render", str(first), str(first), "-o", str(tmp_path / "x.mp4")]) == 2
    assert not (tmp_path / "x.mp4").exists()


def test_batch_file_errors_name_the_line(tmp_path: Path) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text('a.json\n{"output": "x.mp4"}\n', encoding="utf-8")
    with pytest.raises(ManifestError, match=r"b\.jsonl:2"):
        read_batch(batch)
    batch.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="lists no projects"):
        read_batch(batch)
    assert main(["render", "--batch", str(tmp_path / "missing.txt")]) == 2
