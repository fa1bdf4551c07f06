"""Renders whose parts are encoded by worker processes through a real Redis."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image
from redis import Redis
from rq.job import Job as RQJob
from rq.registry import FinishedJobRegistry, StartedJobRegistry

import storyreel
from conftest import RedisServer, Workers, wait_for
from storyreel.demo import write_speechlike_wav
from storyreel.distributed import QUEUE_NAME, RemoteParts


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
    connection = server.connection()
    registry = StartedJobRegistry(QUEUE_NAME, connection=connection)
    found: list[RQJob] = []

    def one_started() -> bool:
        for job_id in registry.get_job_ids():
            job = RQJob.fetch(job_id, connection=connection)
            if job.meta.get("frames", 0) > 0:
                found.append(job)
                return True
        return False

    wait_for(one_started, "a worker to start encoding a part")
    return found[0]


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
    done = [RQJob.fetch(i, connection=connection)
            for i in FinishedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()]
    assert len(done) == 3
    assert {job.worker_name for job in done} <= {"w1", "w2"}

