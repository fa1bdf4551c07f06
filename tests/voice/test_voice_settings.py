"""settings.voice, the per-segment override and segments without a recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyreel.errors import ValidationFailed
from storyreel.model.load import project_from_dict
from storyreel.model.project import Voice
from storyreel.model.schema import manifest_schema
from storyreel.render.analysis import analyse_project


def test_a_manifest_of_pictures_and_text_gets_the_built_in_voice(tmp_path: Path) -> None:
    project = project_from_dict({"segments": [{"image": "a.png", "text": "Hello."}]},
                                base_dir=tmp_path)
    segment = project.segments[0]
    assert segment.audio is None
    voice = segment.voice_of(project.settings.voice)
    assert (voice.engine, voice.voice, voice.speed, voice.language) == ("hibari", None, 1.0, None)


def test_segment_override_changes_only_what_it_names(tmp_path: Path) -> None:
    project = project_from_dict({
        "segments": [{"image": "a.png", "text": "One.", "voice": {"speed": 1.4}},
                     {"image": "b.png", "text": "Two.", "voice": {"engine": "kokoro"}}],
        "settings": {"voice": {"voice": "heart", "speed": 0.9, "language": "en-us"}},
    }, base_dir=tmp_path)
    base = project.settings.voice
    first = project.segments[0].voice_of(base)
    second = project.segments[1].voice_of(base)
    assert (first.voice, first.speed, first.language) == ("heart", 1.4, "en-us")
    assert (second.engine, second.voice, second.speed) == ("kokoro", None, 0.9)


@pytest.mark.parametrize(("voice", "field"), [
    ({"speed": 3.0}, "settings.voice.speed"),
    ({"speed": 0.2}, "settings.voice.speed"),
    ({"engine": "festival"}, "settings.voice.engine"),
    ({"voice": ""}, "settings.voice.voice"),
    ({"pitch": 2}, "settings.voice.pitch"),
])
def test_bad_voice_settings_are_named(tmp_path: Path, voice: dict[str, object],
                                      field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        project_from_dict({"segments": [{"image": "a.png", "text": "x"}],
                           "settings": {"voice": voice}}, base_dir=tmp_path)
    assert [p.field for p in info.value.problems] == [field]


def test_model_paths_resolve_against_the_manifest(tmp_path: Path) -> None:
    voice = project_from_dict({"segments": [{"image": "a.png", "text": "x"}],
                               "settings": {"voice": {"engine": "piper",
                                                      "model": "voices/en.onnx"}}},
                              base_dir=tmp_path).settings.voice
    assert voice.model == tmp_path / "voices/en.onnx"


def test_schema_describes_the_voice() -> None:
    schema = manifest_schema()
    voice = schema["$defs"]["Voice"]["properties"]
    assert voice["speed"]["minimum"] == 0.5 and voice["speed"]["maximum"] == 2.0
    assert voice["engine"]["enum"] == ["hibari", "kokoro", "piper", "espeak"]
    segment = schema["$defs"]["Segment"]
    assert "audio" not in segment.get("required", [])
    assert Voice().engine == "hibari"


def test_analysis_names_a_segment_with_neither_recording_nor_text(tmp_path: Path) -> None:
    from media import write_solid

    write_solid(tmp_path / "a.png", (64, 36), (1, 2, 3))
    project = project_from_dict({"segments": [{"image": "a.png", "text": "Spoken later."},
                                              {"image": "a.png", "text": " "}]},
                                base_dir=tmp_path)
    problems = analyse_project(project).problems
    assert len(problems) == 1
    assert problems[0].segment == 2 and "neither a recording nor text" in problems[0].message
