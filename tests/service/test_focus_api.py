"""The studio's API for a segment's focus and a render's thumbnail."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from studiokit import Studio, png_bytes, wait_status, zip_bundle

from storyreel.service.options import build_manifest


def _segment(studio: Studio, pid: int) -> dict[str, Any]:
    return dict(studio.client.get(f"/api/projects/{pid}/").json()["segment_list"][0])


def test_focus_is_patched_with_if_match_validated_and_cleared_by_a_new_picture(
        studio: Studio) -> None:
    project = studio.ready()
    pid, seg = project["id"], project["segment_list"][0]
    url = f"/api/projects/{pid}/segments/{seg['id']}/"
    assert seg["focus"] is None
    changed = studio.client.patch(url, json={"focus": [0.25, 0.75]},
                                  headers={"If-Match": seg["etag"]})
    assert changed.status_code == 200 and changed.json()["focus"] == [0.25, 0.75]
    stale = studio.client.patch(url, json={"focus": [0.5, 0.5]},
                                headers={"If-Match": seg["etag"]})
    assert stale.status_code == 412
    for bad in ([1.5, 0.5], [0.5], "left"):
        assert studio.client.patch(url, json={"focus": bad}).status_code == 400
    rows = studio.app.state.studio.store.segments(pid)  # the manifest a render gets has it
    assert build_manifest("t", {}, rows)["segments"][0]["focus"] == [0.25, 0.75]
    # The picture's addresses change with the picture, not with its focus or text: the
    # page keeps what it has loaded.
    texted = studio.client.patch(url, json={"text": "Another line."})
    assert texted.status_code == 200
    assert changed.json()["image"] == texted.json()["image"] == seg["image"]
    # A new picture has its own focus to find, and new addresses.
    assert studio.upload(pid, seg["id"], "image", png_bytes()).status_code == 200
    fresh = _segment(studio, pid)
    assert fresh["focus"] is None
    assert fresh["image"]["url"] != seg["image"]["url"]
    assert fresh["image"]["thumbnail_url"] != seg["image"]["thumbnail_url"]
    cleared = studio.client.patch(url, json={"focus": None})
    assert cleared.status_code == 200 and cleared.json()["focus"] is None


def test_a_bundle_keeps_the_focus_its_manifest_gives_each_picture(studio: Studio) -> None:
    # Two segments share one picture file with different focus points; a third has none.
    manifest = {"title": "Shared", "segments": [
        {"image": "images/a.png", "text": "One.", "focus": [0.1, 0.2]},
        {"image": "images/a.png", "text": "Two.", "focus": [0.9, 0.8]},
        {"image": "images/b.png", "text": "Three."}]}
    files = {"story/images/a.png": png_bytes((96, 48)), "story/images/b.png": png_bytes()}
    response = studio.client.post("/api/projects/", content=zip_bundle(manifest, files),
                                  headers={"content-type": "application/zip"})
    assert response.status_code == 201, response.text
    listed = studio.client.get(f"/api/projects/{response.json()['id']}/").json()
    assert [s["focus"] for s in listed["segment_list"]] == [[0.1, 0.2], [0.9, 0.8], None]


def test_a_render_with_a_thumbnail_lists_it_with_the_video(studio: Studio) -> None:
    project = studio.ready(seconds=0.5)
    pid = project["id"]
    options = studio.client.patch(f"/api/projects/{pid}/",
                                  json={"settings": {"thumbnail": True}})
    assert options.status_code == 200, options.text
    assert studio.client.post(f"/api/projects/{pid}/render/",
                              json={"draft": True}).status_code == 202
    assert wait_status(studio.client, pid)["status"] == "completed"
    video = studio.client.get(f"/api/projects/{pid}/renders/").json()[0]
    assert video["thumbnail_url"] == f"/api/renders/{video['job_id']}/thumbnail.jpg"
    cover = studio.client.get(video["thumbnail_url"])
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(cover.content)) as im:
        assert im.size == (1280, 720)
