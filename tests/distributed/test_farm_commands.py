"""The command line and the studio's render process with workers on Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from farmkit import RedisServer, Workers, refused_port
from redis import Redis
from rq.registry import FinishedJobRegistry
from test_distributed import make_project

from storyreel.cli import main
from storyreel.distributed import QUEUE_NAME


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _parts_done(url: str) -> int:
    return len(FinishedJobRegistry(QUEUE_NAME, connection=Redis.from_url(url)).get_job_ids())


def test_cli_batch_on_workers(tmp_path: Path, workers: Workers) -> None:
    workers.start("w1", "w2")
    make_project(tmp_path / "a", [1.1, 1.2])
    make_project(tmp_path / "b", [1.3])
    batch = tmp_path / "batch.txt"
    batch.write_text("a/story.json\nb/story.json\n", encoding="utf-8")
    assert main(["render", "--batch", str(batch), "--redis", workers.url, "-q"]) == 0
    videos = sorted(tmp_path.glob("*/output/farm.mp4"))
    assert len(videos) == 2
    assert all(_frames(v) > 25 for v in videos)
    assert _parts_done(workers.url) == 3


def test_cli_says_in_one_line_when_redis_cannot_be_reached(tmp_path: Path) -> None:
    make_project(tmp_path, [0.8])
    with refused_port() as port:
        _cli_says_redis_cannot_be_reached(tmp_path, f"redis://127.0.0.1:{port}/0")


def _cli_says_redis_cannot_be_reached(tmp_path: Path, url: str) -> None:
    for command in (["render", str(tmp_path / "story.json"), "--redis", url],
                    ["worker", "--redis", url, "--shared", str(tmp_path)],
                    ["serve", "--redis", url, "--port", "0",
                     "--data-dir", str(tmp_path / "studio")]):
        done = subprocess.run([sys.executable, "-m", "storyreel", *command],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"storyreel: error: cannot reach Redis at {url}: ")
        assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("output/*"))  # nothing published, no temp left


def test_workers_stop_soon_after_one_sigterm(workers: Workers) -> None:
    """One SIGTERM stops an idle worker (warm shutdown) at once, not after RQ's listener
    has waited out its minute for a command (as with redis-py 8): the bench's farm and a
    creator's Ctrl-C both wait for it. Three workers, as the listener's race is not met
    every time."""
    names = ("w1", "w2", "w3")
    workers.start(*names)
    processes = [workers.processes[name] for name in names]
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for name, process in zip(names, processes, strict=True):
        try:  # a bound on waiting, far above a normal stop and below the listener's minute
            code = process.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {name} still running 30 s after SIGTERM:\n{workers.log(name)}")
        assert code == 0, workers.log(name)


def test_a_worker_s_command_listener_stops_within_a_second(
        tmp_path: Path, redis_server: RedisServer) -> None:
    """The race the test above meets only sometimes, met every time: the listener woken by
    its own unsubscribing then waits for a message before it looks whether to stop."""
    from storyreel.distributed.jobs import open_queue
    from storyreel.distributed.worker import StoryreelWorker

    connection = redis_server.connection()
    worker = StoryreelWorker([open_queue(QUEUE_NAME, connection)], connection=connection)
    worker.subscribe()
    listener = worker.pubsub_thread
    assert listener is not None
    try:
        time.sleep(0.3)
        worker.pubsub.unsubscribe()
        time.sleep(0.3)
        listener.stop(timeout=5)  # RQ's own listener (60 s at a time) is still there then
        assert not listener.is_alive()
    finally:
        listener.stop(timeout=0)
        worker.pubsub.close()
        connection.close()


def test_studio_render_process_sends_parts_to_workers(
        tmp_path: Path, redis_server: RedisServer, workers: Workers) -> None:
    """``storyreel serve --redis`` passes STORYREEL_REDIS to each render's process."""
    workers.start("w1")
    make_project(tmp_path, [1.2, 1.1])
    manifest = json.loads((tmp_path / "story.json").read_text(encoding="utf-8"))
    spec = {"job_id": 7, "manifest": manifest, "base_dir": str(tmp_path),
            "output": str(tmp_path / "render-7.mp4"), "cache": str(tmp_path / "cache")}
    child = subprocess.Popen([sys.executable, "-m", "storyreel.service.worker"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "STORYREEL_REDIS": redis_server.url})
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(spec) + "\n")
        child.stdin.flush()  # kept open: closing it is how the studio cancels
        lines = [json.loads(line) for line in child.stdout]
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(60)
    last = lines[-1]
    assert last["kind"] == "done", lines[-3:]
    assert _frames(tmp_path / "render-7.mp4") == last["payload"]["frames"]
    assert _parts_done(redis_server.url) == 2


def test_farm_benchmark_reports_overhead_and_per_part_figures(
        tmp_path: Path, redis_server: RedisServer) -> None:
    """The benchmark starts its own Redis and workers; this one only proves redis-server
    is here (else the test skips)."""
    pytest.importorskip("psutil", reason="the bench extra is not installed")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "bench.farm", "--segments", "2", "--size",
                           "160x90", "--preset", "ultrafast", "--workers", "1",
                           "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")],
                          cwd=root, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = json.loads((tmp_path / "out" / "farm.json").read_text(encoding="utf-8"))
    assert run["workers"] == 1 and run["parts"] >= 2
    assert len(run["per_part"]) == run["parts"]
    assert sum(p["frames"] for p in run["per_part"]) == run["frames"]
    assert 0 < run["overhead_share"] < 1
    assert run["worker_cpu"] > 0 and run["dispatch_cpu"] > 0 and run["assembly_cpu"] > 0
    assert run["before_parts"] > 0 and run["after_parts"] > 0
    assert run["before_parts"] + run["after_parts"] < run["wall"]
