"""Narrations spoken by worker processes through a real Redis, into a shared cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from farmkit import (
    RedisServer,
    Workers,
    fetch_job,
    parts_queue,
    refused_port,
    started_job,
    wait_for,
)
from PIL import Image
from redis import Redis
from rq.job import Job as RQJob
from rq.registry import FinishedJobRegistry, StartedJobRegistry

from storyreel.cli import main
from storyreel.distributed import QUEUE_NAME, RemoteSpeaker
from storyreel.errors import RenderCancelled, WorkerError
from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.narrate import Narration, Narrator

TEXTS = ("The lighthouse stood alone on the cliff.",
         "Every night its keeper climbed one hundred steps.")
#: Long enough to be caught while a worker speaks it (about 45 s of speech in twelve
#: sentences: a worker publishes its count of sentences every half second, so several
#: seconds of synthesis are still ahead when a test sees the first one done).
LONG = " ".join(f"Night {i} came, and the keeper climbed the stairs once more."
                for i in range(12))


def pcm(path: Path) -> tuple[np.ndarray[Any, Any], int]:
    """A WAV's samples as written (16-bit, its own rate), read back with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        blocks = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
    return np.concatenate(blocks), rate


def speech_jobs(url: str) -> list[RQJob]:
    """The narration jobs the workers finished."""
    connection = Redis.from_url(url)
    ids = FinishedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()
    jobs = [fetch_job(i, connection) for i in ids]
    return [j for j in jobs if (j.description or "").startswith("storyreel narration")]


def remote_narrator(folder: Path, url: str) -> Narrator:
    return Narrator(NarrationCache(folder), speaker=RemoteSpeaker(url))


def started_speech(server: RedisServer) -> RQJob:
    """Wait for a narration a worker is speaking (some sentences done)."""
    return started_job(server, "sentences", "a worker to start speaking")


class Speaking:
    """``narrator.speak`` on a thread; its outcome (narration or error) kept."""

    def __init__(self, narrator: Narrator, text: str) -> None:
        self.cancel = threading.Event()
        self.outcome: Any = None

        def check() -> None:
            if self.cancel.is_set():
                raise RenderCancelled("narration cancelled")

        def run() -> None:
            try:
                self.outcome = narrator.speak(text, Voice(), 1, check)
            except BaseException as exc:
                self.outcome = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> Any:
        self.thread.join(240)
        assert not self.thread.is_alive(), "the narration did not end"
        return self.outcome


def narrate_spec(folder: Path, texts: list[str], cache: Path) -> dict[str, Any]:
    """What the studio sends its job process for a "Generate narration" job."""
    voice = Voice().model_dump(mode="json")
    return {"job_id": 3, "kind": "narrate", "base_dir": str(folder), "output": "",
            "manifest": {"title": "Keeper", "settings": {"voice": voice},
                         "segments": [{"image": "missing.png", "text": t} for t in texts]},
            "narrate": list(range(len(texts))), "options": {}, "cache": str(cache)}


def run_job_process(spec: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """The studio's job process, with the ``STORYREEL_REDIS`` that ``serve --redis`` sets."""
    child = subprocess.Popen([sys.executable, "-m", "storyreel.service.worker"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "STORYREEL_REDIS": url})
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(spec) + "\n")
        child.stdin.flush()  # kept open: closing it is how the studio cancels
        return [json.loads(line) for line in child.stdout]
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(60)


