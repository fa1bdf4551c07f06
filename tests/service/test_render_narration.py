"""A studio render says the text as it is now: out-of-date generated narrations are spoken
again as part of the render, uploaded recordings are kept (with a warning when their
text changed), and an upload never replaces a narration without being asked to."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path
from typing import Any

from soundkit import decoded_sound, fresh_speech, likeness
from studiokit import TINY, Studio, png_bytes, wait_status, wav_bytes

from storyreel.service.options import build_manifest
from storyreel.service.store import SegmentRow
from storyreel.service.worker import _render
from storyreel.words import RESPEAKING

OLD = "Harbour lights shone over the water. The boats came home."
NEW = "Lanterns shone over the water. The boats came home."  # one word changed


def _segments(studio: Studio, pid: int) -> list[dict[str, Any]]:
    return list(studio.client.get(f"/api/projects/{pid}/").json()["segment_list"])


def _pictured(studio: Studio, texts: list[str]) -> dict[str, Any]:
    response = studio.client.post("/api/projects/", json={
        "title": "Harbour", **TINY, "segments": [{"text": text} for text in texts]})
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    for segment in project["segment_list"]:
        assert studio.upload(project["id"], segment["id"], "image",
                             png_bytes()).status_code == 200
    return project


def _render_draft(studio: Studio, pid: int, folder: Path, name: str) -> tuple[dict[str, Any],
                                                                             Path]:
    assert studio.client.post(f"/api/projects/{pid}/render/",
                              json={"draft": True}).status_code == 202
    status = wait_status(studio.client, pid, timeout=240)
    assert status["status"] == "completed", status
    video = folder / name
    video.write_bytes(studio.client.get(status["video_url"]).content)
    return status, video


def test_a_render_speaks_the_edited_text_and_leaves_the_narration_current(
        studio: Studio, tmp_path: Path) -> None:
    project = _pictured(studio, ["A first segment opens the story.", "Then a second one.",
                                 OLD])
    pid = project["id"]
    edited_id = project["segment_list"][2]["id"]
    assert studio.client.post(f"/api/projects/{pid}/narrate/", json={}).status_code == 202
    assert wait_status(studio.client, pid, timeout=120)["status"] == "completed"
    _, before = _render_draft(studio, pid, tmp_path, "before.mp4")
    old_audio = _segments(studio, pid)[2]["audio"]["url"]

    edited = studio.client.patch(f"/api/projects/{pid}/segments/{edited_id}/",
                                 json={"text": NEW})
    assert edited.json()["narration"] == "outdated"
    status, after = _render_draft(studio, pid, tmp_path, "after.mp4")

    assert [s["narration"] for s in _segments(studio, pid)] == ["generated"] * 3
    assert _segments(studio, pid)[2]["audio"]["url"] != old_audio
    audio = studio.data_dir / "projects" / str(pid) / "audio"
    assert len(list(audio.iterdir())) == 3  # the out-of-date file went with it
    old_speech = fresh_speech(OLD, tmp_path / "voice")
    new_speech = fresh_speech(NEW, tmp_path / "voice")
    sound_before, sound_after = decoded_sound(before), decoded_sound(after)
    assert likeness(sound_before, old_speech) > 0.8  # the check tells the two texts apart
    assert likeness(sound_before, new_speech) < 0.6
    assert likeness(sound_after, new_speech) > 0.8
    assert likeness(sound_after, old_speech) < 0.6
    assert not any("recording" in w for w in status["warnings"])
    assert status["video"]["stale"] is False  # what it attached is what the video says
    encoded, total, reused = map(int, re.fullmatch(
        r"Encoded (\d+) of (\d+) parts? \((\d+) reused\)", status["detail"]).groups())
    assert encoded >= 1 and reused >= 1 and encoded + reused == total  # segment 1 kept


def test_an_edited_recording_is_kept_with_a_warning_naming_its_segment(
        studio: Studio, tmp_path: Path) -> None:
    studio.create(3)  # so that segment ids are not positions
    project = _pictured(studio, ["One.", OLD])
    pid = project["id"]
    second = project["segment_list"][1]["id"]
    recording = wav_bytes(tmp_path, 1.5, seed=4)
    assert studio.upload(pid, second, "audio", recording).status_code == 200
    assert _segments(studio, pid)[1]["narration"] == "recorded"
    studio.client.patch(f"/api/projects/{pid}/segments/{second}/", json={"text": NEW})
    row = _segments(studio, pid)[1]
    assert row["narration"] == "changed"
    words = studio.client.get("/api/words/").json()["narration"]["changed"][0]
    assert "text changed" in words

    status, video = _render_draft(studio, pid, tmp_path, "kept.mp4")
    warning = ("Segment 2: the text changed after its recording was uploaded; the "
               "recording is used as it is")
    assert warning in status["warnings"]
    assert second != 2 and not any(f"Segment {second}" in w for w in status["warnings"])
    after = _segments(studio, pid)[1]
    assert after["narration"] == "changed" and after["audio"] == row["audio"]
    asked = studio.client.post(f"/api/projects/{pid}/narrate/", json={"segment_id": second})
    assert asked.status_code == 409 and "confirm" in asked.json()["detail"]
    # The recording is in the video, not a voice reading the new text.
    uploaded = tmp_path / "uploaded.wav"
    uploaded.write_bytes(recording)
    sound = decoded_sound(video)
    assert likeness(sound, decoded_sound(uploaded)) > 0.8
    assert likeness(sound, fresh_speech(NEW, tmp_path / "voice")) < 0.6


def test_no_manifest_carries_an_out_of_date_narration() -> None:
    options = {"settings": {"voice": {"speed": 1.0}}}
    from storyreel.service.narration import narration_from, recording_from

    rows = [SegmentRow(1, 1, 0, NEW, None, None, "images/a.png", 8, 8, "audio/old.wav", 9, 0.0,
                       narration_from(OLD, options)),
            SegmentRow(2, 1, 1, NEW, None, None, "images/a.png", 8, 8, "audio/new.wav", 9, 0.0,
                       narration_from(NEW, options)),
            SegmentRow(3, 1, 2, NEW, None, None, "images/a.png", 8, 8, "audio/rec.wav", 9, 0.0,
                       recording_from(OLD))]
    segments = build_manifest("T", options, rows)["segments"]
    assert [s.get("audio") for s in segments] == [None, "audio/new.wav", "audio/rec.wav"]
    faster = {"settings": {"voice": {"speed": 1.5}}}  # another speed: spoken again too
    assert [s.get("audio") for s in build_manifest("T", faster, rows)["segments"]] == [
        None, None, "audio/rec.wav"]


def _spec(folder: Path, rows: list[SegmentRow], options: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": 1, "manifest": build_manifest("T", {**TINY, **options}, rows),
            "base_dir": str(folder), "output": str(folder / "output" / "v.mp4"),
            "kind": "render", "narrate": [0], "options": options, "draft": True, "cache": ""}


def test_the_render_process_says_it_speaks_again_then_renders(tmp_path: Path) -> None:
    from storyreel.service.narration import narration_from

    folder = tmp_path / "project"
    (folder / "images").mkdir(parents=True)
    (folder / "audio").mkdir()
    (folder / "images" / "a.png").write_bytes(png_bytes())
    (folder / "audio" / "old.wav").write_bytes(wav_bytes(tmp_path))
    rows = [SegmentRow(1, 1, 0, NEW, None, None, "images/a.png", 480, 270, "audio/old.wav",
                       48_000, 0.0, narration_from(OLD, {}))]
    out = io.StringIO()
    kind, payload = _render(_spec(folder, rows, {}), threading.Event(), out)
    assert kind == "done", payload
    progress = [json.loads(line)["payload"] for line in out.getvalue().splitlines()]
    said = [p["message"] for p in progress if p["phase"] == "narrate"]
    assert said and set(said) == {RESPEAKING.format(count=1, s="")}
    assert [p["phase"] for p in progress].index("narrate") == 0  # before anything else
    (spoken,) = payload["narrations"]
    assert spoken["position"] == 0 and spoken["source"] == narration_from(NEW, {})
    assert (folder / spoken["file"]).is_file()
    speech = fresh_speech(NEW, tmp_path / "voice")
    assert likeness(decoded_sound(Path(payload["path"])), speech) > 0.8


def test_a_failed_render_leaves_no_narration_it_spoke(tmp_path: Path) -> None:
    from storyreel.service.narration import narration_from

    folder = tmp_path / "project"
    (folder / "audio").mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "audio" / "old.wav").write_bytes(wav_bytes(tmp_path))
    (folder / "images" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"broken" * 40)
    rows = [SegmentRow(1, 1, 0, NEW, None, None, "images/a.png", 480, 270, "audio/old.wav",
                       48_000, 0.0, narration_from(OLD, {}))]
    out = io.StringIO()
    kind, payload = _render(_spec(folder, rows, {}), threading.Event(), out)
    assert kind == "error", payload
    phases = [json.loads(line)["payload"]["phase"] for line in out.getvalue().splitlines()]
    assert "narrate" in phases  # it failed after speaking the segment again
    assert sorted(p.name for p in (folder / "audio").iterdir()) == ["old.wav"]


def test_an_upload_asks_before_replacing_a_narration(studio: Studio, tmp_path: Path) -> None:
    project = studio.create(2)
    pid = project["id"]
    spoken, recorded = (s["id"] for s in project["segment_list"])
    assert studio.client.post(f"/api/projects/{pid}/narrate/",
                              json={"segment_id": spoken}).status_code == 202
    wait_status(studio.client, pid, timeout=120)
    assert studio.upload(pid, recorded, "audio", wav_bytes(tmp_path, 1.0)).status_code == 200
    before = _segments(studio, pid)
    assert [s["narration"] for s in before] == ["generated", "recorded"]
    files = sorted((studio.data_dir / "projects" / str(pid) / "audio").iterdir())

    new = wav_bytes(tmp_path, 2.0, seed=7)
    for segment, held in ((spoken, "spoken by the voice"), (recorded, "a recording")):
        refused = studio.upload(pid, segment, "audio", new)
        assert refused.status_code == 409, refused.text
        assert held in refused.json()["detail"] and "confirm" in refused.json()["detail"]
    assert _segments(studio, pid) == before  # nothing changed
    assert sorted((studio.data_dir / "projects" / str(pid) / "audio").iterdir()) == files

    url = f"/api/projects/{pid}/segments/{spoken}/audio/"
    replaced = studio.client.post(url, params={"replace": "true"},
                                  files={"file": ("new.wav", new, "audio/wav")})
    assert replaced.status_code == 200, replaced.text
    after = _segments(studio, pid)
    assert after[0]["narration"] == "recorded" and after[0]["audio"]["duration"] == 2.0
    assert len(list((studio.data_dir / "projects" / str(pid) / "audio").iterdir())) == 2


class _PartsRunner:
    """Says what the engine says while it encodes a re-render, then waits to be released."""

    def __init__(self) -> None:
        self.said = threading.Event()
        self.release = threading.Event()

    def __call__(self, spec: Any, on_progress: Any, cancel: threading.Event) -> Any:
        from storyreel.render.progress import EXPORT_MESSAGE, Progress
        from storyreel.service.protocol import RenderOutcome

        on_progress(Progress("export", 0, 227, message=EXPORT_MESSAGE))
        on_progress(Progress("export", 0, 227, message="Encoding 1 of 7 parts (6 reused)"))
        self.said.set()  # both were handed to the studio's progress writer
        self.release.wait(60)
        output = Path(spec.output)
        output.write_bytes(b"not a video")
        return RenderOutcome(str(output), 11, 51.5, 1287, "25", parts_encoded=1,
                             parts_reused=6)


def test_the_status_says_how_many_parts_were_reused(make_studio: Any) -> None:
    runner = _PartsRunner()
    studio = make_studio(runner=runner)
    project = _pictured(studio, ["One part changed."])
    pid = project["id"]
    try:
        assert studio.client.post(f"/api/projects/{pid}/render/").status_code == 202
        assert runner.said.wait(60)
        running = studio.client.get(f"/api/projects/{pid}/status/").json()
        assert running["status"] == "processing" and running["phase"] == "export"
        # Said at once after the phase began, yet not lost to the progress throttle.
        assert running["detail"] == "Encoding 1 of 7 parts (6 reused)"
        assert running["message"] == "Making the video"
    finally:
        runner.release.set()
    done = wait_status(studio.client, pid)
    assert done["status"] == "completed"
    assert done["detail"] == "Encoded 1 of 7 parts (6 reused)"



def test_a_render_keeps_what_it_spoke_so_lengths_are_known(studio: Studio,
                                                          tmp_path: Path) -> None:
    project = _pictured(studio, ["Only text here.", "And here too."])
    pid = project["id"]
    assert [s["narration"] for s in project["segment_list"]] == ["pending", "pending"]
    listed = next(p for p in studio.client.get("/api/projects/").json() if p["id"] == pid)
    assert listed["duration"] == 0
    status, video = _render_draft(studio, pid, tmp_path, "spoken.mp4")
    segments = _segments(studio, pid)
    assert [s["narration"] for s in segments] == ["generated", "generated"]
    listed = next(p for p in studio.client.get("/api/projects/").json() if p["id"] == pid)
    spoken = sum(s["audio"]["duration"] for s in segments)
    assert listed["duration"] == round(spoken, 3) and spoken > 1.0
    assert status["video"]["stale"] is False
    # The narration kept is the one in the video.
    first = tmp_path / "first.wav"
    first.write_bytes(studio.client.get(segments[0]["audio"]["url"]).content)
    assert likeness(decoded_sound(video), decoded_sound(first)) > 0.8
    again = studio.client.post(f"/api/projects/{pid}/narrate/", json={})
    assert again.status_code == 400  # nothing left to speak


def test_the_pace_for_estimates_is_served_once(studio: Studio) -> None:
    from storyreel.words import WORDS_PER_SECOND

    served = studio.client.get("/api/words/").json()["words_per_second"]
    assert served == WORDS_PER_SECOND
    script = (Path(__file__).parents[2] / "src" / "storyreel" / "service" / "static" /
              "app.js").read_text(encoding="utf-8")
    # The page counts no words itself: each segment's estimate is served with it.
    assert "segDuration = (seg) => (seg.audio ? seg.audio.duration : seg.seconds)" in script
    assert "WORDS_PER_SECOND" not in script and "words_per_second" not in script


def test_render_all_names_the_projects_it_left_and_why(make_studio: Any) -> None:
    runner = _PartsRunner()
    studio = make_studio(runner=runner)
    try:
        busy = _pictured(studio, ["Ready to go."])
        assert studio.client.post(f"/api/projects/{busy['id']}/render/").status_code == 202
        response = studio.client.post("/api/projects/", json={
            "title": "Lighthouse \u00e9t\u00e9", **TINY,
            "segments": [{"text": "No picture."}, {"text": ""}, {"text": "None."}]})
        waiting = response.json()["id"]
        answer = studio.client.post("/api/renders/all/").json()
        assert answer["queued"] == []
        left = {p["title"]: p for p in answer["left"]}
        assert set(left) == {"Harbour", "Lighthouse \u00e9t\u00e9"}
        assert "already being rendered" in left["Harbour"]["reason"]
        reason = left["Lighthouse \u00e9t\u00e9"]["reason"]
        assert left["Lighthouse \u00e9t\u00e9"]["project_id"] == waiting
        assert "4 things to fix" in reason and "segment 1 needs an image" in reason
        assert "segment 2 needs a narration recording or text" in reason
        assert reason.endswith("; and 1 more).")
        assert answer["skipped"][str(waiting)] == reason
    finally:
        runner.release.set()
