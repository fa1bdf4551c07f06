"""The project model: manifest format, StoryFlow exports, defaults and bounds."""

from __future__ import annotations

import json
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import storyreel
from media import write_manifest
from storyreel import ManifestError, Project, ValidationFailed
from storyreel.model import parse_fps, project_from_dict


def seg(i: int = 1, **extra: Any) -> dict[str, Any]:
    return {"image": f"images/{i:02d}.jpg", "audio": f"audio/{i:02d}.wav", "text": f"Part {i}",
            **extra}


def test_defaults_are_1080p30_medium_8mbps(tmp_path: Path) -> None:
    project = storyreel.load_project(write_manifest(tmp_path, [seg()]))
    assert (project.width, project.height, project.fps) == (1920, 1080, Fraction(30))
    assert project.settings.preset == "medium"
    assert project.settings.video_bitrate == 8_000_000
    assert 0.2 <= project.settings.gap <= 0.5
    assert project.settings.ken_burns.zoom > 1.0
    assert project.settings.ken_burns.direction != "none"


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    folder = tmp_path / "stories" / "aurelia"
    manifest = write_manifest(folder, [seg(1), {"image": str(tmp_path / "abs.png"),
                                                "audio": "../shared/a.wav"}])
    monkeypatch.chdir(tmp_path)
    project = storyreel.load_project(manifest.relative_to(tmp_path))
    assert project.segments[0].image == folder.resolve() / "images/01.jpg"
    assert project.segments[0].audio == folder.resolve() / "audio/01.wav"
    assert project.segments[1].image == tmp_path / "abs.png"
    assert project.segments[1].audio.resolve() == (tmp_path / "stories/shared/a.wav").resolve()
    assert project.base_dir == folder.resolve()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (24, Fraction(24)),
        (25, Fraction(25)),
        (30, Fraction(30)),
        (50, Fraction(50)),
        (60, Fraction(60)),
        (29.97, Fraction(30000, 1001)),
        ("29.97", Fraction(30000, 1001)),
        ("30000/1001", Fraction(30000, 1001)),
        (23.976, Fraction(24000, 1001)),
        ("24000/1001", Fraction(24000, 1001)),
        (59.94, Fraction(60000, 1001)),
        ("25", Fraction(25)),
        (30.0, Fraction(30)),
    ],
)
def test_frame_rates_users_meet(tmp_path: Path, given: object, expected: Fraction) -> None:
    project = storyreel.load_project(write_manifest(tmp_path, [seg()], fps=given))
    assert project.fps == expected
    assert isinstance(project.fps, Fraction)
    assert parse_fps(given) == expected


