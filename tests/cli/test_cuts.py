"""Cuts: --segments / --chapter render only those segments, with their own timing and captions."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from PIL import Image

import storyreel
from storyreel.cli import main
from storyreel.demo import write_speechlike_wav
from storyreel.media.sidecar import parse_srt
from storyreel.model.project import Thumbnail

CHAPTERS = {1: "Departure", 3: "The city", 5: "Home"}


def make_story(folder: Path, count: int = 6) -> Path:
    (folder / "media").mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(1, count + 1):
        Image.new("RGB", (120, 80), (30 * i, 90, 160)).save(folder / f"media/{i}.png")
        write_speechlike_wav(folder / f"media/{i}.wav", 0.4 + 0.1 * i, seed=i)
        item = {"image": f"media/{i}.png", "audio": f"media/{i}.wav",
                "text": f"Part number {i} of the story."}
        if i in CHAPTERS:
            item["chapter"] = CHAPTERS[i]
        items.append(item)
    manifest = folder / "story.json"
    manifest.write_text(json.dumps({
        "title": "Long Story", "width": 96, "height": 64, "fps": 25, "segments": items,
        "settings": {"preset": "ultrafast", "transitions": {"crossfade": 0.2},
                     "loudness": {"enabled": False}}}), encoding="utf-8")
    return manifest


def only(folder: Path, manifest: Path, numbers: list[int]) -> Path:
    """A manifest holding only segments ``numbers`` of ``manifest``, in its own folder's
    neighbour (media paths made absolute)."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["segments"] = [{**data["segments"][n - 1],
                         "image": str(manifest.parent / data["segments"][n - 1]["image"]),
                         "audio": str(manifest.parent / data["segments"][n - 1]["audio"])}
                        for n in numbers]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "only.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def frames_of(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_segments_render_like_a_manifest_of_only_them(tmp_path: Path) -> None:
    manifest = make_story(tmp_path / "story")
    assert main(["render", str(manifest), "--segments", "2-4", "-q"]) == 0
    cut = tmp_path / "story" / "output" / "long-story-segments-2-4.mp4"
    alone = storyreel.render(storyreel.load_project(only(tmp_path / "alone", manifest,
                                                         [2, 3, 4])),
                             tmp_path / "alone.mp4", cache=False)
    assert abs(frames_of(cut) - frames_of(alone.path)) <= 1
    whole = storyreel.render(storyreel.load_project(manifest), tmp_path / "whole.mp4")
    assert frames_of(cut) < whole.frames
    cues = parse_srt(cut.with_suffix(".srt").read_text(encoding="utf-8"))
    assert cues[0][0] < 0.5  # the cut's own timing: its first caption near 0
    assert cues[0][2].startswith("Part number 2")
    # Timed as a project of only those segments would be, not trimmed from the whole.
    assert cues == parse_srt(alone.path.with_suffix(".srt").read_text(encoding="utf-8"))


def test_a_chapter_renders_its_segments_and_keeps_its_marker(tmp_path: Path) -> None:
    manifest = make_story(tmp_path)
    project = storyreel.load_project(manifest)
    out = tmp_path / "city.mp4"
    assert main(["render", str(manifest), "--chapter", "the CITY", "-o", str(out), "-q"]) == 0
    cues = parse_srt(out.with_suffix(".srt").read_text(encoding="utf-8"))
    numbers = [c[2].split()[2] for c in cues if c[2].startswith("Part")]
    assert numbers == ["3", "4"] and cues[0][0] < 0.5
    assert [s.text for s in project.cut([3, 4]).segments] == [
        s.text for s in project.segments[2:4]]


@pytest.mark.parametrize(("flags", "needle"), [
    (["--segments", "5-9"], "5-9 lies outside the project (it has segments 1-6)"),
    (["--segments", "0"], "0 lies outside the project"),
    (["--segments", "two"], "is not a list of segments"),
    (["--chapter", "Nowhere"], "no chapter is called 'Nowhere'"),
])
def test_a_cut_the_project_lacks_is_one_line_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
        needle: str) -> None:
    manifest = make_story(tmp_path, count=6)
    assert main(["render", str(manifest), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "output").exists()


def test_segment_lists_read_as_written() -> None:
    from storyreel.model.cuts import segment_numbers

    assert segment_numbers("3", 6) == [3]
    assert segment_numbers("2-", 6) == [2, 3, 4, 5, 6]
    assert segment_numbers("-2", 6) == [1, 2]
    assert segment_numbers("1, 4-6,5", 6) == [1, 4, 5, 6]
    with pytest.raises(storyreel.ValidationFailed, match="runs backwards"):
        segment_numbers("4-2", 6)


def test_a_cut_keeps_the_project_s_folder_and_settings(tmp_path: Path) -> None:
    project = storyreel.load_project(make_story(tmp_path))
    part = project.cut([5, 2])
    assert [s.text for s in part.segments] == [project.segments[1].text,
                                                project.segments[4].text]
    assert part.base_dir == project.base_dir and part.settings == project.settings
    with pytest.raises(storyreel.ValidationFailed, match="outside the project"):
        project.cut([7])


def test_a_cut_s_cover_shows_the_same_segment_or_its_first(tmp_path: Path) -> None:
    manifest = make_story(tmp_path)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["settings"]["thumbnail"] = {"segment": 4, "title": "Four"}
    manifest.write_text(json.dumps(data), encoding="utf-8")
    project = storyreel.load_project(manifest)
    assert project.cut([3, 4]).settings.thumbnail == Thumbnail(segment=2, title="Four")
    cover = project.cut([1, 2]).settings.thumbnail
    assert cover is not None and cover.segment == 1
