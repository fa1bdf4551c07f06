"""Zip bundles cannot make the studio write or parse more than they are worth, and
concurrent uploads leave no file behind."""

from __future__ import annotations

import io
import json
import struct
import threading
import wave
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from studiokit import FakeRunner, LiveServer, Studio, png_bytes, wav_bytes, zip_bundle

from storyreel.service import create_app
from storyreel.service.uploads import Limits


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _post_zip(studio: Studio, data: bytes) -> Any:
    return studio.client.post("/api/projects/", files={"file": ("b.zip", data, "application/zip")})


def test_a_member_named_by_many_segments_is_stored_once(make_studio: Any, tmp_path: Path) -> None:
    studio = make_studio(runner=FakeRunner())
    voice = wav_bytes(tmp_path, 3.0)
    manifest = {"settings": {"preset": "ultrafast"}, "segments": [
        {"image": "a.png", "audio": "voice.wav", "text": f"Part {i}."} for i in range(50)]}
    answer = _post_zip(studio, zip_bundle(manifest, {"story/a.png": png_bytes(),
                                                     "story/voice.wav": voice}))
    assert answer.status_code == 201, answer.text[:300]
    project = answer.json()
    folder = studio.data_dir / "projects" / str(project["id"])
    stored = _files(folder)
    # One narration, one still and its thumbnail: not 50 copies of each.
    assert [p.parent.name for p in stored] == ["audio", "images", "images"]
    assert sum(p.stat().st_size for p in stored) < 2 * len(voice)
    segments = project["segment_list"]
    assert len(segments) == 50 and all(s["missing"] == [] for s in segments)
    # Shared files outlive the segments that let go of them, and go with the last one.
    first, second = segments[0]["id"], segments[1]["id"]
    assert studio.client.delete(f"/api/projects/{project['id']}/segments/{first}/"
                                ).status_code == 204
    new_voice = wav_bytes(tmp_path, 1.0, seed=3)
    replaced = studio.client.post(f"/api/projects/{project['id']}/segments/{second}/audio/",
                                  params={"replace": "true"},
                                  files={"file": ("voice.wav", new_voice, "audio/wav")})
    assert replaced.status_code == 200
    assert len(_files(folder / "audio")) == 2
    for segment in segments[2:]:
        assert studio.client.delete(f"/api/projects/{project['id']}/segments/{segment['id']}/"
                                    ).status_code == 204
    assert len(_files(folder / "audio")) == 1 and len(_files(folder / "images")) == 2
    left = studio.client.get(f"/api/projects/{project['id']}/").json()["segment_list"]
    assert [s["missing"] for s in left] == [[]]


def _silence(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(b"\0\0" * int(seconds * 48_000))
    return buffer.getvalue()


def test_what_one_import_writes_is_capped(make_studio: Any) -> None:
    studio = make_studio(runner=FakeRunner(), limits=Limits(import_bytes=3_000_000))
    # Four distinct narrations of 1.9 MB each, in a bundle of a few kB: each is under the
    # per-file cap, together they are over what one import may write.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("story/story.json", json.dumps({"segments": [
            {"image": "a.png", "audio": f"v{i}.wav"} for i in range(4)]}))
        archive.writestr("story/a.png", png_bytes())
        for i in range(4):
            archive.writestr(f"story/v{i}.wav", _silence(20 + i))
    assert len(buffer.getvalue()) < 100_000
    answer = _post_zip(studio, buffer.getvalue())
    assert answer.status_code == 400, answer.text[:300]
    assert "3 MB" in answer.text
    assert studio.client.get("/api/projects/").json() == []
    assert _files(studio.data_dir / "projects") == []


def _many_members(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            archive.writestr(f"{i}", b"")
    return buffer.getvalue()


def _with_end_record(data: bytes, entries: int, directory: int) -> bytes:
    at = data.rfind(b"PK\x05\x06")
    fields = list(struct.unpack_from("<4s4H2LH", data, at))
    fields[3] = fields[4] = entries
    fields[5] = directory
    return data[:at] + struct.pack("<4s4H2LH", *fields) + data[at + 22:]


@pytest.mark.parametrize("build", [
    lambda: _many_members(20_001),
    # The end record may lie about the count; the directory's size still gives it away.
    lambda: _with_end_record(_many_members(3), 3, 60_000_000),
    lambda: _with_end_record(_many_members(3), 65_000, 1_000),
])
def test_member_count_is_checked_before_the_directory_is_parsed(
        make_studio: Any, monkeypatch: pytest.MonkeyPatch, build: Any) -> None:
    studio = make_studio(runner=FakeRunner())
    data = build()
    opened: list[Any] = []
    real = zipfile.ZipFile

    def watched(*args: Any, **kwargs: Any) -> zipfile.ZipFile:
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr("storyreel.service.studio.zipfile.ZipFile", watched)
    answer = _post_zip(studio, data)
    assert answer.status_code == 400
    assert "too many files" in answer.json()["detail"]
    assert opened == []


def test_zip64_member_count_is_read_too(make_studio: Any) -> None:
    studio = make_studio(runner=FakeRunner())
    small = _many_members(2)
    # A ZIP64 end record and locator claiming a million members, then the classic record
    # pointing at them with 0xFFFF.
    at = small.rfind(b"PK\x05\x06")
    offset = at
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1_000_000, 1_000_000,
                        100, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, offset, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                      0xFFFFFFFF, 0)
    answer = _post_zip(studio, small[:at] + end64 + locator + end)
    assert answer.status_code == 400 and "too many files" in answer.json()["detail"]


def test_concurrent_uploads_to_one_segment_leave_one_file(tmp_path: Path) -> None:
    with LiveServer(create_app(tmp_path / "data", runner=FakeRunner())) as server:
        project = httpx.post(server.url + "/api/projects/", json={
            "segments": [{"text": "One."}]}).json()
        sid = project["segment_list"][0]["id"]
        url = f"{server.url}/api/projects/{project['id']}/segments/{sid}/image/"
        statuses: list[int] = []

        def upload(number: int) -> None:
            data = png_bytes((320, 180), (number * 15, 80, 40))
            statuses.append(httpx.post(url, files={"file": ("a.png", data)}, timeout=60)
                            .status_code)

        threads = [threading.Thread(target=upload, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 16
        detail = httpx.get(f"{server.url}/api/projects/{project['id']}/").json()
        shown = httpx.get(server.url + detail["segment_list"][0]["image"]["url"])
    images = _files(tmp_path / "data" / "projects" / str(project["id"]) / "images")
    assert len(images) == 2  # the still and its thumbnail, nothing orphaned
    assert shown.status_code == 200 and shown.content in [p.read_bytes() for p in images]
