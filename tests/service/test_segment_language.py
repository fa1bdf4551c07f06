"""A segment's own language through the studio's API: stored, normalised, in the manifest,
and drawn by the segment's preview."""

from __future__ import annotations

from studiokit import Studio, png_bytes

from storyreel.service.options import build_manifest

HAN = "今天直接回家，骨头很痛。"  # noqa: RUF001  (Japanese and Chinese forms differ)


def _create(studio: Studio, segments: list[dict[str, str]]) -> dict[str, object]:
    created = studio.client.post("/api/projects/", json={"title": "Languages",
                                                          "segments": segments})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _segment_path(project: dict[str, object], index: int) -> str:
    segments = project["segment_list"]
    assert isinstance(segments, list)
    return f"/api/projects/{project['id']}/segments/{segments[index]['id']}/"


def test_a_segment_keeps_its_own_language(studio: Studio) -> None:
    project = _create(studio, [{"text": HAN}, {"text": HAN, "language": "JA"}])
    segments = project["segment_list"]
    assert isinstance(segments, list)
    assert [s["language"] for s in segments] == [None, "ja"]
    first = _segment_path(project, 0)
    changed = studio.client.patch(first, json={"language": "zh_tw"})
    assert changed.status_code == 200 and changed.json()["language"] == "zh-TW"
    refused = studio.client.patch(first, json={"language": "klingon"})
    assert refused.status_code in (400, 422) and "klingon" in refused.text
    rows = studio.app.state.studio.store.segments(int(str(project["id"])))
    manifest = build_manifest("t", {}, rows)
    assert [s.get("language") for s in manifest["segments"]] == ["zh-TW", "ja"]
    cleared = studio.client.patch(first, json={"language": None})
    assert cleared.status_code == 200 and cleared.json()["language"] is None


def test_a_bad_language_in_a_new_project_is_refused_with_its_value_named(
        studio: Studio) -> None:
    refused = studio.client.post("/api/projects/", json={
        "title": "x", "segments": [{"text": "one"}, {"text": "two", "language": "xx-yy"}]})
    assert refused.status_code in (400, 422)
    assert "xx-yy" in refused.text and "segments.1.language" in refused.text
    added = studio.client.post(f"/api/projects/{_create(studio, [{'text': 'a'}])['id']}"
                               "/segments/", json={"text": "b", "language": "he"})
    assert added.status_code == 201 and added.json()["language"] == "he"


def test_the_segment_preview_draws_in_its_language(studio: Studio) -> None:
    project = _create(studio, [{"text": HAN}])
    path = _segment_path(project, 0)
    picture = studio.upload(int(str(project["id"])), int(path.rstrip("/").rsplit("/", 1)[1]),
                            "image", png_bytes())
    assert picture.status_code == 200
    chinese = studio.client.get(f"{path}preview.png")
    assert chinese.status_code == 200
    assert studio.client.patch(path, json={"language": "ja"}).status_code == 200
    japanese = studio.client.get(f"{path}preview.png")
    assert japanese.status_code == 200 and japanese.content != chinese.content
