"""``--platform a,b,c`` on the command line: one video each, named by platform; clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import pytest
from rich.console import Console
from test_cli import make_project

from storyreel.cli import main
from storyreel.cli.bar import ProgressBar
from storyreel.render.progress import Progress


def size_of(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return context.width, context.height


def test_several_platforms_write_a_video_each(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path)
    out = tmp_path / "Zürich.mp4"
    assert main(["render", str(manifest), "-o", str(out), "--platform", "youtube, shorts",
                 "--size", "320x180", "--no-cache"]) == 0
    assert size_of(tmp_path / "Zürich-youtube.mp4") == (320, 180)
    assert size_of(tmp_path / "Zürich-shorts.mp4") == (180, 320)
    assert not out.exists()
    for name in ("youtube", "shorts"):
        assert "Part 1" in (tmp_path / f"Zürich-{name}.srt").read_text(encoding="utf-8")
    err = capsys.readouterr().err
    assert "2 videos:" in err and "Zürich-shorts.mp4 (180x320" in err


@pytest.mark.parametrize(
    ("flags", "settings", "needle"),
    [(["--platform", "youtube,myspace"], {},
      "settings.platforms.1: must be 'youtube', 'shorts', 'tiktok', 'reels' or 'square'"),
     ([], {"platform": "shorts", "platforms": ["youtube", "square"]},
      "give platform (one video) or platforms (one video each), not both"),
     ([], {"platforms": ["square", "square"]}, "platforms lists square more than once")],
)
def test_bad_platform_lists_are_one_line_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
        settings: dict[str, object], needle: str) -> None:
    manifest = make_project(tmp_path, settings={"preset": "ultrafast", **settings})
    assert main(["render", str(manifest), "-q", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err
    assert not (tmp_path / "output").exists()


def test_one_platform_on_the_command_line_replaces_the_manifests_list(tmp_path: Path) -> None:
    manifest = make_project(tmp_path, settings={"preset": "ultrafast",
                                                "platforms": ["youtube", "square"]})
    out = tmp_path / "one.mp4"
    assert main(["render", str(manifest), "-o", str(out), "-q", "--platform", "square",
                 "--size", "96x96", "--no-cache"]) == 0
    assert size_of(out) == (96, 96)
    assert sorted(p.name for p in tmp_path.glob("one*.mp4")) == ["one.mp4"]
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert data["settings"]["platforms"] == ["youtube", "square"]  # the manifest is untouched


def test_the_bar_shows_every_video() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with ProgressBar(console) as bar:
        bar(Progress("analyse", 2, 2, message="Checking media..."))
        for index, name in enumerate(("youtube", "shorts", "square")):
            bar(Progress("export", 0, 40, message="Exporting final MP4...", output=name,
                         output_index=index, outputs=3))
            bar(Progress("export", 40, 40, rate=50.0, message="Exporting final MP4...",
                         output=name, output_index=index, outputs=3))
    shown = screen.getvalue()
    for number, name in enumerate(("youtube", "shorts", "square"), 1):
        assert f"({name} {number}/3)" in shown


def test_a_video_that_cannot_be_written_is_named_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path)
    (tmp_path / "out-square.mp4").mkdir()
    code = main(["render", str(manifest), "-o", str(tmp_path / "out.mp4"), "-q",
                 "--platform", "youtube,square", "--size", "160x90", "--no-cache"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "the square video failed: output path is a folder" in err
    assert not (tmp_path / "out-youtube.mp4").exists()  # checked before anything is made


def test_validate_names_each_platforms_size(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path, settings={"platforms": ["youtube", "reels"]})
    assert main(["validate", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "youtube 170x96, reels 96x170 @ 25 fps" in out  # the shorter side of 160x96
