"""The studio speaks: voices, a listen sample, and narration generated as a background job."""

from __future__ import annotations

from pathlib import Path

from studiokit import Studio, png_bytes, wait_status, wav_bytes

from storyreel.media.audio import SAMPLE_RATE, decode_audio
from storyreel.service.store import Store


def _segments(studio: Studio, project_id: int) -> list[dict[str, object]]:
    return list(studio.client.get(f"/api/projects/{project_id}/").json()["segment_list"])


def test_text_is_enough_to_render_and_needs_no_recording(studio: Studio) -> None:
    project = studio.create(2)
    segments = project["segment_list"]
    assert [s["missing"] for s in segments] == [["image"], ["image"]]
    assert [s["narration"] for s in segments] == ["pending", "pending"]


def test_generate_every_narration_then_edit_marks_it_out_of_date(studio: Studio) -> None:
    project = studio.create(2)
    pid = project["id"]
    accepted = studio.client.post(f"/api/projects/{pid}/narrate/", json={})
    assert accepted.status_code == 202, accepted.text
    assert len(accepted.json()["segments"]) == 2
    status = wait_status(studio.client, pid, timeout=120)
    assert status["status"] == "completed", status
    assert status["kind"] == "narrate" and status["percent"] == 100
    assert status["video_url"] is None
    segments = _segments(studio, pid)
    assert [s["narration"] for s in segments] == ["generated", "generated"]
    first = segments[0]
    assert first["audio"]["duration"] > 1.0  # type: ignore[index]
    wav = studio.client.get(first["audio"]["url"])  # type: ignore[index]
    assert wav.status_code == 200
    path = studio.media / "first.wav"
    path.write_bytes(wav.content)
    assert decode_audio(path).shape[1] > SAMPLE_RATE
    edited = studio.client.patch(f"/api/projects/{pid}/segments/{first['id']}/",
                                 json={"text": "A new sentence, said again."})
    assert edited.status_code == 200
    assert edited.json()["narration"] == "outdated"
    again = studio.client.post(f"/api/projects/{pid}/narrate/", json={})
    assert again.json()["segments"] == [first["id"]]
    assert wait_status(studio.client, pid, timeout=120)["status"] == "completed"
    assert [s["narration"] for s in _segments(studio, pid)] == ["generated", "generated"]
    files = sorted(p.name for p in (studio.data_dir / "projects" / str(pid) / "audio").iterdir())
    assert len(files) == 2  # the outdated narration's file was replaced, not left behind


def test_an_uploaded_recording_is_never_replaced_without_asking(studio: Studio,
                                                                tmp_path: Path) -> None:
    project = studio.create(2)
    pid = project["id"]
    recorded, spoken = project["segment_list"]
    assert studio.upload(pid, recorded["id"], "audio", wav_bytes(tmp_path)).status_code == 200
    one = studio.client.post(f"/api/projects/{pid}/narrate/",
                             json={"segment_id": recorded["id"]})
    assert one.status_code == 409 and "confirm" in one.json()["detail"]
    every = studio.client.post(f"/api/projects/{pid}/narrate/", json={})
    assert every.status_code == 202
    assert every.json()["segments"] == [spoken["id"]]
    assert every.json()["kept"] == [recorded["id"]]
    wait_status(studio.client, pid, timeout=120)
    assert [s["narration"] for s in _segments(studio, pid)] == ["recorded", "generated"]
    asked = studio.client.post(f"/api/projects/{pid}/narrate/",
                               json={"segment_id": recorded["id"], "replace": True})
    assert asked.status_code == 202
    wait_status(studio.client, pid, timeout=120)
    assert [s["narration"] for s in _segments(studio, pid)] == ["generated", "generated"]


def test_a_text_only_project_renders_in_the_studio(studio: Studio) -> None:
    project = studio.create(1)
    pid = project["id"]
    segment = project["segment_list"][0]
    assert studio.upload(pid, segment["id"], "image", png_bytes()).status_code == 200
    assert studio.client.post(f"/api/projects/{pid}/render/").status_code == 202
    status = wait_status(studio.client, pid, timeout=180)
    assert status["status"] == "completed", status
    assert status["video_url"]


