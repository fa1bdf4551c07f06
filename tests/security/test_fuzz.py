"""Property-based fuzzing of every way a project comes in: the manifest loader, the StoryFlow
JSON and text importers and zip bundles. Any input gives a validated project or a
``ProjectError`` / ``ImportFailed`` with a message, never another exception.

Inputs are bounded in size; worst-case shapes that used to blow up (runs of spaces, ``#``
and digits around header words, deep nesting) are drawn on purpose.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from studiokit import FakeRunner, zip_bundle

from storyreel.errors import ProjectError
from storyreel.model.load import load_project, parse_json, project_from_dict
from storyreel.model.project import Project
from storyreel.service.importers import (
    ImportFailed,
    ParsedProject,
    check_directory,
    parse_storyflow,
    parse_text_blocks,
    read_bundle,
)

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=25)
paths = st.sampled_from(["a.png", "a.wav", "~", "~nobody/x.png", "~\udcff", "/", "/dev/null",
                         "../../etc/passwd", "", " ", "a\x00b", "\\\\server\\share", "."]) \
    | st.text(max_size=20)
numbers = st.sampled_from([0, 1, 30, 29.97, -1, 1e308, 2**63, "1e400", "30000/1001", "nan",
                           "9" * 40, True, None, "", [], {}]) | json_values
segments = st.fixed_dictionaries({}, optional={
    "image": paths, "audio": paths, "image_file": paths, "audio_file": paths,
    "text": st.text(max_size=60) | json_values, "text_content": st.text(max_size=60),
    "chapter": st.text(max_size=30) | json_values, "zoom": numbers,
    "direction": st.text(max_size=6),
    "subtitles": numbers, "crossfade": numbers, "sequence_index": numbers,
    "image_prompt": json_values,
})
setting_values = st.dictionaries(
    st.sampled_from(["preset", "gap", "ken_burns", "subtitles", "transitions", "music",
                     "loudness", "logo", "intro", "outro", "video_bitrate", "zzz"]),
    json_values | paths | st.dictionaries(st.sampled_from(["path", "font", "zoom", "volume",
                                                           "enabled", "size", "color"]),
                                          numbers | paths, max_size=3),
    max_size=4)
manifests = st.fixed_dictionaries({}, optional={
    "title": st.text(max_size=40) | json_values, "width": numbers, "height": numbers,
    "fps": numbers, "framerate": numbers, "resolution_width": numbers,
    "segments": st.lists(segments, max_size=4) | json_values, "settings": setting_values,
})
anything = manifests | json_values


def _message(exc: BaseException) -> str:
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} without a message"
    return text


@FUZZ
@given(data=anything)
def test_the_manifest_model_takes_anything(data: Any) -> None:
    try:
        project = project_from_dict(data, base_dir=Path("/fuzz"))
    except ProjectError as exc:
        _message(exc)
    else:
        assert isinstance(project, Project) and project.segments


@FUZZ
@given(data=anything, mutation=st.tuples(st.integers(0, 400), st.text(max_size=6)))
def test_manifest_text_takes_anything(data: Any, mutation: tuple[int, str]) -> None:
    text = json.dumps(data)
    at, inserted = mutation
    for candidate in (text, text[:at] + inserted + text[at:], text[:at]):
        try:
            project_from_dict(parse_json(candidate), base_dir=Path("/fuzz"))
        except ProjectError as exc:
            _message(exc)


@FUZZ
@given(raw=st.binary(max_size=300) | st.builds(lambda d: json.dumps(d).encode(), anything))
def test_a_manifest_file_holding_anything(tmp_path_factory: Any, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "story.json"
    path.write_bytes(raw)
    try:
        load_project(path)
    except ProjectError as exc:
        _message(exc)


header_words = st.sampled_from(["segment", "Scene", "PART", "section", "shot", "text", "Title",
                                "image prompt", "voice-over", "chapter", "#", "[", "]", ":",
                                "-", "---", "===", "***", "___", "1", "42", "#7", ".", ")"])
lines = st.lists(header_words | st.text(" \t#[]:-.0123456789", max_size=40)
                 | st.text(max_size=40), max_size=8).map(" ".join)


@FUZZ
@given(text=st.lists(lines, max_size=12).map("\n".join) | st.text(max_size=400))
def test_the_text_importer_takes_anything(text: str) -> None:
    try:
        parsed = parse_text_blocks(text)
    except ImportFailed as exc:
        _message(exc)
    else:
        assert isinstance(parsed, ParsedProject) and parsed.segments
        assert all(s["text"] or s["image_prompt"] for s in parsed.segments)


@FUZZ
@given(data=anything)
def test_the_storyflow_importer_takes_anything(data: Any) -> None:
    try:
        parsed = parse_storyflow(data)
    except ImportFailed as exc:
        _message(exc)
    else:
        assert isinstance(parsed.title, str) and parsed.title
        assert all(isinstance(s["text"], str) for s in parsed.segments)


members = st.dictionaries(st.sampled_from(["story/a.png", "story/a.wav", "a.png", "../x.wav",
                                           "story/images/", "__MACOSX/story.json", "b.json"]),
                          st.binary(max_size=40), max_size=4)


@FUZZ
@given(manifest=anything, files=members, name=st.sampled_from(
    ["story/story.json", "story.json", "x/y/project.json", "story/other.json"]))
def test_zip_bundles_take_anything(manifest: Any, files: dict[str, bytes], name: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, json.dumps(manifest))
        for member, data in files.items():
            archive.writestr(member, data)
    buffer.seek(0)
    try:
        check_directory(buffer)
        with zipfile.ZipFile(buffer) as opened:
            parsed = read_bundle(opened, 10_000_000)
    except ImportFailed as exc:
        _message(exc)
    else:
        assert len(parsed.media) == len(parsed.segments) > 0


@FUZZ
@given(raw=st.binary(max_size=400))
def test_zip_directory_check_takes_any_bytes(raw: bytes) -> None:
    for data in (raw, b"PK\x05\x06" + raw, raw + b"PK\x05\x06" + raw[:18],
                 raw + b"PK\x06\x07" + raw[:16] + b"PK\x05\x06" + b"\xff" * 18):
        try:
            check_directory(io.BytesIO(data))
        except ImportFailed as exc:
            _message(exc)


@settings(FUZZ, max_examples=60)
@given(body=st.builds(lambda d: json.dumps(d).encode(), anything) | st.binary(max_size=300)
       | st.lists(lines, max_size=6).map(lambda ls: "\n".join(ls).encode()),
       how=st.sampled_from(["json", "text", "file", "zip"]))
def test_the_studio_answers_any_import_with_201_or_400(make_studio: Any, body: bytes,
                                                        how: str) -> None:
    studio = _fuzz_studio(make_studio, FakeRunner)
    if how == "zip":
        answer = studio.client.post("/api/projects/", files={
            "file": ("b.zip", zip_bundle(body.decode("utf-8", "replace"), {}), "x/y")})
    elif how == "file":
        answer = studio.client.post("/api/projects/", files={"file": ("p", body, "x/y")})
    else:
        kind = "application/json" if how == "json" else "text/plain"
        answer = studio.client.post("/api/projects/", content=body,
                                    headers={"content-type": kind})
    assert answer.status_code in (201, 400), answer.text[:300]
    if answer.status_code == 400:
        assert answer.json()["detail"].strip()


_STUDIOS: dict[int, Any] = {}


def _fuzz_studio(make_studio: Any, runner: Any) -> Any:
    """One studio for all the examples of a test run (the fixture is made once per test)."""
    key = id(make_studio)
    if key not in _STUDIOS:
        _STUDIOS.clear()
        _STUDIOS[key] = make_studio(runner=runner())
    return _STUDIOS[key]


@settings(FUZZ, max_examples=80)
@example(patch={"settings": {"music": {"path": "\ud800.mp3"}}})
@example(patch={"settings": {"subtitles": {"font": "fonts/\udcff.ttf"}}})
@given(patch=st.fixed_dictionaries({}, optional={
    "title": st.text(max_size=20) | st.just("\ud800"), "width": numbers, "height": numbers,
    "fps": numbers, "settings": setting_values}))
def test_the_studio_answers_any_options_change_with_200_or_400(make_studio: Any,
                                                                patch: dict[str, Any]) -> None:
    studio = _fuzz_studio(make_studio, FakeRunner)
    project = studio.client.get("/api/projects/").json()
    pid = project[0]["id"] if project else studio.create()["id"]
    # json.dumps keeps lone surrogates as \\u escapes, as a hostile client would send them.
    answer = studio.client.patch(f"/api/projects/{pid}/", content=json.dumps(patch).encode(),
                                 headers={"content-type": "application/json"})
    assert answer.status_code in (200, 400), answer.text[:300]
    assert studio.client.get(f"/api/projects/{pid}/").status_code == 200
