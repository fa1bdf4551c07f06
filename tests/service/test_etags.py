"""HTTP's concurrency control in the studio API: ETags, If-Match, 412, and no lost updates."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from studiokit import LiveServer, Studio, png_bytes, wav_bytes

from storyreel.service.etags import parse_if_match
from storyreel.service.store import Store

STRONG = re.compile(r'^"[\x21\x23-\x7e]+"$')


def _project(studio: Studio, project_id: int) -> httpx.Response:
    return studio.client.get(f"/api/projects/{project_id}/")


def _segment_etag(studio: Studio, project_id: int, segment_id: int) -> str:
    segments = _project(studio, project_id).json()["segment_list"]
    return str(next(s["etag"] for s in segments if s["id"] == segment_id))


# -- what the tags cover --------------------------------------------------------------------


def test_every_answer_carries_a_strong_etag_equal_to_its_body(studio: Studio) -> None:
    created = studio.client.post("/api/projects/", json={"title": "Tags", "segments": [
        {"text": "one"}, {"text": "two"}]})
    project = created.json()
    assert STRONG.match(created.headers["etag"]) and created.headers["etag"] == project["etag"]
    read = _project(studio, project["id"])
    assert read.headers["etag"] == read.json()["etag"] == project["etag"]
    tags = [s["etag"] for s in read.json()["segment_list"]]
    assert all(STRONG.match(tag) for tag in tags) and len({*tags, project["etag"]}) == 3

    sid = project["segment_list"][0]["id"]
    edited = studio.client.patch(f"/api/projects/{project['id']}/segments/{sid}/",
                                 json={"text": "uno"})
    assert edited.headers["etag"] == edited.json()["etag"] != tags[0]
    added = studio.client.post(f"/api/projects/{project['id']}/segments/", json={"text": "x"})
    assert added.status_code == 201 and added.headers["etag"] == added.json()["etag"]
    uploaded = studio.upload(project["id"], sid, "image", png_bytes())
    assert uploaded.headers["etag"] == uploaded.json()["segment"]["etag"] != edited.json()["etag"]
    patched = studio.client.patch(f"/api/projects/{project['id']}/", json={"title": "T2"})
    assert patched.headers["etag"] == patched.json()["etag"]


def test_the_project_tag_covers_its_fields_and_order_not_segment_contents(
        studio: Studio) -> None:
    project = studio.create(segments=3)
    pid, ids = project["id"], [s["id"] for s in project["segment_list"]]
    base = f"/api/projects/{pid}"

    def tag() -> str:
        return str(_project(studio, pid).headers["etag"])

    seen = [tag()]
    assert project["etag"] == seen[0]
    # A segment's contents (text, picture) leave the project's tag alone...
    studio.client.patch(f"{base}/segments/{ids[0]}/", json={"text": "Changed words."})
    studio.upload(pid, ids[1], "image", png_bytes())
    assert tag() == seen[-1]
    # ...its own fields, its list of segments and their order change it.
    changes: list[Callable[[], httpx.Response]] = [
        lambda: studio.client.patch(f"{base}/", json={"title": "New title"}),
        lambda: studio.client.patch(f"{base}/", json={"settings": {"gap": 0.6}}),
        lambda: studio.client.put(f"{base}/segments/order/", json={"order": ids[::-1]}),
        lambda: studio.client.patch(f"{base}/segments/{ids[0]}/", json={"position": 2}),
        lambda: studio.client.post(f"{base}/segments/", json={"text": "Four."}),
        lambda: studio.client.delete(f"{base}/segments/{ids[2]}/"),
    ]
    for change in changes:
        assert change().is_success
        seen.append(tag())
    assert len(set(seen)) == len(seen)


def test_a_segment_tag_ignores_its_place_and_the_other_segments(studio: Studio) -> None:
    project = studio.create(segments=3)
    pid, ids = project["id"], [s["id"] for s in project["segment_list"]]
    before = _segment_etag(studio, pid, ids[1])
    base = f"/api/projects/{pid}"
    studio.client.patch(f"{base}/segments/{ids[0]}/", json={"text": "Other words."})
    studio.client.put(f"{base}/segments/order/", json={"order": ids[::-1]})
    studio.client.delete(f"{base}/segments/{ids[2]}/")
    studio.client.patch(f"{base}/", json={"settings": {"gap": 0.9}})
    assert _segment_etag(studio, pid, ids[1]) == before
    studio.client.patch(f"{base}/segments/{ids[1]}/", json={"chapter": "Part two"})
    after_chapter = _segment_etag(studio, pid, ids[1])
    studio.upload(pid, ids[1], "audio", wav_bytes(studio.media, 0.5))
    assert len({before, after_chapter, _segment_etag(studio, pid, ids[1])}) == 3


# -- If-Match on every write route -----------------------------------------------------------


def _writes(studio: Studio, tmp: Path) -> dict[str, tuple[str, Callable[..., httpx.Response]]]:
    """Each write route: which resource its If-Match names, and a call making the write."""
    wav = wav_bytes(tmp, 0.5)

    def send(method: str, path: str, **kwargs: Any) -> Callable[..., httpx.Response]:
        return lambda pid, sid, ids, headers: studio.client.request(
            method, path.format(pid=pid, sid=sid), headers=headers, **kwargs)

    def upload(kind: str, data: bytes) -> Callable[..., httpx.Response]:
        return lambda pid, sid, ids, headers: studio.client.post(
            f"/api/projects/{pid}/segments/{sid}/{kind}/", headers=headers,
            files={"file": ("f.bin", data, "application/octet-stream")})

    def order(pid: int, sid: int, ids: list[int], headers: dict[str, str]) -> httpx.Response:
        return studio.client.put(f"/api/projects/{pid}/segments/order/", headers=headers,
                                 json={"order": ids[::-1]})

    return {
        "patch project": ("project", send("PATCH", "/api/projects/{pid}/",
                                          json={"title": "Mine", "settings": {"gap": 1.1}})),
        "delete project": ("project", send("DELETE", "/api/projects/{pid}/")),
        "add segment": ("project", send("POST", "/api/projects/{pid}/segments/",
                                        json={"text": "Added."})),
        "reorder": ("project", order),
        "patch segment": ("segment", send("PATCH", "/api/projects/{pid}/segments/{sid}/",
                                          json={"text": "Mine.", "position": 2})),
        "delete segment": ("segment", send("DELETE", "/api/projects/{pid}/segments/{sid}/")),
        "upload image": ("segment", upload("image", png_bytes())),
        "upload audio": ("segment", upload("audio", wav)),
    }


ROUTES = ["patch project", "delete project", "add segment", "reorder", "patch segment",
          "delete segment", "upload image", "upload audio"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_stale_if_match_gets_412_changes_nothing_and_shows_the_current_state(
        studio: Studio, tmp_path: Path, route: str) -> None:
    names, write = _writes(studio, tmp_path)[route]
    studio.create(segments=10)  # ids no longer equal to numbers
    project = studio.create(segments=2)
    pid, ids = project["id"], [s["id"] for s in project["segment_list"]]
    base = f"/api/projects/{pid}"
    old = project["etag"] if names == "project" else project["segment_list"][0]["etag"]
    # Another window changes the same resource after this one read it.
    if names == "project":
        assert studio.client.patch(f"{base}/", json={"title": "Theirs"}).is_success
    else:
        assert studio.client.patch(f"{base}/segments/{ids[0]}/",
                                   json={"text": "Their words."}).is_success
    before = _project(studio, pid).json()
    files = sorted(p.relative_to(studio.data_dir) for p in studio.data_dir.rglob("*")
                   if p.is_file() and p.suffix not in (".db", ".db-wal", ".db-shm"))

    answer = write(pid, ids[0], ids, {"If-Match": old})

    assert answer.status_code == 412, answer.text
    body = answer.json()
    after = _project(studio, pid).json()
    assert after == before
    assert sorted(p.relative_to(studio.data_dir) for p in studio.data_dir.rglob("*")
                  if p.is_file() and p.suffix not in (".db", ".db-wal", ".db-shm")) == files
    current = after if names == "project" else after["segment_list"][0]
    assert body["current"] == current
    assert answer.headers["etag"] == body["current"]["etag"] == current["etag"] != old
    assert "another window" in body["detail"] and "nothing was changed" in body["detail"]
    assert str(pid) not in body["detail"] and str(ids[0]) not in body["detail"]
    # With the current tag the same write goes through.
    assert write(pid, ids[0], ids, {"If-Match": current["etag"]}).is_success


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("header", [None, "*", " * "])
def test_no_if_match_or_a_star_writes_as_before(studio: Studio, tmp_path: Path, route: str,
                                                header: str | None) -> None:
    _, write = _writes(studio, tmp_path)[route]
    project = studio.create(segments=2)
    pid, ids = project["id"], [s["id"] for s in project["segment_list"]]
    studio.client.patch(f"/api/projects/{pid}/", json={"title": "Moved on"})
    studio.client.patch(f"/api/projects/{pid}/segments/{ids[0]}/", json={"text": "Moved on."})
    answer = write(pid, ids[0], ids, {} if header is None else {"If-Match": header})
    assert answer.is_success, answer.text


@pytest.mark.parametrize("header", [
    'W/"{tag}"',                # a weak tag never matches in a strong comparison
    '"p.999.1"',                # another project's tag
    '"{other}"',                # a segment's tag sent to the project
    '"p.{pid}.999"',            # a version that never was
    '"anything"',               # a tag the studio never made
])
def test_tags_that_are_not_the_current_one_never_match(studio: Studio, header: str) -> None:
    project = studio.create(segments=1)
    pid, tag = project["id"], project["etag"].strip('"')
    other = project["segment_list"][0]["etag"].strip('"')
    answer = studio.client.patch(f"/api/projects/{pid}/", json={"title": "Nope"},
                                 headers={"If-Match": header.format(tag=tag, other=other,
                                                                    pid=pid)})
    assert answer.status_code == 412
    assert _project(studio, pid).json()["title"] == "Test story"


def test_a_list_of_tags_matches_when_one_is_current(studio: Studio) -> None:
    project = studio.create(segments=1)
    pid = project["id"]
    header = f'"p.{pid}.999", W/"x", {project["etag"]}'
    answer = studio.client.patch(f"/api/projects/{pid}/", json={"title": "Listed"},
                                 headers={"If-Match": header})
    assert answer.status_code == 200 and answer.json()["title"] == "Listed"


@pytest.mark.parametrize("header", ["", "p.1.1", '"unterminated', '"a" "b"', ",", '"a";',
                                    'w/"a"', '"a"x', '"a b"'])
def test_a_malformed_if_match_is_a_400_and_writes_nothing(studio: Studio, header: str) -> None:
    project = studio.create(segments=1)
    pid, sid = project["id"], project["segment_list"][0]["id"]
    for answer in (
        studio.client.patch(f"/api/projects/{pid}/", json={"title": "Bad"},
                            headers={"If-Match": header.encode("latin-1")}),
        studio.client.patch(f"/api/projects/{pid}/segments/{sid}/", json={"text": "Bad"},
                            headers={"If-Match": header.encode("latin-1")}),
    ):
        assert answer.status_code == 400, (header, answer.text)
        assert "If-Match" in answer.json()["detail"]
    after = _project(studio, pid).json()
    assert after["title"] == "Test story" and after["segment_list"][0]["text"] != "Bad"


def test_parse_if_match_follows_the_grammar() -> None:
    assert parse_if_match(None).tags is None and parse_if_match("*").tags is None
    assert parse_if_match('"a", W/"b" ,"c"').tags == {"a", "c"}
    assert parse_if_match(' "a" ,, "" ').tags == {"a", ""}


def test_the_openapi_documents_if_match_and_412(studio: Studio) -> None:
    paths = studio.client.get("/openapi.json").json()["paths"]
    for path, method in [("/api/projects/{project_id}/", "patch"),
                         ("/api/projects/{project_id}/", "delete"),
                         ("/api/projects/{project_id}/segments/", "post"),
                         ("/api/projects/{project_id}/segments/order/", "put"),
                         ("/api/projects/{project_id}/segments/{segment_id}/", "patch"),
                         ("/api/projects/{project_id}/segments/{segment_id}/", "delete"),
                         ("/api/projects/{project_id}/segments/{segment_id}/image/", "post"),
                         ("/api/projects/{project_id}/segments/{segment_id}/audio/", "post")]:
        operation = paths[path][method]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert headers == ["If-Match"], (path, method)
        assert "412" in operation["responses"], (path, method)
    assert "ETag" in paths["/api/projects/{project_id}/"]["get"]["description"]


# -- stale tabs and deleted segments ---------------------------------------------------------


def test_a_tab_editing_a_segment_deleted_elsewhere_gets_a_clear_404(studio: Studio) -> None:
    project = studio.create(segments=2, title="Río “Nights”")
    pid, sid = project["id"], project["segment_list"][1]["id"]
    tag = project["segment_list"][1]["etag"]
    assert studio.client.delete(f"/api/projects/{pid}/segments/{sid}/").status_code == 204
    for answer in (
        studio.client.patch(f"/api/projects/{pid}/segments/{sid}/", json={"text": "Late."},
                            headers={"If-Match": tag}),
        studio.client.patch(f"/api/projects/{pid}/segments/{sid}/", json={"text": "Late."}),
        studio.client.delete(f"/api/projects/{pid}/segments/{sid}/"),
        studio.upload(pid, sid, "image", png_bytes()),
    ):
        assert answer.status_code == 404
        detail = answer.json()["detail"]
        assert "Río “Nights”" in detail and "deleted in another window" in detail
        assert str(sid) not in detail and str(pid) not in detail


def test_messages_never_show_internal_ids(studio: Studio) -> None:
    project = studio.create(segments=2)
    pid, sid = project["id"], project["segment_list"][1]["id"]
    other = studio.create(segments=1)
    for path in [f"/api/projects/{pid}/segments/{sid}/image/",
                 f"/api/projects/{pid}/segments/{sid}/audio/",
                 f"/api/projects/{other['id']}/segments/{sid}/thumbnail/",
                 f"/api/projects/{pid + 1000}/",
                 f"/api/projects/{pid}/segments/{sid + 1000}/audio/",
                 "/api/renders/4242/video/",
                 "/api/projects/99999999999999999999/"]:
        answer = studio.client.get(path)
        assert answer.status_code == 404, path
        detail = answer.json()["detail"]
        assert not re.search(r"\d{2,}", detail.replace("Segment 2 ", "")), (path, detail)
    missing = studio.client.get(f"/api/projects/{pid}/segments/{sid}/image/").json()["detail"]
    assert missing == "Segment 2 has no image yet."


# -- concurrency -----------------------------------------------------------------------------

#: Sixteen different settings (dotted paths) and a value for each that is not its default.
SETTINGS: dict[str, Any] = {
    "gap": 0.7, "video_bitrate": 4_000_000, "audio_bitrate": 128_000,
    "ken_burns.zoom": 1.4, "ken_burns.direction": "in", "ken_burns.pan": False,
    "ken_burns.easing": "linear", "subtitles.box": True, "subtitles.color": "#00FF00",
    "subtitles.max_words": 5, "subtitles.uppercase": True, "subtitles.sidecar": False,
    "transitions.crossfade": 0.2, "transitions.fade_in": 0.5, "loudness.target": -16.0,
    "voice.speed": 1.2,
}


def _nested(path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def _at(options: dict[str, Any], path: str) -> Any:
    value: Any = options["settings"]
    for part in path.split("."):
        value = value[part]
    return value


def test_parallel_patches_of_different_settings_are_all_kept(
        live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    with httpx.Client(base_url=server.url) as client:
        ids = [client.post("/api/projects/", json={"title": f"P{n}"}).json()["id"]
               for n in range(3)]
    jobs = [(pid, path, value) for pid in ids for path, value in SETTINGS.items()]
    start = threading.Barrier(len(jobs))

    def patch(job: tuple[int, str, Any]) -> int:
        pid, path, value = job
        with httpx.Client(base_url=server.url, timeout=60) as client:
            start.wait()
            answer = client.patch(f"/api/projects/{pid}/",
                                  json={"settings": _nested(path, value)})
        return answer.status_code

    with ThreadPoolExecutor(len(jobs)) as pool:
        statuses = list(pool.map(patch, jobs))
    assert statuses == [200] * len(jobs)
    with httpx.Client(base_url=server.url) as client:
        for pid in ids:
            options = client.get(f"/api/projects/{pid}/").json()["options"]
            lost = [path for path, value in SETTINGS.items() if _at(options, path) != value]
            assert lost == [], f"{len(lost)} of {len(SETTINGS)} settings lost: {lost}"


def test_racing_writes_with_one_tag_let_exactly_one_through(
        live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    with httpx.Client(base_url=server.url) as client:
        project = client.post("/api/projects/", json={
            "title": "Race", "segments": [{"text": "start"}]}).json()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    writers = 12
    start = threading.Barrier(writers * 2)

    def write(n: int) -> tuple[str, int, str]:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            start.wait()
            if n % 2:
                answer = client.patch(f"/api/projects/{pid}/segments/{sid}/",
                                      json={"text": f"text {n}"},
                                      headers={"If-Match": project["segment_list"][0]["etag"]})
            else:
                answer = client.patch(f"/api/projects/{pid}/", json={"title": f"title {n}"},
                                      headers={"If-Match": project["etag"]})
        return ("segment" if n % 2 else "project"), answer.status_code, f"{n}"

    with ThreadPoolExecutor(writers * 2) as pool:
        results = list(pool.map(write, range(writers * 2)))
    with httpx.Client(base_url=server.url) as client:
        final = client.get(f"/api/projects/{pid}/").json()
    for kind in ("project", "segment"):
        codes = sorted(code for k, code, _ in results if k == kind)
        assert codes == [200] + [412] * (writers - 1), (kind, codes)
    winner_title = next(n for k, code, n in results if k == "project" and code == 200)
    winner_text = next(n for k, code, n in results if k == "segment" and code == 200)
    assert final["title"] == f"title {winner_title}"
    assert final["segment_list"][0]["text"] == f"text {winner_text}"


# -- migration -------------------------------------------------------------------------------


def test_a_database_from_before_the_versions_gets_them(tmp_path: Path) -> None:
    path = tmp_path / "studio.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE projects (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
                options TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL,
                updated_at REAL NOT NULL);
            CREATE TABLE segments (id INTEGER PRIMARY KEY AUTOINCREMENT,
                project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                position INTEGER NOT NULL, text TEXT NOT NULL DEFAULT '', chapter TEXT,
                image_prompt TEXT, image_file TEXT, image_width INTEGER, image_height INTEGER,
                audio_file TEXT, audio_samples INTEGER, updated_at REAL NOT NULL);
            INSERT INTO projects VALUES (1, 'Old', '{}', 1.0, 1.0);
            INSERT INTO segments (project_id, position, text, updated_at)
                VALUES (1, 0, 'kept', 1.0);
        """)
    db.close()
    store = Store(path)
    try:
        project = store.get_project(1)
        assert project is not None and project.version == 1
        (segment,) = store.segments(1)
        assert (segment.text, segment.version) == ("kept", 1)
        store.update_segment(1, segment.id, {"text": "edited"}, expect=frozenset({1}))
        assert store.segments(1)[0].version == 2
    finally:
        store.close()