def test_voices_and_a_listen_sample(studio: Studio) -> None:
    voices = studio.client.get("/api/voices/").json()
    assert [v["name"] for v in voices] == ["hibari", "kokoro", "piper", "espeak"]
    assert voices[0]["ready"] and not voices[1]["ready"] and voices[1]["hint"]
    sample = studio.client.get("/api/voices/sample/", params={"voice": "heart", "speed": 1.2})
    assert sample.status_code == 200 and sample.headers["content-type"] == "audio/wav"
    path = studio.media / "sample.wav"
    path.write_bytes(sample.content)
    assert decode_audio(path).shape[1] > SAMPLE_RATE
    bad = studio.client.get("/api/voices/sample/", params={"speed": 5})
    assert bad.status_code == 400
    refused = studio.client.get("/api/voices/sample/", params={"voice": "emma"})
    assert refused.status_code == 400 and "never downloads" in refused.json()["detail"]


def test_cancel_narration_leaves_no_file(studio: Studio) -> None:
    project = studio.create(3)
    pid = project["id"]
    assert studio.client.post(f"/api/projects/{pid}/narrate/", json={}).status_code == 202
    cancelled = studio.client.post(f"/api/projects/{pid}/cancel/")
    assert cancelled.status_code == 200
    status = wait_status(studio.client, pid, timeout=60)
    assert status["status"] == "cancelled"  # the child process takes far longer to start
    assert [s["narration"] for s in _segments(studio, pid)] == ["pending"] * 3
    audio = studio.data_dir / "projects" / str(pid) / "audio"
    assert list(audio.iterdir()) == []


def test_an_older_database_gains_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE segments (id INTEGER PRIMARY KEY, project_id INTEGER, "
                   "position INTEGER, text TEXT, chapter TEXT, image_prompt TEXT, "
                   "image_file TEXT, image_width INTEGER, image_height INTEGER, "
                   "audio_file TEXT, audio_samples INTEGER, updated_at REAL)")
    store = Store(path)
    try:
        columns = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(segments)")}
        assert "narration_from" in columns
    finally:
        store.close()


def test_storyflow_import_then_generate_leaves_only_pictures(studio: Studio) -> None:
    export = {"title": "Aurelia", "segments": [
        {"text_content": "The valley woke at dawn.", "image_prompt": "a valley",
         "sequence_index": 1},
        {"text_content": "A river carried the news.", "image_prompt": "a river",
         "sequence_index": 2}]}
    project = studio.client.post("/api/projects/", json=export).json()
    pid = project["id"]
    assert studio.client.post(f"/api/projects/{pid}/narrate/", json={}).status_code == 202
    assert wait_status(studio.client, pid, timeout=120)["status"] == "completed"
    segments = _segments(studio, pid)
    assert [s["narration"] for s in segments] == ["generated", "generated"]
    assert [s["missing"] for s in segments] == [["image"], ["image"]]


def test_a_bundle_of_pictures_and_text_imports_without_recordings(studio: Studio,
                                                                  tmp_path: Path) -> None:
    import io
    import json
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("story/story.json", json.dumps({"segments": [
            {"image": "a.png", "text": "Spoken from the text."}]}))
        archive.writestr("story/a.png", png_bytes())
    response = studio.client.post("/api/projects/", files={
        "file": ("bundle.zip", buffer.getvalue(), "application/zip")})
    assert response.status_code == 201, response.text
    (segment,) = response.json()["segment_list"]
    assert segment["missing"] == [] and segment["narration"] == "pending"


def test_a_finished_narration_job_leaves_the_project_unrendered_in_the_list(
        studio: Studio) -> None:
    project = studio.create(segments=1)
    pid = project["id"]
    assert studio.client.post(f"/api/projects/{pid}/narrate/", json={}).status_code == 202
    status = wait_status(studio.client, pid, timeout=120)
    assert (status["kind"], status["status"]) == ("narrate", "completed")
    listed = studio.client.get("/api/projects/").json()
    assert [(p["id"], p["status"], p["video_url"]) for p in listed] == [(pid, "new", None)]
