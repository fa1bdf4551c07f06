"""The studio API: every route, every bad input, the 400/409 rules and the access rules."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.typing import NDArray
from PIL import Image
from studiokit import (
    BASE_URL,
    FakeRunner,
    Studio,
    png_bytes,
    wait_status,
    wav_bytes,
    zip_bundle,
)

from media import write_bomb_png, write_corrupt_wav
from storyreel.service import Limits, StudioConfigError, create_app, run_server
from storyreel.service.config import default_data_dir, is_loopback

# -- projects ---------------------------------------------------------------------------------


def test_create_list_read_update_delete(studio: Studio) -> None:
    client = studio.client
    assert client.get("/api/projects/").json() == []
    project = studio.create(segments=2, title="The Lost City")
    assert project["title"] == "The Lost City"
    assert project["status"] == "new"
    assert [s["number"] for s in project["segment_list"]] == [1, 2]
    # A segment with text has its narration: the voice speaks it when the video renders.
    assert project["segment_list"][0]["missing"] == ["image"]
    assert project["segment_list"][0]["narration"] == "pending"
    assert project["options"]["width"] == 320 and project["options"]["fps"] == 25

    listed = client.get("/api/projects/").json()
    assert [(p["id"], p["status"], p["segments"]) for p in listed] == [(project["id"], "new", 2)]
    assert listed[0]["thumbnail_url"] is None

    changed = client.patch(f"/api/projects/{project['id']}/", json={
        "title": "Renamed", "settings": {"gap": 0.5, "ken_burns": {"zoom": 1.3}}}).json()
    assert changed["title"] == "Renamed"
    assert changed["options"]["settings"]["gap"] == 0.5
    assert changed["options"]["settings"]["ken_burns"]["zoom"] == 1.3
    assert changed["options"]["settings"]["preset"] == "ultrafast"  # merged, not replaced
    again = client.patch(f"/api/projects/{project['id']}/",
                         json={"settings": {"ken_burns": {"direction": "in"}}}).json()
    assert again["options"]["settings"]["ken_burns"] == {**changed["options"]["settings"][
        "ken_burns"], "direction": "in"}

    folder = studio.data_dir / "projects" / str(project["id"])
    assert (folder / "images").is_dir() and (folder / "output").is_dir()
    assert client.delete(f"/api/projects/{project['id']}/").status_code == 204
    assert not folder.exists()
    assert client.get(f"/api/projects/{project['id']}/").status_code == 404
    assert client.delete(f"/api/projects/{project['id']}/").status_code == 404


@pytest.mark.parametrize(("patch", "field"), [
    ({"width": 321}, "width"),
    ({"height": 10}, "height"),
    ({"fps": 500}, "fps"),
    ({"settings": {"preset": "warp-speed"}}, "settings.preset"),
    ({"settings": {"ken_burns": {"zoom": 9}}}, "settings.ken_burns.zoom"),
    ({"settings": {"no_such_option": 1}}, "settings.no_such_option"),
])
def test_invalid_options_are_refused_with_the_field(studio: Studio, patch: dict[str, object],
                                                    field: str) -> None:
    project = studio.create()
    response = studio.client.patch(f"/api/projects/{project['id']}/", json=patch)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert [p["field"] for p in body["problems"]] == [field]
    unchanged = studio.client.get(f"/api/projects/{project['id']}/").json()
    assert unchanged["options"] == project["options"]


def test_bad_request_bodies_get_clear_400s(studio: Studio) -> None:
    client = studio.client
    bad_json = client.post("/api/projects/", content=b"{nope",
                           headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["detail"]
    assert client.post("/api/projects/", json=[1, 2]).status_code == 400
    too_long = client.post("/api/projects/", json={"title": "x" * 301})
    assert too_long.status_code == 400 and too_long.json()["problems"][0]["field"] == "title"
    project = studio.create()
    unknown = client.patch(f"/api/projects/{project['id']}/", json={"colour": "red"})
    assert unknown.status_code == 400 and "colour" in unknown.json()["detail"].lower()
    empty_title = client.patch(f"/api/projects/{project['id']}/", json={"title": "  "})
    assert empty_title.status_code == 400
    assert client.get("/api/projects/abc/").status_code in (400, 404)


def test_options_schema_and_docs(studio: Studio) -> None:
    schema = studio.client.get("/api/schema/options/").json()
    assert set(schema["properties"]) == {"width", "height", "fps", "settings"}
    assert "RenderSettings" in schema["$defs"]
    openapi = studio.client.get("/openapi.json").json()
    assert "/api/projects/{project_id}/render/" in openapi["paths"]
    docs = studio.client.get("/docs")
    assert docs.status_code == 200
    # The docs page works offline: its scripts and styles come from the studio itself.
    assets = [part for part in docs.text.split('"') if part.endswith((".js", ".css"))]
    assert assets and all(asset.startswith("/") for asset in assets)
    assert all(studio.client.get(asset).status_code == 200 for asset in assets)


def test_page_and_static_files_are_served(studio: Studio) -> None:
    page = studio.client.get("/")
    assert page.status_code == 200 and "storyreel studio" in page.text
    assert studio.client.get("/static/app.js").status_code == 200
    assert studio.client.get("/static/style.css").status_code == 200


# -- imports ----------------------------------------------------------------------------------


def test_storyflow_json_import(studio: Studio) -> None:
    export = {"title": "Aurelia", "segments": [
        {"text_content": "Second.", "image_prompt": "a river", "sequence_index": 2},
        {"text_content": "First.", "image_prompt": "a valley", "sequence_index": 1},
    ]}
    response = studio.client.post("/api/projects/", json=export)
    assert response.status_code == 201
    segments = response.json()["segment_list"]
    assert [(s["text"], s["image_prompt"]) for s in segments] == [
        ("First.", "a valley"), ("Second.", "a river")]
    as_file = studio.client.post("/api/projects/", files={
        "file": ("export.txt", json.dumps(export).encode(), "text/plain")})
    assert as_file.status_code == 201 and as_file.json()["title"] == "Aurelia"


def test_text_block_import(studio: Studio) -> None:
    text = ("Title: The Keeper\n\nSegment 1\nText: The old keeper sang.\n"
            "Image prompt: an old man by a fire\n\nSegment 2\nText: Night fell\n"
            "over the city.\nImage prompt: stars above ruins\n")
    response = studio.client.post("/api/projects/", content=text.encode(),
                                  headers={"content-type": "text/plain"})
    assert response.status_code == 201
    project = response.json()
    assert project["title"] == "The Keeper"
    assert [(s["text"], s["image_prompt"]) for s in project["segment_list"]] == [
        ("The old keeper sang.", "an old man by a fire"),
        ("Night fell over the city.", "stars above ruins")]
    plain = studio.client.post("/api/projects/", files={
        "file": ("story.txt", b"First paragraph.\n\nSecond paragraph.\n", "text/plain")})
    assert [s["text"] for s in plain.json()["segment_list"]] == [
        "First paragraph.", "Second paragraph."]
    empty = studio.client.post("/api/projects/", content=b"\n\n",
                               headers={"content-type": "text/plain"})
    assert empty.status_code == 400 and "No segments" in empty.json()["detail"]


def test_zip_bundle_import(studio: Studio, tmp_path: Path) -> None:
    manifest = {"title": "Bundled", "width": 320, "height": 180,
                "settings": {"preset": "ultrafast"}, "segments": [
                    {"image": "images/a.png", "audio": "audio/a.wav", "text": "One."},
                    {"image": "images/b.jpg", "audio": "audio/b.wav", "text": "Two."}]}
    data = zip_bundle(manifest, {
        "story/images/a.png": png_bytes((640, 360)),
        "story/images/b.jpg": png_bytes((400, 300), fmt="JPEG"),
        "story/audio/a.wav": wav_bytes(tmp_path, 0.6),
        "story/audio/b.wav": wav_bytes(tmp_path, 0.8, seed=1)})
    response = studio.client.post("/api/projects/", files={
        "file": ("bundle.zip", data, "application/zip")})
    assert response.status_code == 201, response.text
    project = response.json()
    assert project["title"] == "Bundled" and project["options"]["width"] == 320
    first, second = project["segment_list"]
    assert (first["image"]["width"], first["image"]["height"]) == (640, 360)
    assert second["audio"]["duration"] == pytest.approx(0.8, abs=0.01)
    assert first["missing"] == [] and second["missing"] == []
    raw = studio.client.post("/api/projects/", content=data,
                             headers={"content-type": "application/zip"})
    assert raw.status_code == 201


def test_zip_bundle_problems_are_listed_and_nothing_is_kept(studio: Studio,
                                                            tmp_path: Path) -> None:
    manifest = {"segments": [
        {"image": "../../etc/passwd", "audio": "/etc/hostname"},
        {"image": "images/bad.png", "audio": "audio/ok.wav"}]}
    data = zip_bundle(manifest, {"story/images/bad.png": b"not a png",
                                        "story/audio/ok.wav": wav_bytes(tmp_path, 0.5)})
    response = studio.client.post("/api/projects/", files={"file": ("b.zip", data, "x/y")})
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert {(p["segment"], p["field"]) for p in problems} == {(1, "image"), (1, "audio")}
    only_bad_media = zip_bundle({"segments": [
        {"image": "images/bad.png", "audio": "audio/ok.wav"}]},
        {"story/images/bad.png": b"not a png", "story/audio/ok.wav": wav_bytes(tmp_path, 0.5)})
    response = studio.client.post("/api/projects/", files={"file": ("b.zip", only_bad_media,
                                                                    "application/zip")})
    assert response.status_code == 400
    assert response.json()["problems"][0]["field"] == "image"
    assert studio.client.get("/api/projects/").json() == []
    assert list((studio.data_dir / "projects").iterdir()) == []
    no_manifest = io.BytesIO()
    with zipfile.ZipFile(no_manifest, "w") as archive:
        archive.writestr("readme.txt", "hello")
    response = studio.client.post("/api/projects/", files={
        "file": ("b.zip", no_manifest.getvalue(), "application/zip")})
    assert response.status_code == 400 and "manifest" in response.json()["detail"]
    broken = studio.client.post("/api/projects/", files={
        "file": ("b.zip", b"PK\x03\x04broken", "application/zip")})
    assert broken.status_code == 400


# -- segments ---------------------------------------------------------------------------------


def test_segments_add_edit_move_reorder_delete(studio: Studio) -> None:
    client = studio.client
    project = studio.create(segments=2)
    pid = project["id"]
    a, b = (s["id"] for s in project["segment_list"])
    added = client.post(f"/api/projects/{pid}/segments/", json={"text": "Intro", "position": 1})
    assert added.status_code == 201 and added.json()["number"] == 1
    c = added.json()["id"]
    edited = client.patch(f"/api/projects/{pid}/segments/{a}/",
                          json={"text": "Edited", "chapter": "One"}).json()
    assert (edited["text"], edited["chapter"]) == ("Edited", "One")
    moved = client.patch(f"/api/projects/{pid}/segments/{c}/", json={"position": 3}).json()
    assert moved["number"] == 3
    order = client.put(f"/api/projects/{pid}/segments/order/", json={"order": [b, c, a]})
    assert [s["id"] for s in order.json()] == [b, c, a]
    bad = client.put(f"/api/projects/{pid}/segments/order/", json={"order": [b, b, a]})
    assert bad.status_code == 400
    assert client.delete(f"/api/projects/{pid}/segments/{c}/").status_code == 204
    ids = [s["id"] for s in client.get(f"/api/projects/{pid}/").json()["segment_list"]]
    assert ids == [b, a]
    other = studio.create()
    assert client.patch(f"/api/projects/{other['id']}/segments/{a}/",
                        json={"text": "x"}).status_code == 404
    assert client.patch(f"/api/projects/{pid}/segments/{a}/",
                        json={"text": "x" * 20_001}).status_code == 400


# -- uploads ----------------------------------------------------------------------------------


def test_upload_answers_with_size_and_duration(studio: Studio, tmp_path: Path) -> None:
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    image = studio.upload(pid, sid, "image", png_bytes((800, 450)), name="../../evil.png")
    assert image.status_code == 200
    assert image.json()["width"] == 800 and image.json()["height"] == 450
    audio = studio.upload(pid, sid, "audio", wav_bytes(tmp_path, 1.25), name="/etc/passwd")
    assert audio.status_code == 200
    assert audio.json()["duration"] == pytest.approx(1.25, abs=0.001)
    folder = studio.data_dir / "projects" / str(pid)
    names = sorted(p.name for p in (folder / "images").iterdir())
    assert len(names) == 2 and all(n.startswith(f"seg-{sid}-") for n in names)
    assert not (studio.data_dir / "evil.png").exists()
    segment = studio.client.get(f"/api/projects/{pid}/").json()["segment_list"][0]
    for url in (segment["image"]["url"], segment["image"]["thumbnail_url"],
                segment["audio"]["url"]):
        assert studio.client.get(url).status_code == 200
    partial = studio.client.get(segment["audio"]["url"], headers={"Range": "bytes=0-9"})
    assert partial.status_code == 206 and len(partial.content) == 10


def test_upload_type_is_decided_by_content(studio: Studio, tmp_path: Path) -> None:
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    wav = wav_bytes(tmp_path, 0.5)
    as_image = studio.upload(pid, sid, "image", wav, name="photo.png")
    assert as_image.status_code == 400 and "not an image" in as_image.json()["detail"]
    as_audio = studio.upload(pid, sid, "audio", png_bytes(), name="voice.wav")
    assert as_audio.status_code == 400 and "narration" in as_audio.json()["detail"]
    text = studio.upload(pid, sid, "image", b"<script>alert(1)</script>", name="x.jpg")
    assert text.status_code == 400
    empty = studio.upload(pid, sid, "audio", b"", name="x.wav")
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    corrupt = write_corrupt_wav(tmp_path / "corrupt.wav").read_bytes()
    assert studio.upload(pid, sid, "audio", corrupt).status_code == 400
    bomb = write_bomb_png(tmp_path / "bomb.png").read_bytes()
    refused = studio.upload(pid, sid, "image", bomb)
    assert refused.status_code == 400 and "too large" in refused.json()["detail"]
    folder = studio.data_dir / "projects" / str(pid)
    assert list((folder / "images").iterdir()) == [] and list((folder / "audio").iterdir()) == []


def test_audio_length_limits(make_studio: Callable[..., Studio], tmp_path: Path) -> None:
    studio = make_studio(limits=Limits(audio_seconds=1.0, min_audio_seconds=0.2))
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    long = studio.upload(pid, sid, "audio", wav_bytes(tmp_path, 1.5))
    assert long.status_code == 400 and "longer" in long.json()["detail"]
    short = studio.upload(pid, sid, "audio", wav_bytes(tmp_path, 0.1))
    assert short.status_code == 400 and "too short" in short.json()["detail"]


def test_failed_upload_leaves_the_previous_file(studio: Studio, tmp_path: Path) -> None:
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    assert studio.upload(pid, sid, "image", png_bytes((300, 200))).status_code == 200
    before = studio.client.get(f"/api/projects/{pid}/").json()["segment_list"][0]["image"]
    original = studio.client.get(before["url"]).content
    assert studio.upload(pid, sid, "image", b"garbage" * 100).status_code == 400
    after = studio.client.get(f"/api/projects/{pid}/").json()["segment_list"][0]["image"]
    assert after == before and studio.client.get(after["url"]).content == original
    replaced = studio.upload(pid, sid, "image", png_bytes((500, 300)))
    assert replaced.json()["width"] == 500
    images = list((studio.data_dir / "projects" / str(pid) / "images").iterdir())
    assert len(images) == 2  # the new still and its thumbnail; the old pair is gone


def test_size_caps_answer_413_before_the_body_is_read(make_studio: Callable[..., Studio],
                                                      tmp_path: Path) -> None:
    studio = make_studio(limits=Limits(image_bytes=20_000, json_bytes=5_000))
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    url = f"/api/projects/{pid}/segments/{sid}/image/"
    declared = studio.client.post(url, content=b"x" * 30_000,
                                  headers={"content-type": "multipart/form-data; boundary=b"})
    assert declared.status_code == 413 and "limited to" in declared.json()["detail"]
    consumed = []

    def chunks() -> object:
        yield (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
               b"Content-Type: image/png\r\n\r\n")
        for _ in range(100):
            consumed.append(1)
            yield b"y" * 1_000
        yield b"\r\n--b--\r\n"

    streamed = studio.client.post(url, content=chunks(),
                                  headers={"content-type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413
    big_json = studio.client.patch(f"/api/projects/{pid}/", content=b" " * 6_000,
                                   headers={"content-type": "application/json"})
    assert big_json.status_code == 413
    ok = studio.upload(pid, sid, "image", png_bytes((64, 64)))
    assert ok.status_code == 200


def _raw_request(port: int, head: bytes, body_chunks: list[bytes]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            sock.sendall(chunk)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65536):
                answer += data
        return answer


def test_413_arrives_while_the_body_is_still_being_sent(live_server: Callable[..., Any]) -> None:
    server = live_server(limits=Limits(image_bytes=50_000), runner=FakeRunner(hold=False))
    with httpx.Client(base_url=server.url) as client:
        project = client.post("/api/projects/", json={"segments": [{}]}).json()
    path = f"/api/projects/{project['id']}/segments/{project['segment_list'][0]['id']}/image/"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n").encode()
    # A declared size over the cap: refused with no body sent at all.
    answer = _raw_request(server.port, head + b"Content-Length: 10000000000\r\n\r\n", [])
    assert answer.startswith(b"HTTP/1.1 413") and b"limited to" in answer
    # A chunked body: refused once past the cap, while the body has not ended.
    chunk = b"y" * 10_000
    part = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n')
    chunks = [f"{len(part):x}\r\n".encode() + part + b"\r\n"]
    chunks += [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * 6
    answer = _raw_request(server.port, head + b"Transfer-Encoding: chunked\r\n\r\n", chunks)
    assert answer.startswith(b"HTTP/1.1 413")


def test_uploads_need_an_existing_segment(studio: Studio) -> None:
    project = studio.create()
    assert studio.upload(project["id"], 999, "image", png_bytes()).status_code == 404
    assert studio.upload(999, 1, "image", png_bytes()).status_code == 404
    missing = studio.client.post(f"/api/projects/{project['id']}/segments/"
                                 f"{project['segment_list'][0]['id']}/image/")
    assert missing.status_code == 400
    no_media = studio.client.get(f"/api/projects/{project['id']}/segments/"
                                 f"{project['segment_list'][0]['id']}/audio/")
    assert no_media.status_code == 404


# -- render rules -----------------------------------------------------------------------------


def test_render_400_lists_what_each_segment_lacks(studio: Studio, tmp_path: Path) -> None:
    project = studio.create(segments=3)
    pid = project["id"]
    first, second, third = (s["id"] for s in project["segment_list"])
    # Without a recording or text the third segment has nothing to say.
    assert studio.client.patch(f"/api/projects/{pid}/segments/{third}/",
                               json={"text": ""}).status_code == 200
    studio.upload(pid, first, "image", png_bytes())
    studio.upload(pid, first, "audio", wav_bytes(tmp_path, 0.5))
    studio.upload(pid, second, "audio", wav_bytes(tmp_path, 0.5))
    response = studio.client.post(f"/api/projects/{pid}/render/")
    assert response.status_code == 400
    problems = [(p["segment"], p["field"]) for p in response.json()["problems"]]
    assert problems == [(2, "image"), (3, "image"), (3, "audio")]
    assert "3 things to fix" in response.json()["detail"]
    empty = studio.create(segments=0)
    assert studio.client.post(f"/api/projects/{empty['id']}/render/").status_code == 400
    assert studio.client.post("/api/projects/999/render/").status_code == 404
    draft = studio.client.get(f"/api/projects/{pid}/status/").json()
    assert draft["status"] == "new" and draft["video_url"] is None


def test_render_409_while_running_and_media_locked(make_studio: Callable[..., Studio]) -> None:
    runner = FakeRunner()
    studio = make_studio(runner=runner)
    project = studio.ready()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    accepted = studio.client.post(f"/api/projects/{pid}/render/")
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    assert runner.started.wait(10)
    again = studio.client.post(f"/api/projects/{pid}/render/")
    assert again.status_code == 409 and again.json()["job_id"] == job_id
    locked = studio.upload(pid, sid, "image", png_bytes())
    assert locked.status_code == 409
    assert studio.client.delete(f"/api/projects/{pid}/segments/{sid}/").status_code == 409
    text_edit = studio.client.patch(f"/api/projects/{pid}/segments/{sid}/", json={"text": "ok"})
    assert text_edit.status_code == 200
    runner.release.set()


def test_render_all_queues_every_ready_project_and_says_why_others_wait(
        make_studio: Callable[..., Studio]) -> None:
    runner = FakeRunner(hold=False)
    studio = make_studio(runner=runner)
    first, second = studio.ready()["id"], studio.ready()["id"]
    waiting = studio.create(segments=1)["id"]
    answer = studio.client.post("/api/renders/all/")
    assert answer.status_code == 202
    assert sorted(answer.json()["queued"]) == [first, second]
    assert list(answer.json()["skipped"]) == [str(waiting)]
    assert "cannot be made yet" in answer.json()["skipped"][str(waiting)]
    for pid in (first, second):
        assert wait_status(studio.client, pid)["status"] == "completed"
    assert sorted(spec.job_id for spec in runner.specs) == [1, 2]


# -- access -----------------------------------------------------------------------------------


def test_token_is_required_on_every_request(tmp_path: Path) -> None:
    app = create_app(tmp_path / "data", token="s3cret", runner=FakeRunner(hold=False))
    with TestClient(app, base_url="http://studio.example:8000") as client:
        assert client.get("/api/projects/").status_code == 401
        assert client.get("/").status_code == 401
        assert client.get("/api/projects/", headers={
            "Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/projects/", headers={
            "Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/api/projects/?token=s3cret").status_code == 200
        login = client.get("/?token=s3cret", follow_redirects=False)
        assert login.status_code == 303 and "storyreel_token" in login.headers["set-cookie"]
        client.cookies.set("storyreel_token", "s3cret")
        assert client.get("/").status_code == 200


def test_without_token_only_loopback_names_and_same_origin(tmp_path: Path) -> None:
    app = create_app(tmp_path / "data", runner=FakeRunner(hold=False))
    with TestClient(app, base_url="http://attacker.example") as client:
        assert client.get("/api/projects/").status_code == 400  # Starlette's host check
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get("/api/projects/", headers={"host": "localhost:8000"}).status_code == 200
        cross = client.post("/api/projects/", json={"title": "x"},
                            headers={"origin": "http://evil.example"})
        assert cross.status_code == 403
        same = client.post("/api/projects/", json={"title": "x"},
                           headers={"origin": "http://127.0.0.1"})
        assert same.status_code == 201


def test_run_server_refuses_public_address_without_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORYREEL_TOKEN", raising=False)
    with pytest.raises(StudioConfigError, match="token"):
        run_server(host="0.0.0.0", port=0, data_dir=tmp_path)
    with pytest.raises(ValueError, match="token"):
        run_server(host="192.168.1.20", data_dir=tmp_path)
    with pytest.raises(StudioConfigError, match="max jobs"):
        run_server(host="127.0.0.1", data_dir=tmp_path, max_jobs=0)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


def test_default_data_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("STORYREEL_DATA_DIR", str(tmp_path / "here"))
    assert default_data_dir() == tmp_path / "here"
    monkeypatch.delenv("STORYREEL_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "storyreel"


# -- file settings ----------------------------------------------------------------------------


def _clip(path: Path, frames: int = 10) -> bytes:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(
                np.full((64, 64, 3), i * 20, dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path.read_bytes()


def test_file_settings_are_uploaded_checked_and_removed(studio: Studio, tmp_path: Path) -> None:
    client = studio.client
    project = studio.create()
    pid = project["id"]
    schema = client.get("/api/schema/options/").json()
    marks = {name: prop.get("x-storyreel-asset") for name, prop in
             schema["$defs"]["RenderSettings"]["properties"].items()}
    assert marks["music"] == "audio" and marks["logo"] == "image"

    music = client.post(f"/api/projects/{pid}/assets/music/",
                        files={"file": ("../song.wav", wav_bytes(tmp_path, 0.5))})
    assert music.status_code == 200, music.text
    path = music.json()["options"]["settings"]["music"]["path"]
    assert path.startswith("assets/music-") and path.endswith(".wav")
    louder = client.patch(f"/api/projects/{pid}/", json={"settings": {"music": {"volume": -6}}})
    assert louder.json()["options"]["settings"]["music"] == {
        **music.json()["options"]["settings"]["music"], "volume": -6.0}
    assert client.get(f"/api/projects/{pid}/assets/music/").status_code == 200

    wrong = client.post(f"/api/projects/{pid}/assets/music/",
                        files={"file": ("a.wav", png_bytes())})
    assert wrong.status_code == 400
    assert client.get(f"/api/projects/{pid}/").json()["options"]["settings"]["music"]["path"] == \
        path
    logo = client.post(f"/api/projects/{pid}/assets/logo/", files={"file": ("l.png", png_bytes())})
    assert logo.status_code == 200
    intro = client.post(f"/api/projects/{pid}/assets/intro/",
                        files={"file": ("i.mp4", _clip(tmp_path / "intro.mp4"))})
    assert intro.status_code == 200 and intro.json()["options"]["settings"]["intro"]["path"]
    not_clip = client.post(f"/api/projects/{pid}/assets/outro/",
                           files={"file": ("o.mp4", wav_bytes(tmp_path, 0.5))})
    assert not_clip.status_code == 400 and "video" in not_clip.json()["detail"]
    assert client.post(f"/api/projects/{pid}/assets/wallpaper/",
                       files={"file": ("x.png", png_bytes())}).status_code == 404
    outside = client.patch(f"/api/projects/{pid}/",
                           json={"settings": {"music": {"path": "/etc/hostname"}}})
    assert outside.status_code == 400

    removed = client.delete(f"/api/projects/{pid}/assets/music/")
    assert removed.json()["options"]["settings"]["music"] is None
    assert not (studio.data_dir / "projects" / str(pid) / path).exists()
    assert client.get(f"/api/projects/{pid}/assets/music/").status_code == 404


def test_zip_bundle_brings_its_music(studio: Studio, tmp_path: Path) -> None:
    manifest = {"title": "With music", "settings": {"music": {"path": "bed.wav", "volume": -20}},
                "segments": [{"image": "a.png", "audio": "a.wav"}]}
    data = zip_bundle(manifest, {"story/a.png": png_bytes(),
                                        "story/a.wav": wav_bytes(tmp_path, 0.5),
                                        "story/bed.wav": wav_bytes(tmp_path, 2.0, seed=3)})
    response = studio.client.post("/api/projects/", files={"file": ("b.zip", data)})
    assert response.status_code == 201, response.text
    music = response.json()["options"]["settings"]["music"]
    assert music["volume"] == -20 and music["path"].startswith("assets/music-")
    missing = zip_bundle({**manifest, "settings": {"music": {"path": "gone.wav"}}},
                      {"story/a.png": png_bytes(), "story/a.wav": wav_bytes(tmp_path, 0.5)})
    refused = studio.client.post("/api/projects/", files={"file": ("b.zip", missing)})
    assert refused.status_code == 400
    assert refused.json()["problems"][0]["field"] == "settings.music"


def test_one_server_per_data_folder(make_studio: Callable[..., Studio], tmp_path: Path) -> None:
    first = make_studio(runner=FakeRunner(hold=False))
    second = TestClient(create_app(first.data_dir), base_url=BASE_URL)
    with pytest.raises(StudioConfigError, match="already using the data folder"):
        second.__enter__()
    with pytest.raises(StudioConfigError, match="already using"):
        run_server(data_dir=first.data_dir, port=0)
    first.client.__exit__(None, None, None)
    with TestClient(create_app(first.data_dir), base_url=BASE_URL) as third:
        assert third.get("/api/projects/").status_code == 200


def test_public_names() -> None:
    import storyreel.service as service

    assert service.__all__ == sorted(service.__all__)
    assert {"create_app", "run_server", "StudioConfigError"} <= set(service.__all__)
    assert all(hasattr(service, name) for name in service.__all__)


@pytest.mark.parametrize("name", ["../../evil.png", "/etc/cron.d/x.png", "a\u202egnp.exe",
                                  "\uff0e\uff0e\uff0fdots.png", "CON.png", "x" * 300 + ".png"])
def test_client_file_names_never_reach_the_disk(studio: Studio, name: str) -> None:
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    assert studio.upload(pid, sid, "image", png_bytes(), name=name).status_code == 200
    stored = [p.name for p in (studio.data_dir / "projects" / str(pid)).rglob("*")
              if p.is_file()]
    assert len(stored) == 2
    assert all(n.startswith(f"seg-{sid}-") and n.isascii() for n in stored)


def test_image_pixel_cap(make_studio: Callable[..., Studio]) -> None:
    studio = make_studio(limits=Limits(image_pixels=20_000))
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    refused = studio.upload(pid, sid, "image", png_bytes((200, 101)))
    assert refused.status_code == 400 and "megapixels" in refused.json()["detail"]
    assert studio.upload(pid, sid, "image", png_bytes((200, 100))).status_code == 200


# -- caption styles, platforms and the engine's preview ------------------------------------


@pytest.mark.parametrize(("settings", "field"), [
    ({"subtitles": {"highlight_color": "not-a-colour"}}, "settings.subtitles.highlight_color"),
    ({"platform": "myspace"}, "settings.platform"),
    ({"subtitles": {"enabled": False, "style": "karaoke"}}, "settings.subtitles"),
])
def test_bad_caption_settings_are_a_400_naming_the_field(studio: Studio, settings: dict[str, Any],
                                                         field: str) -> None:
    project = studio.create()
    response = studio.client.patch(f"/api/projects/{project['id']}/", json={"settings": settings})
    assert response.status_code == 400
    assert [p["field"] for p in response.json()["problems"]] == [field]


def test_choosing_a_platform_brings_its_size_and_rate(studio: Studio) -> None:
    project = studio.create()
    assert (project["options"]["width"], project["options"]["height"]) == (320, 180)
    tall = studio.client.patch(f"/api/projects/{project['id']}/",
                               json={"settings": {"platform": "tiktok"}}).json()["options"]
    assert (tall["width"], tall["height"], tall["fps"]) == (1080, 1920, 30)
    own = studio.client.patch(f"/api/projects/{project['id']}/",
                              json={"width": 360, "height": 640}).json()["options"]
    assert (own["width"], own["height"], own["settings"]["platform"]) == (360, 640, "tiktok")


def preview_pixels(studio: Studio, project_id: int) -> NDArray[np.uint8]:
    response = studio.client.get(f"/api/projects/{project_id}/preview.png")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_the_preview_is_a_frame_drawn_by_the_engine_in_the_chosen_style(studio: Studio) -> None:
    project = studio.create(segments=0)
    studio.client.post(f"/api/projects/{project['id']}/segments/",
                       json={"text": "Every spoken word lights up."})
    project = studio.client.get(f"/api/projects/{project['id']}/").json()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    assert studio.upload(pid, sid, "image", png_bytes((480, 270), (60, 60, 60)),
                         "a.png").status_code == 200
    plain = preview_pixels(studio, pid)
    assert plain.shape == (180, 320, 3)
    red = {"subtitles": {"style": "word", "highlight_color": "#FF0000", "size": 0.09}}
    studio.client.patch(f"/api/projects/{pid}/", json={"settings": red})
    styled = preview_pixels(studio, pid)
    lit = (styled[:, :, 0] > 170) & (styled[:, :, 1] < 90) & (styled[:, :, 2] < 90)
    assert lit.sum() > 30  # the spoken word, in the highlight colour
    assert not ((plain[:, :, 0] > 170) & (plain[:, :, 1] < 90)).any()
    background = np.abs(styled.astype(int) - 60).max(axis=2) < 12
    assert background[:40].all()  # the still itself, untouched above the caption
    studio.client.patch(f"/api/projects/{pid}/", json={"settings": {"platform": "shorts"},
                                                        "width": 270, "height": 480})
    tall = preview_pixels(studio, pid)
    assert tall.shape == (480, 270, 3)
    ink = np.nonzero(np.abs(tall.astype(int) - 60).max(axis=2) > 40)
    assert ink[0].size > 30
    assert ink[0].max() < 480 * 0.8 and ink[1].max() < 270 * 0.86  # above and left of the UI


def test_the_preview_works_before_any_media_is_added(studio: Studio) -> None:
    project = studio.create(segments=0)
    pixels = preview_pixels(studio, project["id"])
    assert pixels.shape == (180, 320, 3)
    assert (pixels.min(axis=2) > 230).sum() > 30  # the sample caption's white letters
    assert studio.client.get("/api/projects/999/preview.png").status_code == 404


def _frame(studio: Studio, pid: int, sid: int, at: str) -> NDArray[np.uint8]:
    response = studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png?at={at}")
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_a_segment_preview_shows_the_crop_and_motion_before_rendering(studio: Studio) -> None:
    project = studio.create(segments=1, settings={"subtitles": {"enabled": False},
                                                  "ken_burns": {"zoom": 1.5, "pan": False}})
    pid, sid = project["id"], project["segment_list"][0]["id"]
    assert studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png").status_code == 404
    # A portrait photo: red top third, green middle, blue bottom third.
    photo = Image.new("RGB", (300, 900), (0, 200, 0))
    photo.paste((220, 0, 0), (0, 0, 300, 300))
    photo.paste((0, 0, 220), (0, 600, 300, 900))
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    assert studio.upload(pid, sid, "image", buffer.getvalue(), "tall.png").status_code == 200
    start, end = _frame(studio, pid, sid, "start"), _frame(studio, pid, sid, "end")
    assert start.shape == end.shape == (180, 320, 3)
    # Cover-cropped to 16:9, only the green middle of the tall photo is in frame.
    green = (start[:, :, 1] > 150) & (start[:, :, 0] < 80) & (start[:, :, 2] < 80)
    assert green.mean() > 0.95
    # Stripes show the motion: the first segment zooms in, so its last frame differs.
    stripes = Image.new("RGB", (640, 360), (0, 0, 0))
    for x in range(0, 640, 40):
        stripes.paste((255, 255, 255), (x, 0, x + 20, 360))
    buffer = io.BytesIO()
    stripes.save(buffer, "PNG")
    assert studio.upload(pid, sid, "image", buffer.getvalue(), "s.png").status_code == 200
    start, end = _frame(studio, pid, sid, "start"), _frame(studio, pid, sid, "end")
    assert np.abs(start.astype(int) - end.astype(int)).mean() > 20  # it moved
    assert studio.client.get(
        f"/api/projects/{pid}/segments/{sid}/preview.png?at=middle").status_code == 400


def test_the_sample_project_is_ready_to_render(studio: Studio) -> None:
    response = studio.client.post("/api/projects/sample/")
    assert response.status_code == 201, response.text
    project = response.json()
    assert project["title"] == "The Lost City of Aurelia"
    segments = project["segment_list"]
    assert len(segments) == 6
    # Pictures and text: the voice speaks each segment (or Generate narration does first).
    assert all(s["image"] and s["text"] and not s["missing"] for s in segments)
    assert {s["narration"] for s in segments} == {"pending"}
    assert project["options"]["settings"]["music"]["path"].startswith("assets/")
    assert studio.client.get(f"/api/projects/{project['id']}/assets/music/").status_code == 200


def test_problems_are_in_a_creators_words(studio: Studio) -> None:
    project = studio.create()
    answer = studio.client.patch(f"/api/projects/{project['id']}/",
                                 json={"settings": {"transitions": {"crossfade": -1}}})
    assert answer.status_code == 400
    problems = answer.json()["problems"]
    assert len(problems) == 1
    assert (problems[0]["label"], problems[0]["message"]) == ("Crossfade", "must be 0 or more")
    odd = studio.client.patch(f"/api/projects/{project['id']}/", json={"width": 361})
    message = odd.json()["problems"][0]["message"]
    assert "odd" in message and "H.264" not in message and "yuv" not in message
    words = studio.client.get("/api/words/").json()
    assert words["phases"]["loudness"] == "Evening out the sound"
    assert [group["group"] for group in words["options"]][:2] == ["Format", "Captions"]