@pytest.mark.parametrize("bad", [0, -30, 1000, "fast", "30/0", None, True, [30], ""])
def test_bad_frame_rate_is_a_clear_problem(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        storyreel.load_project(write_manifest(tmp_path, [seg()], fps=bad))
    (problem,) = info.value.problems
    assert problem.field == "fps"
    assert problem.segment is None
    assert problem.message


def test_storyflow_export_loads(tmp_path: Path) -> None:
    segments: list[dict[str, Any]] = [
        {"sequence_index": 2, "text_content": "Third", "image_file": "c.png",
         "audio_file": "c.wav", "image_prompt": "a city at dusk"},
        {"sequence_index": 0, "text_content": "First", "image_file": "a.png",
         "audio_file": "a.wav", "image_prompt": "a valley at dawn", "id": 17},
        {"sequence_index": 1, "text_content": None, "image_file": "b.png",
         "audio_file": "b.wav", "image_prompt": "a river"},
    ]
    manifest = write_manifest(tmp_path, segments, title="Aurelia", resolution_width=1280,
                              resolution_height=720, framerate="29.97", created_by="StoryFlow")
    project = storyreel.load_project(manifest)
    assert (project.width, project.height) == (1280, 720)
    assert project.fps == Fraction(30000, 1001)
    assert [s.text for s in project.segments] == ["First", "", "Third"]
    assert [s.image.name for s in project.segments] == ["a.png", "b.png", "c.png"]
    assert [s.audio for s in project.segments] == [tmp_path.resolve() / n
                                                    for n in ("a.wav", "b.wav", "c.wav")]
    first = project.segments[0]
    assert first.model_extra is not None
    assert first.model_extra["image_prompt"] == "a valley at dawn"


def test_storyflow_sequence_index_as_numeric_strings(tmp_path: Path) -> None:
    segments = [{"sequence_index": "10", "image_file": "b.png", "audio_file": "b.wav"},
                {"sequence_index": "9", "image_file": "a.png", "audio_file": "a.wav"}]
    project = storyreel.load_project(write_manifest(tmp_path, segments))
    assert [s.image.name for s in project.segments] == ["a.png", "b.png"]


def test_every_manifest_problem_is_listed_with_1_based_segments(tmp_path: Path) -> None:
    segments: list[dict[str, Any]] = [seg(1), {"audio": "x.wav", "video": "v.mp4", "image": "i"},
                                      seg(3, zoom=7),
                                      {"image": "", "audio": "y.wav"}]
    manifest = write_manifest(tmp_path, segments, width=1921, height=1080, fps="fast")
    with pytest.raises(ValidationFailed) as info:
        storyreel.load_project(manifest)
    found = {(p.segment, p.field) for p in info.value.problems}
    assert found == {(None, "width"), (None, "fps"), (2, "video"), (3, "zoom"), (4, "image")}
    width = next(p for p in info.value.problems if p.field == "width")
    assert "odd" in width.message and "1920" in width.message
    text = str(info.value)
    assert "and 4 more" in text


@pytest.mark.parametrize(("width", "height"), [(1921, 1080), (1280, 719), (129, 73)])
def test_odd_sizes_are_refused_with_a_clear_message(tmp_path: Path, width: int, height: int
                                                    ) -> None:
    with pytest.raises(ValidationFailed) as info:
        storyreel.load_project(write_manifest(tmp_path, [seg()], width=width, height=height))
    assert info.value.problems
    for problem in info.value.problems:
        assert problem.field in ("width", "height")
        assert "odd" in problem.message and "even" in problem.message


@pytest.mark.parametrize(("width", "height"), [(0, 1080), (32, 32), (100_000, 1080), (-2, 4)])
def test_impossible_sizes_are_refused(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(ValidationFailed):
        storyreel.load_project(write_manifest(tmp_path, [seg()], width=width, height=height))


def test_no_segments(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as info:
        storyreel.load_project(write_manifest(tmp_path, []))
    (problem,) = info.value.problems
    assert problem.field == "segments"
    assert "no segments" in problem.message


def test_missing_segments_key(tmp_path: Path) -> None:
    path = tmp_path / "story.json"
    path.write_text('{"title": "Nothing"}', encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        storyreel.load_project(path)
    assert [p.field for p in info.value.problems] == ["segments"]


@pytest.mark.parametrize(
    ("content", "words"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), ("", "not valid JSON")],
)
def test_malformed_manifest(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "story.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        storyreel.load_project(path)
    assert words in str(info.value)


def test_missing_manifest_and_folder_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        storyreel.load_project(tmp_path / "nope.json")
    with pytest.raises(ManifestError, match="folder"):
        storyreel.load_project(tmp_path)


def test_manifest_with_bom_and_unicode(tmp_path: Path) -> None:
    folder = tmp_path / "histoires été"
    folder.mkdir()
    data = {"title": "  Ünïcødé — 物語 🌅 ", "segments": [
        {"image": "画像/01.png", "audio": "son/voix 01.wav", "text": "Il était une fois… 🐉"}]}
    path = folder / "récit.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(data, ensure_ascii=False).encode("utf-8"))
    project = storyreel.load_project(path)
    assert project.title == "Ünïcødé — 物語 🌅"
    assert project.segments[0].image == folder.resolve() / "画像" / "01.png"
    assert project.segments[0].text == "Il était une fois… 🐉"


def test_unknown_top_level_and_setting_fields(tmp_path: Path) -> None:
    # Unknown project fields (exports carry many) are kept; unknown render settings are typos.
    project = storyreel.load_project(write_manifest(tmp_path, [seg()], author="Ann"))
    assert project.model_extra == {"author": "Ann"}
    with pytest.raises(ValidationFailed) as info:
        storyreel.load_project(write_manifest(tmp_path, [seg()], settings={"presett": "fast"}))
    assert info.value.problems[0].field == "settings.presett"


def test_settings_and_per_segment_motion(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path, [seg(1, zoom=1.3, direction="out"), seg(2, direction="none")],
        settings={"preset": "veryfast", "gap": 0.5,
                  "ken_burns": {"zoom": 1.1, "direction": "in", "pan": False}},
    )
    project = storyreel.load_project(manifest)
    assert project.settings.preset == "veryfast"
    assert project.settings.gap == 0.5
    assert project.settings.ken_burns.zoom == 1.1
    assert project.settings.ken_burns.pan is False
    assert (project.segments[0].zoom, project.segments[0].direction) == (1.3, "out")
    assert project.segments[1].direction == "none"


@pytest.mark.parametrize("settings", [{"preset": "warp"}, {"gap": -1}, {"ken_burns": {"zoom": 0.5}},
                                      {"video_bitrate": 10}, {"ken_burns": {"direction": "up"}}])
def test_bad_settings_are_problems(tmp_path: Path, settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as info:
        storyreel.load_project(write_manifest(tmp_path, [seg()], settings=settings))
    assert all(p.field and p.field.startswith("settings.") for p in info.value.problems)


def test_project_is_frozen_and_round_trips(tmp_path: Path) -> None:
    project = storyreel.load_project(write_manifest(tmp_path, [seg()], fps="30000/1001"))
    with pytest.raises(ValueError):
        project.width = 640  # type: ignore[misc]
    dumped = project.model_dump(mode="json")
    assert dumped["fps"] == "30000/1001"
    again = project_from_dict(json.loads(json.dumps(dumped)), base_dir=tmp_path)
    assert again.fps == project.fps
    assert again.segments == project.segments


def test_project_from_dict_refuses_non_objects() -> None:
    with pytest.raises(ManifestError):
        project_from_dict([{"image": "a", "audio": "b"}])


def test_json_schema_ships_with_the_package() -> None:
    schema_dir = resources.files("storyreel") / "schema"
    files = [f for f in schema_dir.iterdir() if f.name.endswith(".json")]
    assert files, "the package should ship a JSON Schema for the manifest"
    schemas = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    assert any("segments" in s.get("properties", {}) for s in schemas)


def test_json_schema_matches_the_model() -> None:
    schema = Project.model_json_schema()
    assert "segments" in schema["required"]
    fps = schema["properties"]["fps"]
    assert "anyOf" in fps
    json.dumps(schema)


def test_caption_style_platform_and_safe_area_bounds() -> None:
    base: dict[str, Any] = {"segments": [{"image": "a.png", "audio": "a.wav"}]}
    for settings, field in (
        ({"safe_area": {"top": 0.4, "bottom": 0.45}}, "settings.safe_area"),
        ({"platform": "vimeo"}, "settings.platform"),
        ({"subtitles": {"style": "pop", "enabled": False}}, "settings.subtitles"),
        ({"subtitles": {"highlight_color": "#12"}}, "settings.subtitles.highlight_color"),
        ({"subtitles": {"max_lines": 3}}, "settings.subtitles.max_lines"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            project_from_dict({**base, "settings": settings})
        assert [p.field for p in caught.value.problems] == [field], settings