def test_studio_narration_job_is_spoken_by_workers_like_a_local_one(
        tmp_path: Path, workers: Workers) -> None:
    workers.start("w1", "w2")
    texts = [TEXTS[0], TEXTS[1], TEXTS[0]]  # the third says the first's text again
    lines = run_job_process(narrate_spec(tmp_path / "project", texts, tmp_path / "cache"),
                            workers.url)

    last = lines[-1]
    assert last["kind"] == "done", lines[-3:]
    progress = [line["payload"]["done"] for line in lines if line["kind"] == "progress"]
    assert progress[0] == 0 and progress[-1] == 3
    written = last["payload"]["narrations"]
    assert [item["position"] for item in written] == [0, 1, 2]
    jobs = speech_jobs(workers.url)
    assert len(jobs) == 2  # one per text, whoever says it
    assert {job.worker_name for job in jobs} <= {"w1", "w2"}
    local = Narrator(NarrationCache(tmp_path / "local"))
    for item, text in zip(written, texts, strict=True):
        samples, rate = pcm(tmp_path / "project" / item["file"])
        words = len(text.split())
        assert 1.5 <= words / (len(samples) / rate) <= 5.0  # a voice's pace
        assert np.sqrt(np.mean((samples / 32768.0) ** 2)) > 0.02  # not silence
        assert item["samples"] == round(len(samples) * 48_000 / rate)
        mine, my_rate = pcm(local.speak(text, Voice()).entry.wav)
        assert my_rate == rate
        assert np.array_equal(mine, samples)
    assert len(list((tmp_path / "cache" / "narration").glob("*.json"))) == 2


