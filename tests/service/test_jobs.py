"""Render jobs: real renders read back with PyAV, restarts, cancels, concurrency, failures."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image
from studiokit import FakeRunner, LiveServer, Studio, serve_studio, wait_status, wav_bytes

from storyreel.errors import RenderCancelled
from storyreel.render.progress import Progress
from storyreel.service.jobs import RenderOutcome, RenderSpec
from storyreel.service.store import Store


def _render(studio: Studio, project_id: int) -> int:
    response = studio.client.post(f"/api/projects/{project_id}/render/")
    assert response.status_code == 202, response.text
    return int(response.json()["job_id"])


def test_real_render_end_to_end(studio: Studio) -> None:
    project = studio.ready(segments=2, seconds=1.0, title="The Lost City!")
    pid = project["id"]
    for segment, chapter in zip(project["segment_list"], ("Dawn", "Dusk"), strict=True):
        studio.client.patch(f"/api/projects/{pid}/segments/{segment['id']}/",
                            json={"chapter": chapter})
    job_id = _render(studio, pid)
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = studio.client.get(f"/api/projects/{pid}/status/").json()
        seen.append(status["percent"])
        if status["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.03)
    assert status["status"] == "completed", status
    assert status["job_id"] == job_id and status["percent"] == 100
    assert seen == sorted(seen)
    video = studio.client.get(status["video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    path = studio.data_dir / "projects" / str(pid) / "output" / f"render-{job_id}.mp4"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
    assert frames == status["frames_total"] == status["frames_done"]
    assert frames >= 2 * 25  # two narrations of a second at 25 fps, plus gaps
    ranged = studio.client.get(status["video_url"], headers={"Range": "bytes=100-1099"})
    assert ranged.status_code == 206 and len(ranged.content) == 1000
    assert ranged.headers["content-range"] == f"bytes 100-1099/{path.stat().st_size}"
    download = studio.client.get(status["download_url"])
    assert download.headers["content-disposition"] == (
        f'attachment; filename="the-lost-city-{job_id}.mp4"')
    assert download.content == path.read_bytes()
    captions = studio.client.get(status["captions_url"])
    assert "Segment 1 speaks." in captions.text and "Segment 2 speaks." in captions.text
    assert "-->" in captions.text
    vtt = studio.client.get(f"/api/renders/{job_id}/captions.vtt")
    assert vtt.text.startswith("WEBVTT")
    chapters = studio.client.get(f"/api/renders/{job_id}/chapters.txt").text
    assert chapters.startswith("00:00 Dawn") and "Dusk" in chapters
    assert any("chapters" in warning for warning in status["warnings"])  # too few for YouTube
    assert status["chapters_url"] is None  # so the page does not offer them
    detail = studio.client.get(f"/api/projects/{pid}/").json()
    assert detail["chapters"]["count"] == 2 and not detail["chapters"]["ok"]
    assert "at least 3" in detail["chapters"]["note"]
    gallery = studio.client.get("/api/renders/").json()
    assert [(g["job_id"], g["title"]) for g in gallery] == [(job_id, "The Lost City!")]
    listed = studio.client.get("/api/projects/").json()[0]
    assert listed["status"] == "completed" and listed["video_url"] == status["video_url"]
    _history_keeps_each_video(studio, pid, job_id)


def _history_keeps_each_video(studio: Studio, pid: int, final_id: int) -> None:
    history = studio.client.get(f"/api/projects/{pid}/renders/").json()
    assert len(history) == 1
    final = history[0]
    assert (final["job_id"], final["draft"], final["width"], final["height"]) == (
        final_id, False, 320, 180)
    assert not final["stale"]
    poster = studio.client.get(final["poster_url"])
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(poster.content)).size[0] > 0
    segment = studio.client.get(f"/api/projects/{pid}/").json()["segment_list"][0]
    studio.client.patch(f"/api/projects/{pid}/segments/{segment['id']}/", json={"text": "New."})
    assert studio.client.get(f"/api/projects/{pid}/status/").json()["video"]["stale"]
    response = studio.client.post(f"/api/projects/{pid}/render/", json={"draft": True})
    assert response.status_code == 202, response.text
    status = wait_status(studio.client, pid, timeout=90)
    assert status["status"] == "completed" and status["draft"], status
    history = studio.client.get(f"/api/projects/{pid}/renders/").json()
    assert [(v["job_id"], v["draft"], v["stale"]) for v in history] == [
        (response.json()["job_id"], True, False), (final_id, False, True)]
    assert studio.client.get("/api/renders/999/video/").status_code == 404


def test_events_stream_pushes_progress(live_server: Callable[..., LiveServer],
                                       tmp_path: Path) -> None:
    server = live_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        studio = Studio(client, None, tmp_path, tmp_path)  # type: ignore[arg-type]
        project = studio.ready(seconds=1.0)
        events = []
        with client.stream("GET", f"/api/projects/{project['id']}/events/") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            first = _next_event(lines)
            assert first["status"] == "new"
            assert client.post(f"/api/projects/{project['id']}/render/").status_code == 202
            while True:
                event = _next_event(lines)
                events.append(event)
                if event["status"] in ("completed", "failed"):
                    break
    assert events[-1]["status"] == "completed" and events[-1]["percent"] == 100
    assert events[-1]["video_url"]
    percents = [e["percent"] for e in events]
    assert percents == sorted(percents) and len(events) >= 2


def _next_event(lines: Any) -> dict[str, Any]:
    kind = None
    for line in lines:
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and kind == "status":
            return dict(json.loads(line.split(":", 1)[1]))
    raise AssertionError("the event stream ended")


def test_restart_retries_a_job_left_processing(make_studio: Callable[..., Studio],
                                               tmp_path: Path) -> None:
    first = make_studio(runner=FakeRunner())
    project = first.ready()
    first.client.__exit__(None, None, None)
    store = Store(first.data_dir / "studio.db")
    job = store.create_job(project["id"])
    assert store.claim_job("a-server-that-died") is not None
    store.close()

    second = make_studio(data_dir=first.data_dir)  # the real worker
    status = wait_status(second.client, project["id"], timeout=90)
    assert status["status"] == "completed" and status["job_id"] == job.id
    store = Store(first.data_dir / "studio.db")
    try:
        final = store.get_job(job.id)
        assert final is not None and final.attempts == 2
    finally:
        store.close()


def test_restart_fails_a_job_that_keeps_dying(make_studio: Callable[..., Studio]) -> None:
    first = make_studio(runner=FakeRunner())
    project = first.ready()
    first.client.__exit__(None, None, None)
    store = Store(first.data_dir / "studio.db")
    store.create_job(project["id"])
    store.claim_job("dead-1")
    store.recover_interrupted("stopped")
    store.claim_job("dead-2")
    store.close()
    second = make_studio(data_dir=first.data_dir, runner=FakeRunner(hold=False))
    status = second.client.get(f"/api/projects/{project['id']}/status/").json()
    assert status["status"] == "failed"
    assert "server stopped during the render" in status["error"]
    assert "tried 2 times" in status["error"]


def test_shutdown_puts_a_running_job_back_in_the_queue(
        make_studio: Callable[..., Studio]) -> None:
    runner = FakeRunner()
    first = make_studio(runner=runner)
    project = first.ready()
    job_id = _render(first, project["id"])
    assert runner.started.wait(10)
    first.client.__exit__(None, None, None)
    store = Store(first.data_dir / "studio.db")
    try:
        job = store.get_job(job_id)
        assert job is not None and job.status == "queued" and job.attempts == 0
    finally:
        store.close()
    second = make_studio(data_dir=first.data_dir, runner=FakeRunner(hold=False))
    assert wait_status(second.client, project["id"])["status"] == "completed"


def test_cancel_in_each_state(make_studio: Callable[..., Studio]) -> None:
    runner = FakeRunner()
    studio = make_studio(runner=runner, max_jobs=1)
    running, waiting, later = studio.ready(), studio.ready(), studio.ready()
    draft = studio.client.post(f"/api/projects/{running['id']}/cancel/")
    assert draft.status_code == 409 and "no queued or running" in draft.json()["detail"]

    _render(studio, running["id"])
    assert runner.started.wait(10)
    _render(studio, waiting["id"])
    assert studio.client.get(f"/api/projects/{waiting['id']}/status/").json()["status"] == \
        "queued"
    queued = studio.client.post(f"/api/projects/{waiting['id']}/cancel/")
    assert queued.status_code == 200 and queued.json()["status"] == "cancelled"

    assert studio.client.post(f"/api/projects/{running['id']}/cancel/").status_code == 200
    status = wait_status(studio.client, running["id"], ("cancelled",), timeout=30)
    assert status["video_url"] is None

    runner.release.set()
    _render(studio, later["id"])
    assert wait_status(studio.client, later["id"])["status"] == "completed"
    done = studio.client.post(f"/api/projects/{later['id']}/cancel/")
    assert done.status_code == 409
    again = studio.client.post(f"/api/projects/{waiting['id']}/render/")
    assert again.status_code == 202  # a cancelled project can render again
    assert wait_status(studio.client, waiting["id"])["status"] == "completed"
    assert runner.max_running == 1


def test_cancel_stops_a_real_render(studio: Studio) -> None:
    project = studio.ready(seconds=40.0)
    pid = project["id"]
    _render(studio, pid)
    wait_status(studio.client, pid, ("processing",), timeout=60, phase="export")
    assert studio.client.post(f"/api/projects/{pid}/cancel/").json()["status"] == "processing"
    # A 40 s story cannot finish in the time a cancel takes: "completed" means it was ignored.
    status = wait_status(studio.client, pid, ("cancelled", "completed"), timeout=60)
    assert status["status"] == "cancelled"
    output = studio.data_dir / "projects" / str(pid) / "output"
    assert list(output.iterdir()) == []


def test_two_renders_requested_at_once(make_studio: Callable[..., Studio]) -> None:
    runner = FakeRunner()
    studio = make_studio(runner=runner, max_jobs=1)
    same = studio.ready()
    answers: list[int] = []
    barrier = threading.Barrier(2)

    def request() -> None:
        barrier.wait()
        answers.append(studio.client.post(f"/api/projects/{same['id']}/render/").status_code)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [202, 409]

    other = studio.ready()
    _render(studio, other["id"])
    assert runner.started.wait(10)
    time.sleep(0.3)
    statuses = {studio.client.get(f"/api/projects/{p['id']}/status/").json()["status"]
                for p in (same, other)}
    assert statuses == {"processing", "queued"}
    runner.release.set()
    for project in (same, other):
        assert wait_status(studio.client, project["id"])["status"] == "completed"
    assert runner.max_running == 1


def test_max_jobs_runs_renders_side_by_side(make_studio: Callable[..., Studio]) -> None:
    runner = FakeRunner()
    studio = make_studio(runner=runner, max_jobs=2)
    projects = [studio.ready() for _ in range(2)]
    for project in projects:
        _render(studio, project["id"])
    for project in projects:  # the runner's own progress: it is running that render
        wait_status(studio.client, project["id"], ("processing",), phase="export")
    runner.release.set()
    for project in projects:
        assert wait_status(studio.client, project["id"])["status"] == "completed"
    assert runner.max_running == 2


def test_a_failing_render_reports_its_error(studio: Studio) -> None:
    project = studio.ready(segments=2)
    pid = project["id"]
    folder = studio.data_dir / "projects" / str(pid)
    second = project["segment_list"][1]
    broken = next((folder / "audio").glob(f"seg-{second['id']}-*"))
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    _render(studio, pid)
    status = wait_status(studio.client, pid, timeout=60)
    assert status["status"] == "failed"
    assert "cannot render" in status["error"] or "could not be read" in status["error"]
    assert status["problems"] and status["problems"][0]["segment"] == 2
    assert status["problems"][0]["field"] == "audio"
    assert status["video_url"] is None
    assert not list((folder / "output").glob("*.mp4"))


def test_a_failing_runner_error_is_stored(make_studio: Callable[..., Studio]) -> None:
    studio = make_studio(runner=FakeRunner(fail="The video encoder failed: boom.", hold=False))
    project = studio.ready()
    _render(studio, project["id"])
    status = wait_status(studio.client, project["id"])
    assert status["status"] == "failed" and status["error"] == "The video encoder failed: boom."
    listed = studio.client.get("/api/projects/").json()[0]
    assert listed["status"] == "failed"


@pytest.mark.parametrize("state", ["queued", "processing"])
def test_deleting_a_project_stops_its_render(make_studio: Callable[..., Studio],
                                             state: str) -> None:
    runner = FakeRunner()
    studio = make_studio(runner=runner)
    blocker = studio.ready()
    project = studio.ready()
    if state == "queued":
        _render(studio, blocker["id"])
        assert runner.started.wait(10)
    _render(studio, project["id"])
    if state == "processing":
        assert runner.started.wait(10)
    assert studio.client.delete(f"/api/projects/{project['id']}/").status_code == 204
    assert studio.client.get(f"/api/projects/{project['id']}/status/").status_code == 404
    folder = studio.data_dir / "projects" / str(project["id"])
    deadline = time.monotonic() + 20  # the worker lets go of it within its cancel check
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not folder.exists()
    runner.release.set()


class _Stubborn(FakeRunner):
    """Ignores cancel until released: a render that will not stop."""

    def __call__(self, spec: RenderSpec, on_progress: Callable[[Progress], None],
                 cancel: threading.Event) -> RenderOutcome:
        self.started.set()
        self.release.wait(30)
        raise RenderCancelled("stopped at last")


def test_dispatcher_stop_says_whether_its_threads_ended(
        make_studio: Callable[..., Studio]) -> None:
    runner = _Stubborn()
    studio = make_studio(runner=runner)
    _render(studio, studio.ready()["id"])
    assert runner.started.wait(10)
    dispatcher = studio.app.state.studio.dispatcher
    assert dispatcher.stop(timeout=0.2) is False
    runner.release.set()
    assert dispatcher.stop(timeout=20) is True


def test_delete_answers_while_a_render_is_still_stopping(
        make_studio: Callable[..., Studio]) -> None:
    runner = _Stubborn()
    studio = make_studio(runner=runner)
    project = studio.ready()
    _render(studio, project["id"])
    assert runner.started.wait(10)
    folder = studio.data_dir / "projects" / str(project["id"])
    assert studio.client.delete(f"/api/projects/{project['id']}/").status_code == 204
    assert folder.exists()  # the render still holds it; the request did not wait
    runner.release.set()
    deadline = time.monotonic() + 20
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not folder.exists()


def test_render_with_background_music(studio: Studio, tmp_path: Path) -> None:
    project = studio.ready(seconds=1.0)
    pid = project["id"]
    music = studio.client.post(f"/api/projects/{pid}/assets/music/",
                               files={"file": ("bed.wav", wav_bytes(tmp_path, 3.0, seed=7))})
    assert music.status_code == 200
    _render(studio, pid)
    status = wait_status(studio.client, pid, timeout=90)
    assert status["status"] == "completed", status
    path = studio.data_dir / "projects" / str(pid) / "output" / f"render-{status['job_id']}.mp4"
    with av.open(str(path)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == 48_000


def test_a_killed_server_leaves_no_stuck_job(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, url = serve_studio(data_dir)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            studio = Studio(client, None, data_dir, tmp_path)  # type: ignore[arg-type]
            project = studio.ready(seconds=30.0)
            job_id = _render(studio, project["id"])
            wait_status(client, project["id"], ("processing",), phase="export")
    finally:
        server.kill()  # no shutdown: the render process loses its server mid-render
        server.wait()
    output = data_dir / "projects" / str(project["id"]) / "output"
    deadline = time.monotonic() + 15
    while any(output.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)  # the orphaned render notices and cleans up after itself
    assert list(output.iterdir()) == []

    server, url = serve_studio(data_dir)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            status = wait_status(client, project["id"], timeout=120)
    finally:
        server.terminate()
        server.wait(30)
    assert status["status"] == "completed" and status["job_id"] == job_id


@pytest.mark.parametrize("ending", ["failed", "cancelled"])
def test_the_previous_video_is_kept_when_a_later_render_ends_badly(
        make_studio: Callable[..., Studio], ending: str) -> None:
    runner = FakeRunner(hold=False)
    studio = make_studio(runner=runner)
    pid = studio.ready()["id"]
    first = _render(studio, pid)
    assert wait_status(studio.client, pid)["status"] == "completed"
    runner.release.clear()
    runner.fail = "The encoder gave up." if ending == "failed" else None
    runner.started.clear()
    _render(studio, pid)
    if ending == "cancelled":
        assert runner.started.wait(10)
        assert studio.client.post(f"/api/projects/{pid}/cancel/").json()["cancelling"]
    else:
        runner.release.set()
    status = wait_status(studio.client, pid)
    assert status["status"] == ending
    assert status["video"]["job_id"] == first and status["video_url"] is None
    assert "previous video is kept" in status["message"]
    assert status["state_words"] == ("Did not finish" if ending == "failed" else "Stopped")
