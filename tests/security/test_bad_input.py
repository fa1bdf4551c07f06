"""Absurd input gets a clear 4xx naming the problem: never a 500, a hang or a stored project
that can never render."""

from __future__ import annotations

import json
from typing import Any

import pytest
from studiokit import FakeRunner, Studio, png_bytes, zip_bundle

from storyreel.model.project import (
    MAX_CHAPTER_LENGTH,
    MAX_SEGMENTS,
    MAX_TEXT_LENGTH,
    MAX_TITLE_LENGTH,
)
from storyreel.service.importers import parse_text_blocks

DEEP = "[" * 100_000 + "]" * 100_000
LONE_SURROGATE = '{"title": "\\ud800", "segments": [{"text": "x"}]}'


@pytest.fixture
def studio(make_studio: Any) -> Studio:
    """The studio, failing the test on any server exception (the test client re-raises)."""
    return make_studio(runner=FakeRunner())  # type: ignore[no-any-return]


def _import(studio: Studio, data: bytes, how: str) -> Any:
    if how == "body":
        kind = "application/json" if data.lstrip()[:1] in (b"{", b"[") else "text/plain"
        return studio.client.post("/api/projects/", content=data, headers={"content-type": kind})
    if how == "file":
        return studio.client.post("/api/projects/", files={"file": ("p.bin", data, "x/y")})
    return studio.client.post("/api/projects/", content=data,
                              headers={"content-type": "application/octet-stream"})


# -- the text importer: linear time ------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "segment" + " " * 200_000 + "x",
    "#" * 50_000 + " " * 50_000 + "scene" + " " * 50_000 + "#" + " " * 50_000 + "x",
    "[ " * 50_000 + "part 1 " + ": " * 50_000,
    "text" + " " * 200_000 + "x",
    "-" * 200_000 + " x",
])
def test_text_import_of_pathological_lines_finishes(line: str) -> None:
    # With the former regular expressions the first line alone took hours (n^4 backtracking);
    # the suite's timeout would stop this test long before.
    parsed = parse_text_blocks(line + "\nThe story.\n")
    assert len(parsed.segments) >= 1


def test_pathological_text_through_the_api(studio: Studio) -> None:
    body = ("segment" + " " * 15_000 + "x\n\n").encode() * 20
    answer = _import(studio, body, "body")
    assert answer.status_code == 201, answer.text


# -- one set of bounds for every way in --------------------------------------------------------

def _too_large() -> dict[str, tuple[str, bytes]]:
    """Imports that break one bound each, as JSON, as text and as a zip bundle."""
    many = [{"text": f"Part {i}."} for i in range(MAX_SEGMENTS + 1)]
    bundle_many = {"segments": [{"image": "a.png", "audio": "a.wav"}] * (MAX_SEGMENTS + 1)}
    return {
        "json title": ("title", json.dumps({"title": "t" * 1_000_000,
                                            "segments": [{"text": "x"}]}).encode()),
        "json segments": ("segments", json.dumps({"segments": many}).encode()),
        "json text": ("text", json.dumps({"segments": [
            {"text": "w" * (MAX_TEXT_LENGTH + 1)}]}).encode()),
        "json chapter": ("chapter", json.dumps({"segments": [
            {"text": "x", "chapter": "c" * (MAX_CHAPTER_LENGTH + 1)}]}).encode()),
        "text title": ("title", b"Title: " + b"t" * (MAX_TITLE_LENGTH + 1) + b"\n\nOne."),
        "text segments": ("segments", "\n\n".join(
            f"Line {i}." for i in range(MAX_SEGMENTS + 1)).encode()),
        "text text": ("text", b"w" * (MAX_TEXT_LENGTH + 1)),
        "zip title": ("title", zip_bundle({"title": "t" * (MAX_TITLE_LENGTH + 1),
                                           "segments": [{"image": "a.png", "audio": "a.wav"}]},
                                          {})),
        "zip segments": ("segments", zip_bundle(bundle_many, {})),
    }


@pytest.mark.parametrize("case", sorted(_too_large()))
@pytest.mark.parametrize("how", ["body", "file"])
def test_imports_keep_the_models_bounds(studio: Studio, case: str, how: str) -> None:
    field, data = _too_large()[case]
    if how == "body" and case.startswith("zip"):
        how = "raw"
    answer = _import(studio, data, how)
    assert answer.status_code == 400, answer.text[:300]
    problems = answer.json().get("problems") or []
    assert any(field in (p.get("field") or "") for p in problems), problems[:3]
    assert studio.client.get("/api/projects/").json() == []


