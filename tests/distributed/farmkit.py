"""Test kit: a private Redis (persistence off, loopback, a free port) and worker processes.

Both are started by the tests and stopped by pid. Without ``redis-server`` the tests
skip and say why; with ``STORYREEL_REQUIRE_REDIS=1`` (set in CI) they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("rq", reason="the workers extra (rq) is not installed")

from bench.farm import redis_answering
from redis import Redis
from rq import Queue, Worker
from rq.job import Job as RQJob
from rq.registry import StartedJobRegistry

from storyreel.distributed import QUEUE_NAME
from storyreel.distributed.jobs import SERIALIZER, StoryreelJob, open_queue

_REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
_WAIT = 60.0  # upper bound on waiting for a process to come up (never a timed assertion)


def wait_for(check: Callable[[], bool], what: str, limit: float = _WAIT) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def started_job(server: RedisServer, progress: str, what: str) -> RQJob:
    """Wait for a job a worker has started and made progress on (``progress`` in its
    meta above 0: ``frames`` of a part, ``sentences`` of a narration)."""
    connection = server.connection()
    registry = StartedJobRegistry(QUEUE_NAME, connection=connection)
    found: list[RQJob] = []

    def one_started() -> bool:
        for job_id in registry.get_job_ids():
            job = fetch_job(job_id, connection)
            if job.meta.get(progress, 0) > 0:
                found.append(job)
                return True
        return False

    wait_for(one_started, what)
    return found[0]


def fetch_job(job_id: str, connection: Redis) -> RQJob:
    """A storyreel job as the workers write it (JSON)."""
    return StoryreelJob.fetch(job_id, connection=connection, serializer=SERIALIZER)


def parts_queue(connection: Redis) -> Queue:
    """The queue storyreel's senders and workers use (JSON jobs)."""
    return open_queue(QUEUE_NAME, connection)


def free_port() -> int:
    """A loopback port free right now (another process may take it before it is used)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port held bound and never listened on: connecting to it is refused for
    as long as this lasts, and no other process can start a server there meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]

    def connection(self) -> Redis:
        return Redis.from_url(self.url)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@contextlib.contextmanager
def running_redis(folder: Path, password: str | None = None,
                  listen: Sequence[str] = (), url: str | None = None
                  ) -> Iterator[RedisServer]:
    """redis-server on a free loopback port, persistence off (with ``password``: AUTH
    required, the URL carries it); terminated on exit.

    ``listen`` replaces the ``--port`` option (e.g. TLS options), ``url`` the URL the
    server is reached at."""
    if not os.path.exists(_REDIS):
        if os.environ.get("STORYREEL_REQUIRE_REDIS"):
            pytest.fail("redis-server is required here but not installed")
        pytest.skip("redis-server is not installed (Debian: apt install redis-server)")
    for attempt in range(3):  # the port chosen may be taken (another test process) first
        port = free_port()
        process = subprocess.Popen(
            [_REDIS, *(listen or ["--port", str(port)]), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder),
             *(["--requirepass", password] if password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        auth = f":{password}@" if password else ""
        server = RedisServer(url or f"redis://{auth}127.0.0.1:{port}/0", process)
        try:
            if _answers(server):
                break
        except BaseException:
            server.stop()
            raise
        server.stop()
        if listen or attempt == 2:
            pytest.fail("redis-server did not answer at its own port (exited, or the port "
                        "was another process's)")
    try:
        yield server
    finally:
        server.stop()


def _answers(server: RedisServer) -> bool:
    """Whether ``server``'s own process answers at its URL (not another one that had the
    port first); False if it exited."""
    pid = redis_answering(server.process, server.url,
                          lambda check: wait_for(check, "redis-server to answer"))
    return pid == server.process.pid


@dataclass
class Workers:
    url: str
    folder: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    sessions: list[int] = field(default_factory=list)

    def start(self, *names: str) -> None:
        for name in names:
            log = (self.folder / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "storyreel", "worker", "--redis", self.url,
                 "--shared", str(self.folder), "--name", name], stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)  # horses stay in its session
            self.sessions.append(self.processes[name].pid)
            log.close()
        connection = Redis.from_url(self.url)
        queue = parts_queue(connection)
        wait_for(lambda: {w.name for w in Worker.all(queue=queue)} >= set(names),
                 f"workers {names} to register")
        connection.close()

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.send_signal(signal.SIGTERM)  # a second one: cold shutdown
        for process in self.processes.values():
            try:  # a cold shutdown takes a moment; one that hangs is not what is tested
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in _members(self.sessions):  # work-horses left by a killed worker
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")


def _members(sessions: list[int]) -> list[int]:
    """Processes (other than this one) in the given sessions."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry.name)) in sessions:
                    found.append(int(entry.name))
    return found

