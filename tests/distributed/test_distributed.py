"""Renders whose parts are encoded by worker processes through a real Redis."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from farmkit import RedisServer, Workers, fetch_job, parts_queue, started_job, wait_for
from PIL import Image
from redis import Redis
from rq.job import Job as RQJob
from rq.registry import FinishedJobRegistry, StartedJobRegistry

import storyreel
from storyreel.demo import write_speechlike_wav
from storyreel.distributed import QUEUE_NAME, RemoteParts
from storyreel.errors import RenderCancelled, WorkerError


def make_project(folder: Path, seconds: list[float], size: tuple[int, int] = (160, 90),
                 preset: str = "ultrafast") -> storyreel.Project:
    (folder / "media").mkdir(parents=True, exist_ok=True)
    segments = []
    for i, length in enumerate(seconds):
        picture = np.random.default_rng(i).integers(0, 255, (120, 200, 3), dtype=np.uint8)
        Image.fromarray(picture).save(folder / f"media/{i}.png")
        write_speechlike_wav(folder / f"media/{i}.wav", length, seed=i)
        segments.append({"image": f"media/{i}.png", "audio": f"media/{i}.wav",
                         "text": f"Part {i} of the story"})
    manifest = folder / "story.json"
    manifest.write_text(json.dumps({
        "title": "Farm", "width": size[0], "height": size[1], "fps": 25,
        "segments": segments, "settings": {"preset": preset}}), encoding="utf-8")
    return storyreel.load_project(manifest)


def decoded(path: Path) -> list[np.ndarray[Any, Any]]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="yuv420p") for frame in container.decode(video=0)]


def started_part(server: RedisServer) -> RQJob:
    """Wait for a part that a worker has started encoding (some frames done)."""
    return started_job(server, "frames", "a worker to start encoding a part")


def fails_remotely(folder: Path, url: str, match: str) -> None:
    """A small project rendered on the workers at ``url`` fails with ``match``; nothing
    is published."""
    project = make_project(folder, [0.8])
    with pytest.raises(WorkerError, match=match):
        storyreel.render(project, folder / "out.mp4", cache=False, parts=RemoteParts(url))
    assert not (folder / "out.mp4").exists()
    assert not list(folder.glob(".*.mp4"))


class Background:
    """A render on a thread; its outcome (result or error) kept for the test."""

    def __init__(self, project: storyreel.Project, output: Path, **options: Any) -> None:
        self.cancel = threading.Event()
        self.outcome: Any = None
        self.thread = threading.Thread(
            target=self._run, args=(project, output, options), daemon=True)
        self.thread.start()

    def _run(self, project: storyreel.Project, output: Path, options: dict[str, Any]) -> None:
        try:
            self.outcome = storyreel.render(project, output, cancel=self.cancel, **options)
        except BaseException as exc:
            self.outcome = exc

    def join(self) -> Any:
        self.thread.join(240)
        assert not self.thread.is_alive(), "the render did not end"
        return self.outcome


def test_distributed_render_is_frame_identical_to_a_local_render(
        tmp_path: Path, workers: Workers, monkeypatch: pytest.MonkeyPatch) -> None:
    workers.start("w1", "w2")
    project = make_project(tmp_path, [1.2, 1.5, 1.1])
    monkeypatch.setenv("STORYREEL_WORKERS", "1")
    local = storyreel.render(project, tmp_path / "local.mp4", cache=False)
    remote = storyreel.render(project, tmp_path / "remote.mp4", cache=False,
                              parts=RemoteParts(workers.url))

    assert remote.chunks_encoded == local.chunks_encoded == 3
    assert remote.frames == local.frames
    mine, theirs = decoded(tmp_path / "local.mp4"), decoded(tmp_path / "remote.mp4")
    assert len(mine) == len(theirs) == local.frames
    assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
    connection = Redis.from_url(workers.url)
    done = [fetch_job(i, connection)
            for i in FinishedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()]
    assert len(done) == 3
    assert {job.worker_name for job in done} <= {"w1", "w2"}



def test_a_killed_worker_s_part_is_encoded_by_another_and_the_render_verifies(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    workers.start("w1", "w2")
    # One part long and slow enough to be caught while it is being encoded (as long as the
    # cancel test's parts: the retry encodes it whole again).
    project = make_project(tmp_path, [6.0], size=(320, 180), preset="veryslow")
    render = Background(project, tmp_path / "out.mp4", cache=False,
                        parts=RemoteParts(workers.url))
    victim = started_part(redis_server)
    horse = int(victim.meta["pid"])
    workers.kill(str(victim.worker_name))  # the worker first, so it cannot report the loss
    os.kill(horse, signal.SIGKILL)  # and the work-horse that was encoding the part

    result = render.join()
    assert isinstance(result, storyreel.RenderResult), result
    assert result.chunks_encoded == 1
    assert len(decoded(tmp_path / "out.mp4")) == result.frames
    connection = redis_server.connection()
    finished = FinishedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()
    assert len(finished) == 1
    retried = fetch_job(finished[0], connection)
    assert retried.id != victim.id
    assert retried.worker_name != victim.worker_name
    assert "attempt 2" in (retried.description or "")
    assert not list((tmp_path / "out.mp4").parent.glob(".*"))


def test_cancelling_a_distributed_render_stops_its_parts_and_publishes_nothing(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    workers.start("w1", "w2")
    project = make_project(tmp_path, [6.0, 6.0], size=(320, 180), preset="veryslow")
    render = Background(project, tmp_path / "out.mp4", cache=False,
                        parts=RemoteParts(workers.url))
    running = started_part(redis_server)
    render.cancel.set()

    assert isinstance(render.join(), RenderCancelled)
    assert not (tmp_path / "out.mp4").exists()
    connection = redis_server.connection()
    queue = parts_queue(connection)

    def nothing_left() -> bool:
        return not StartedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids() \
            and queue.count == 0

    wait_for(nothing_left, "the cancelled parts to stop")
    assert fetch_job(running.id, connection).get_status() != "started"
    assert set(workers.processes) == {"w1", "w2"}
    assert all(p.poll() is None for p in workers.processes.values())


def test_unreachable_redis_is_one_clear_error(tmp_path: Path) -> None:
    from farmkit import refused_port

    with refused_port() as port:
        url = f"redis://127.0.0.1:{port}/0"
        fails_remotely(tmp_path, url, f"cannot reach Redis at {url}")


def test_no_workers_is_one_clear_error(tmp_path: Path, redis_server: RedisServer) -> None:
    fails_remotely(tmp_path, redis_server.url, "no storyreel worker listens")


def test_a_worker_of_another_build_refuses_and_nothing_is_published(
        tmp_path: Path, workers: Workers, monkeypatch: pytest.MonkeyPatch) -> None:
    workers.start("w1")
    from storyreel.render.keys import build_identity

    monkeypatch.setattr("storyreel.distributed.remote.build_identity",
                        lambda: {**build_identity(), "storyreel": "0.0.9"})
    fails_remotely(tmp_path, workers.url,
                   r"refused the part: storyreel 0\.1\.0 \(render: 0\.0\.9\)")


def test_a_worker_names_a_path_it_cannot_see_and_the_part_is_not_retried(
        tmp_path: Path, workers: Workers, monkeypatch: pytest.MonkeyPatch) -> None:
    """The submitter sees the folder; the workers (as on another machine) do not."""
    workers.start("w1")
    hidden = tmp_path / "only-here"

    from storyreel.render import job as job_module
    from storyreel.render.parts import PartJob

    original = PartJob

    def elsewhere(*args: Any) -> Any:
        part = original(*args)
        return original(part.project, part.story, part.chunk, part.settings, part.fades,
                        hidden / part.path.name)

    monkeypatch.setattr(job_module, "PartJob", elsewhere)
    fails_remotely(tmp_path, workers.url, f"cannot see {hidden}: mount the shared folder")
    connection = Redis.from_url(workers.url)
    ran = FinishedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()
    assert len(ran) == 1  # answered once, not retried
    assert parts_queue(connection).count == 0


def test_redis_going_away_mid_render_is_one_clear_error(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    workers.start("w1")
    project = make_project(tmp_path, [6.0], size=(320, 180), preset="veryslow")
    render = Background(project, tmp_path / "out.mp4", cache=False,
                        parts=RemoteParts(workers.url))
    started_part(redis_server)
    redis_server.stop()

    error = render.join()
    assert isinstance(error, WorkerError), error
    assert "lost the connection to Redis" in str(error)
    assert not (tmp_path / "out.mp4").exists()


def test_a_part_delivered_again_is_not_encoded_again(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    from storyreel.distributed.messages import part_request
    from storyreel.distributed.tasks import encode_remote
    from storyreel.render.keys import build_identity
    from storyreel.render.parts import PartJob
    from storyreel.render.progress import CancelToken

    sent: list[PartJob] = []

    class Recording(RemoteParts):
        def __call__(self, jobs: Sequence[PartJob], cancel: CancelToken,
                     on_frame: Callable[[], None],
                     on_part: Callable[[PartJob, list[str]], None]) -> None:
            sent.extend(jobs)
            super().__call__(jobs, cancel, on_frame, on_part)

    workers.start("w1")
    project = make_project(tmp_path, [1.0])
    storyreel.render(project, tmp_path / "out.mp4", cache=False,
                     parts=Recording(workers.url))
    assert len(sent) == 1
    (tmp_path / "again").mkdir()
    part = dataclasses.replace(sent[0], path=tmp_path / "again" / "part.mp4")
    queue = parts_queue(redis_server.connection())
    answers: list[Any] = []
    for _ in range(2):  # the same part, delivered twice
        request = part_request(part, "0" * 32, build_identity())
        job = queue.enqueue(encode_remote, request)
        wait_for(lambda: job.get_status() == "finished", "the part to be done")  # noqa: B023
        answers.append(json.loads(job.return_value()))
    assert [a["encoded"] for a in answers] == [True, False]
    assert len(decoded(part.path)) == part.chunk.frames
    assert sorted(p.name for p in part.path.parent.iterdir()) == ["part.json", "part.mp4"]