def test_a_project_cannot_grow_past_the_segment_bound(studio: Studio) -> None:
    full = studio.client.post("/api/projects/", json={
        "segments": [{"text": "x"}] * MAX_SEGMENTS})
    assert full.status_code == 201
    answer = studio.client.post(f"/api/projects/{full.json()['id']}/segments/", json={})
    assert answer.status_code == 400 and str(MAX_SEGMENTS) in answer.json()["detail"]
    assert full.json()["segments"] == MAX_SEGMENTS


# -- JSON the rest of the studio could not handle -------------------------------------------

@pytest.mark.parametrize("text", [LONE_SURROGATE, DEEP, '{"segments": [' + DEEP + "]}",
                                  '{"settings": ' + "{\"a\": " * 40 + "1" + "}" * 41])
@pytest.mark.parametrize("how", ["body", "file", "zip"])
def test_unusable_json_is_a_400_wherever_it_comes(studio: Studio, text: str, how: str) -> None:
    if how == "zip":
        answer = _import(studio, zip_bundle(text, {"story/a.png": png_bytes()}), "file")
    else:
        answer = _import(studio, text.encode(), how)
    assert answer.status_code == 400, answer.text[:300]
    detail = answer.json()["detail"]
    assert "nested" in detail or "Unicode" in detail, detail
    assert "damaged" not in detail
    assert studio.client.get("/api/projects/").json() == []


@pytest.mark.parametrize("body", [DEEP, '{"title": "' + "\\ud800" + '"}',
                                  '{"settings": ' + '{"a": ' * 5000 + "1" + "}" * 5001])
def test_deep_or_broken_json_in_other_requests_is_a_400(studio: Studio, body: str) -> None:
    project = studio.create()
    answer = studio.client.patch(f"/api/projects/{project['id']}/", content=body.encode(),
                                 headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text[:300]
    assert studio.client.get(f"/api/projects/{project['id']}/").json()["title"] == "Test story"


# -- numbers and ids -----------------------------------------------------------------------

@pytest.mark.parametrize("fps", ["1e400", "1e309", "-1e400", "1e999999999", "9" * 5000,
                                 "1/0", 1e308, 10**400, "nan", "inf"])
def test_absurd_frame_rates_are_refused(studio: Studio, fps: Any) -> None:
    value = str(fps) if isinstance(fps, int) else json.dumps(fps)  # 10**400 as a JSON number
    project = studio.create()
    created = studio.client.post("/api/projects/", content=f'{{"fps": {value}}}'.encode(),
                                 headers={"content-type": "application/json"})
    patched = studio.client.patch(f"/api/projects/{project['id']}/",
                                  content=f'{{"fps": {value}}}'.encode(),
                                  headers={"content-type": "application/json"})
    for answer in (created, patched):
        assert answer.status_code == 400, answer.text[:300]
        assert "fps" in answer.text
    assert len(studio.client.get("/api/projects/").json()) == 1


@pytest.mark.parametrize("number", [str(2**63), str(2**64), "9" * 30, "9" * 5000])
def test_ids_beyond_the_database_are_404(studio: Studio, number: str) -> None:
    project = studio.create()
    sid = project["segment_list"][0]["id"]
    paths = [("GET", f"/api/projects/{number}/"), ("PATCH", f"/api/projects/{number}/"),
             ("DELETE", f"/api/projects/{number}/"),
             ("GET", f"/api/projects/{number}/status/"),
             ("GET", f"/api/projects/{number}/events/"),
             ("GET", f"/api/projects/{project['id']}/segments/{number}/image/"),
             ("DELETE", f"/api/projects/{project['id']}/segments/{number}/"),
             ("POST", f"/api/projects/{number}/segments/{sid}/audio/"),
             ("GET", f"/api/renders/{number}/video/")]
    assert len(paths) == 9
    for method, path in paths:
        kwargs: dict[str, Any] = {"json": {}} if method == "PATCH" else {}
        answer = studio.client.request(method, path, **kwargs)
        assert answer.status_code == 404, (method, path, answer.status_code)


def test_events_of_a_missing_project_is_a_404_not_a_broken_stream(studio: Studio) -> None:
    answer = studio.client.get("/api/projects/12345/events/")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert "does not exist" in answer.json()["detail"]


def test_a_still_image_is_not_accepted_as_an_intro_clip(studio: Studio) -> None:
    project = studio.create()
    answer = studio.client.post(f"/api/projects/{project['id']}/assets/intro/",
                                files={"file": ("intro.png", png_bytes(), "video/mp4")})
    assert answer.status_code == 400 and "still image" in answer.json()["detail"]
    detail = studio.client.get(f"/api/projects/{project['id']}/").json()
    assert detail["options"]["settings"].get("intro") is None
    assert not list((studio.data_dir / "projects" / str(project["id"])).rglob("*.png"))
