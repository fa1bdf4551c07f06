"""The studio keeps one render process ready and hands it job after job: replaced when it
dies or grows old, stopped with the studio, and a draft after an edit redoes only what
the edit changed."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from studiokit import BASE_URL, TINY, Studio, png_bytes, wait_status

from storyreel.service import create_app
from storyreel.service.jobs import WarmRunner
from storyreel.service.store import Store
from storyreel.service.worker import warm_up


def _runner(studio: Studio) -> WarmRunner:
    runner = studio.app.state.studio.dispatcher.runner
    assert isinstance(runner, WarmRunner)
    return runner


def _ended(pid: int, timeout: float = 20.0) -> bool:
    """True once process ``pid`` is gone or a zombie (its parent reaps it later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def _render(studio: Studio, pid: int, *, draft: bool = True, timeout: float = 120
            ) -> dict[str, Any]:
    response = studio.client.post(f"/api/projects/{pid}/render/", json={"draft": draft})
    assert response.status_code == 202, response.text
    return wait_status(studio.client, pid, timeout=timeout)


def test_one_ready_process_renders_job_after_job_and_survives_a_cancel(
        studio: Studio) -> None:
    runner = _runner(studio)
    [ready] = runner.ready_pids
    project = studio.ready(segments=2, seconds=0.6)
    first = _render(studio, project["id"])
    assert first["status"] == "completed", first
    assert {"worker", "analyse", "parts", "assemble", "verify", "finish"} <= set(
        first["timings"])

    long = studio.ready(seconds=40.0)
    studio.client.post(f"/api/projects/{long['id']}/render/", json={})
    wait_status(studio.client, long["id"], ("processing",), timeout=60, phase="export")
    studio.client.post(f"/api/projects/{long['id']}/cancel/")
    assert wait_status(studio.client, long["id"], timeout=60)["status"] == "cancelled"

    again = _render(studio, project["id"])
    assert again["status"] == "completed", again
    assert runner.ready_pids == [ready] and runner.started == 1  # the same process throughout


def test_a_process_killed_while_ready_or_rendering_is_replaced(studio: Studio) -> None:
    runner = _runner(studio)
    [ready] = runner.ready_pids
    os.kill(ready, signal.SIGKILL)
    assert _ended(ready)
    project = studio.ready(seconds=0.6)
    assert _render(studio, project["id"])["status"] == "completed"
    [second] = runner.ready_pids
    assert second != ready and runner.started == 2

    long = studio.ready(seconds=40.0)
    studio.client.post(f"/api/projects/{long['id']}/render/", json={})
    wait_status(studio.client, long["id"], ("processing",), timeout=60, phase="export")
    os.kill(second, signal.SIGKILL)
    failed = wait_status(studio.client, long["id"], timeout=60)
    assert failed["status"] == "failed" and "stopped unexpectedly" in failed["error"]
    assert _render(studio, project["id"])["status"] == "completed"
    assert runner.started == 3 and second not in runner.ready_pids


@pytest.mark.parametrize("limit", [{"max_renders": 1}, {"max_rss": 1}])
def test_a_process_past_its_job_or_memory_limit_is_replaced(
        make_studio: Callable[..., Studio], limit: dict[str, int]) -> None:
    runner = WarmRunner(warm_up=False, **limit)
    runner.start()
    try:
        studio = make_studio(runner=runner)
        [first] = runner.ready_pids
        project = studio.ready(seconds=0.6)
        assert _render(studio, project["id"])["status"] == "completed"
        [second] = runner.ready_pids
        assert second != first and _ended(first)
        assert _render(studio, project["id"])["status"] == "completed"
        assert second not in runner.ready_pids and _ended(second)
    finally:
        runner.close()
    assert all(_ended(pid) for pid in runner.ready_pids)


def test_stopping_the_studio_requeues_its_render_and_stops_the_process(
        tmp_path: Path) -> None:
    data, media = tmp_path / "data", tmp_path / "media"
    media.mkdir()
    client = TestClient(create_app(data, warm_up=False), base_url=BASE_URL)
    with client:
        own = Studio(client, client.app, data, media)  # type: ignore[arg-type]
        runner = _runner(own)
        [ready] = runner.ready_pids
        long = own.ready(seconds=40.0)
        client.post(f"/api/projects/{long['id']}/render/", json={})
        wait_status(client, long["id"], ("processing",), timeout=60, phase="export")
    assert _ended(ready) and runner.ready_pids == []
    store = Store(data / "studio.db")
    store.open()
    try:
        job = store.latest_job(long["id"])
        assert job is not None and job.status == "queued"
    finally:
        store.close()


def test_warming_up_renders_and_speaks_without_a_hitch() -> None:
    assert warm_up()


def test_warming_up_gives_way_to_a_job_that_came() -> None:
    came = threading.Event()
    came.set()
    assert not warm_up(came)  # stopped at its first cancel check, the job goes first


def _parts(detail: str) -> tuple[int, int]:
    found = re.search(r"Encoded (\d+) of (\d+) parts? \((\d+) reused\)", detail)
    assert found is not None, detail
    return int(found.group(1)), int(found.group(3))


def test_a_draft_after_an_edit_speaks_and_encodes_only_what_changed(studio: Studio) -> None:
    texts = ["The lighthouse keeper climbed the stairs.", "Far out, a ship turned home.",
             "The lamp was lit at last."]
    response = studio.client.post("/api/projects/", json={
        "title": "Keeper", **TINY, "segments": [{"text": text} for text in texts]})
    assert response.status_code == 201, response.text
    project = response.json()
    pid = project["id"]
    for n, segment in enumerate(project["segment_list"]):
        image = png_bytes(colour=(60 * n, 120, 200))
        assert studio.upload(pid, segment["id"], "image", image).status_code == 200
    first = _render(studio, pid, timeout=240)
    assert first["status"] == "completed", first
    store = studio.app.state.studio.store
    before = store.segments(pid)
    _, first_reused = _parts(first["detail"])
    assert first_reused == 0

    edited = before[1].id
    studio.client.patch(f"/api/projects/{pid}/segments/{edited}/",
                        json={"text": "Far out, a small ship turned for home."})
    draft = _render(studio, pid, timeout=240)
    assert draft["status"] == "completed", draft
    changed = [a.id for a, b in zip(store.segments(pid), before, strict=True)
               if a.audio_file != b.audio_file]
    assert changed == [edited]  # one narration spoken again
    encoded, reused = _parts(draft["detail"])
    assert 1 <= encoded < encoded + reused == _parts(first["detail"])[0]


def test_a_process_closed_while_warming_up_ends_and_leaves_no_temp_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing the runner does not wait for a process still starting: it is told to end
    (SIGTERM) and unwinds, removing its warm-up folder."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the child's temp folders land here
    runner = WarmRunner()
    runner.start()
    [pid] = runner.ready_pids
    deadline = time.monotonic() + 120
    while not list(temp.glob("storyreel-warm-*")):  # the warm-up render has begun
        assert time.monotonic() < deadline, "the process never began warming up"
        time.sleep(0.02)
    runner.close()
    assert _ended(pid)
    assert runner.ready_pids == []
    assert list(temp.iterdir()) == []