def test_the_openapi_documents_the_etag_header_of_answers(studio: Studio) -> None:
    paths = studio.client.get("/openapi.json").json()["paths"]
    for path, method, status in [("/api/projects/", "post", "201"),
                                 ("/api/projects/{project_id}/", "get", "200"),
                                 ("/api/projects/{project_id}/", "patch", "200"),
                                 ("/api/projects/{project_id}/segments/", "post", "201"),
                                 ("/api/projects/{project_id}/segments/order/", "put", "200"),
                                 ("/api/projects/{project_id}/segments/{segment_id}/",
                                  "patch", "200")]:
        answer = paths[path][method]["responses"][status]
        assert "ETag" in answer.get("headers", {}), (path, method)
        assert "content" in answer, (path, method)  # the body is still documented


def test_an_edit_while_an_upload_is_checked_makes_it_412_and_leaves_no_file(
        studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    from storyreel.service import uploads

    project = studio.create(segments=1)
    pid, segment = project["id"], project["segment_list"][0]
    store = studio.app.state.studio.store
    check_image = uploads.check_image

    def check_then_edit(path: Path, limits: Any) -> Any:
        info = check_image(path, limits)
        store.update_segment(pid, segment["id"], {"text": "Edited during the upload."})
        return info

    monkeypatch.setattr(uploads, "check_image", check_then_edit)
    answer = studio.client.post(f"/api/projects/{pid}/segments/{segment['id']}/image/",
                                headers={"If-Match": segment["etag"]},
                                files={"file": ("a.png", png_bytes(), "image/png")})
    assert answer.status_code == 412
    assert answer.json()["current"]["text"] == "Edited during the upload."
    assert answer.json()["current"]["image"] is None
    images = studio.data_dir / "projects" / str(pid) / "images"
    assert sorted(p.name for p in images.iterdir()) == []