def test_render_on_workers_speaks_a_text_only_project(tmp_path: Path, workers: Workers) -> None:
    workers.start("w1", "w2")
    segments = []
    for i, text in enumerate(TEXTS):
        picture = np.full((90, 160, 3), 40 + 80 * i, dtype=np.uint8)
        Image.fromarray(picture).save(tmp_path / f"{i}.png")
        segments.append({"image": f"{i}.png", "text": text})
    (tmp_path / "story.json").write_text(json.dumps({
        "title": "Keeper", "width": 160, "height": 90, "fps": 25, "segments": segments,
        "settings": {"preset": "ultrafast"}}), encoding="utf-8")

    assert main(["render", str(tmp_path / "story.json"), "--redis", workers.url, "-q"]) == 0
    video = tmp_path / "output" / "keeper.mp4"
    with av.open(str(video)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        container.seek(0)
        sound = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    assert frames > 25 * 4  # two spoken sentences
    assert np.sqrt(np.mean(sound**2)) > 0.02
    assert len(speech_jobs(workers.url)) == 2
    spoken = tmp_path / ".storyreel-cache" / "narration"
    assert len(list(spoken.glob("*.wav"))) == len(list(spoken.glob("*.json"))) == 2


def test_a_killed_worker_s_narration_is_spoken_by_another(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    workers.start("w1", "w2")
    speaking = Speaking(remote_narrator(tmp_path / "cache", workers.url), LONG)
    victim = started_speech(redis_server)
    horse = int(victim.meta["pid"])
    workers.kill(str(victim.worker_name))  # the worker first, so it cannot report the loss
    os.kill(horse, signal.SIGKILL)  # and the work-horse that was speaking

    narration = speaking.join()
    assert isinstance(narration, Narration), narration
    assert narration.seconds > 40  # the whole text (about 47 s), not what preceded the kill
    (job,) = speech_jobs(workers.url)
    assert job.id != victim.id and job.worker_name != victim.worker_name
    assert "attempt 2" in (job.description or "")
    assert json.loads(job.return_value()) == {"spoken": True}
    folder = tmp_path / "cache" / "narration"
    assert sorted(p.suffix for p in folder.iterdir() if p.is_file()) == [".json", ".wav"]


def test_cancelling_stops_the_worker_and_caches_nothing(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    workers.start("w1")
    speaking = Speaking(remote_narrator(tmp_path / "cache", workers.url), LONG)
    running = started_speech(redis_server)
    speaking.cancel.set()

    assert isinstance(speaking.join(), RenderCancelled)
    connection = redis_server.connection()

    def stopped() -> bool:
        return not StartedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()

    wait_for(stopped, "the cancelled narration to stop")
    assert fetch_job(running.id, connection).get_status() != "started"
    assert workers.processes["w1"].poll() is None
    assert list((tmp_path / "cache" / "narration").glob("*.wav")) == []


def test_two_senders_of_the_same_text_share_one_job(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    workers.start("w1")
    first = Speaking(remote_narrator(tmp_path / "cache", workers.url), LONG)
    started_speech(redis_server)
    second = Speaking(remote_narrator(tmp_path / "cache", workers.url), LONG)

    a, b = first.join(), second.join()
    assert isinstance(a, Narration) and isinstance(b, Narration), (a, b)
    assert a.entry == b.entry
    assert len(speech_jobs(workers.url)) == 1


def test_a_worker_of_another_build_refuses_the_narration(
        tmp_path: Path, workers: Workers, monkeypatch: pytest.MonkeyPatch) -> None:
    workers.start("w1")
    from storyreel.distributed.tasks import speech_identity

    monkeypatch.setattr("storyreel.distributed.speech.speech_identity",
                        lambda: {**speech_identity(), "storyreel": "0.0.9"})
    with pytest.raises(WorkerError,
                       match=r"refused the narration: storyreel 0\.1\.0 \(sender: 0\.0\.9\)"):
        remote_narrator(tmp_path / "cache", workers.url).speak(TEXTS[0], Voice())
    assert list((tmp_path / "cache" / "narration").glob("*.wav")) == []


def test_a_worker_that_cannot_see_the_cache_names_it_once(
        tmp_path: Path, workers: Workers, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender sees the folder; the workers (as on another machine) do not."""
    workers.start("w1")
    hidden = tmp_path / "only-here"
    monkeypatch.setattr("storyreel.distributed.speech.shared_root", lambda cache: str(hidden))
    with pytest.raises(WorkerError, match=f"cannot see {hidden}: mount the shared folder"):
        remote_narrator(tmp_path / "cache", workers.url).speak(TEXTS[0], Voice())
    connection = Redis.from_url(workers.url)
    assert len(speech_jobs(workers.url)) == 1  # answered once, not retried
    assert parts_queue(connection).count == 0


def test_unreachable_redis_and_no_workers_are_one_clear_error(
        tmp_path: Path, redis_server: RedisServer) -> None:
    with refused_port() as port:
        url = f"redis://127.0.0.1:{port}/0"
        with pytest.raises(WorkerError, match=f"cannot reach Redis at {url}"):
            remote_narrator(tmp_path / "cache", url).speak(TEXTS[0], Voice())
    with pytest.raises(WorkerError, match="no storyreel worker listens"):
        remote_narrator(tmp_path / "cache", redis_server.url).speak(TEXTS[0], Voice())


def test_a_narration_delivered_again_is_not_spoken_again(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    from storyreel.distributed.messages import speech_request
    from storyreel.distributed.tasks import speak_remote, speech_identity

    workers.start("w1")
    speech = Narrator(NarrationCache(tmp_path)).job(TEXTS[1], Voice(), 2)
    queue = parts_queue(redis_server.connection())
    (tmp_path / "narration").mkdir()
    answers: list[Any] = []
    for _ in range(2):  # the same narration, delivered twice
        request = speech_request(speech, str(tmp_path), "0" * 32, speech_identity())
        job = queue.enqueue(speak_remote, request)
        wait_for(lambda: job.get_status() == "finished", "the narration")  # noqa: B023
        answers.append(json.loads(job.return_value()))
    assert answers == [{"spoken": True}, {"spoken": False}]
    entry = NarrationCache(tmp_path).get(speech.key)
    assert entry is not None
    assert len(pcm(entry.wav)[0]) > 24_000


def test_a_worker_writing_to_another_folder_at_that_path_is_named(
        tmp_path: Path, workers: Workers, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker sees a folder at the path, but not the sender's (not really shared)."""
    workers.start("w1")
    elsewhere = tmp_path / "not-shared"
    (elsewhere / "narration").mkdir(parents=True)
    monkeypatch.setattr("storyreel.distributed.speech.shared_root", lambda cache: str(elsewhere))
    with pytest.raises(WorkerError, match=r"worker w1 spoke the narration of segment 4 but it "
                                          r"is not in \S+/cache/narration here: mount"):
        remote_narrator(tmp_path / "cache", workers.url).speak(TEXTS[0], Voice(), 4)
