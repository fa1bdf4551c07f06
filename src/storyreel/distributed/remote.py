"""The submitting side of a distributed render: queue the parts, follow them, collect them.

The sound track, the checks and the joining stay with the submitter: the sound is
one pass over the whole timeline (loudness is measured and normalised globally, so
it cannot be cut into parts) and is cached like the parts; joining copies packets,
which costs a fraction of a second per minute of video, and must happen once, after
every part is in place. A dependent RQ job would add a round trip and a second place
where the file could be published, for no gain.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis import Redis
from rq import Queue, Retry, Worker
from rq.command import send_stop_job_command
from rq.job import Job as RQJob
from rq.job import JobStatus

from storyreel.credentials import redact
from storyreel.distributed.connection import alive_key, cancel_key, connect, redis_errors
from storyreel.distributed.jobs import SERIALIZER, StoryreelJob, fetch_jobs, open_queue
from storyreel.distributed.messages import Refused, part_request, read_part_answer
from storyreel.distributed.tasks import ALIVE_SECONDS, CANCELLED, encode_remote
from storyreel.errors import RenderCancelled, WorkerError
from storyreel.render.keys import build_identity
from storyreel.render.parts import PartJob, machine_cores
from storyreel.render.progress import CancelToken

__all__ = ["QUEUE_NAME", "Heartbeat", "RemoteParts", "failure_line", "follow_until_done",
           "meta_count", "require_worker", "stop_job"]

#: The RQ queue parts are sent to.
QUEUE_NAME = "storyreel-parts"
#: Longest a part may take on a worker before RQ stops it.
_PART_TIMEOUT = 3600
#: Times a part is given to a worker before the render fails.
_ATTEMPTS = 3
_POLL_SECONDS = 0.2


class RemoteParts:
    """Encodes a render's parts on ``storyreel worker`` processes through Redis.

    Args:
        url: The Redis the workers listen on (``redis://host:6379/0``, with
            ``user:password@`` for AUTH/ACL, ``rediss://`` for TLS).
        threads: Encoder threads per part, the same on every worker (parts must share
            their H.264 headers); default: what a local render on this machine uses,
            so a distributed render gives the same file as a local one.
        queue: The RQ queue's name.
    """

    def __init__(self, url: str, *, threads: int | None = None,
                 queue: str = QUEUE_NAME) -> None:
        self.url = url
        self.shown = redact(url)
        self.threads = threads if threads is not None else max(1, machine_cores() * 3 // 2)
        self.queue = queue

    def __repr__(self) -> str:
        return f"RemoteParts({self.shown!r}, threads={self.threads}, queue={self.queue!r})"

    def __call__(self, jobs: Sequence[PartJob], cancel: CancelToken,
                 on_frame: Callable[[], None],
                 on_part: Callable[[PartJob, list[str]], None]) -> None:
        """Queue ``jobs``, wait for all of them, and stop what is left on error or cancel."""
        if not jobs:
            return
        connection = connect(self.url)
        try:
            with redis_errors(self.url):
                _Dispatch(self, connection, list(jobs)).run(cancel, on_frame, on_part)
        finally:
            connection.close()


@dataclass
class Heartbeat:
    """Whether a started job's worker still says it is alive.

    Two signs count: the alive key the job's work-horse keeps fresh (see
    ``encode_remote``), and RQ's ``last_heartbeat`` of the job, which the worker's main
    process moves every :data:`~storyreel.distributed.tasks.MONITOR_SECONDS` while the
    work-horse runs. The second holds while the work-horse's own thread cannot run (a
    C library holding the interpreter lock for seconds, as the word aligner does on a
    long narration); it is compared with its previous value, never with this machine's
    clock, so clocks that differ between machines do not matter.
    """

    silent_since: float | None = None
    last_heartbeat: object = None

    def lost(self, connection: Redis, job: RQJob) -> bool:
        """True once the job's worker has not answered for ``ALIVE_SECONDS``."""
        moved = job.last_heartbeat is not None and job.last_heartbeat != self.last_heartbeat
        self.last_heartbeat = job.last_heartbeat
        if moved or connection.exists(alive_key(job.id)):
            self.silent_since = None
            return False
        now = time.monotonic()
        if self.silent_since is None:
            self.silent_since = now
        return now - self.silent_since > ALIVE_SECONDS


@dataclass
class _Sent:
    part: PartJob
    attempt: int
    job_id: str
    frames: int = 0
    beat: Heartbeat = field(default_factory=Heartbeat)


@dataclass
class _Dispatch:
    owner: RemoteParts
    connection: Redis
    parts: list[PartJob]
    render_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    sent: dict[int, _Sent] = field(default_factory=dict)

    def run(self, cancel: CancelToken, on_frame: Callable[[], None],
            on_part: Callable[[PartJob, list[str]], None]) -> None:
        queue = open_queue(self.owner.queue, self.connection)
        require_worker(queue, self.owner.shown)
        identity = build_identity()

        def check_cancel() -> None:
            if cancel.is_set():
                raise RenderCancelled(CANCELLED)

        try:
            for part in self.parts:
                self.send(queue, part, 1, identity)
            follow_until_done(queue, self.owner.shown, lambda: bool(self.sent), check_cancel,
                              lambda: self.follow(queue, identity, on_frame, on_part))
        except BaseException:
            self.stop_all()
            raise

    def send(self, queue: Queue, part: PartJob, attempt: int, identity: dict[str, str]) -> None:
        job = queue.enqueue(encode_remote, part_request(part, self.render_id, identity),
                            job_timeout=_PART_TIMEOUT, result_ttl=3600, failure_ttl=24 * 3600,
                            retry=Retry(max=1),
                            description=f"storyreel part {part.chunk.index + 1} "
                                        f"(attempt {attempt})")
        previous = self.sent.get(part.chunk.index)
        self.sent[part.chunk.index] = _Sent(part, attempt, job.id,
                                            previous.frames if previous else 0)

    def follow(self, queue: Queue, identity: dict[str, str], on_frame: Callable[[], None],
               on_part: Callable[[PartJob, list[str]], None]) -> None:
        entries = list(self.sent.values())
        jobs = fetch_jobs([e.job_id for e in entries], self.connection)
        for entry, job in zip(entries, jobs, strict=True):
            if job is None:
                raise WorkerError(f"part {entry.part.chunk.index + 1}'s job vanished from "
                                  f"Redis at {self.owner.shown} (was it restarted or "
                                  "flushed?)")
            self.count(entry, job, on_frame)
            status = job.get_status(refresh=False)
            if status == JobStatus.FINISHED:
                self.finished(entry, job, on_part)
            elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                raise WorkerError(f"part {entry.part.chunk.index + 1} failed on "
                                  f"{job.worker_name or 'a worker'}: {failure_line(job)}")
            elif status == JobStatus.STARTED and entry.beat.lost(self.connection, job):
                self.resend(queue, entry, job, identity)

    def count(self, entry: _Sent, job: RQJob, on_frame: Callable[[], None]) -> None:
        frames = meta_count(job, "frames", entry.part.chunk.frames)
        for _ in range(frames - entry.frames):
            on_frame()
        entry.frames = max(entry.frames, frames)

    def finished(self, entry: _Sent, job: RQJob,
                 on_part: Callable[[PartJob, list[str]], None]) -> None:
        result = read_part_answer(return_value(job),
                                  f"part {entry.part.chunk.index + 1} from "
                                  f"{job.worker_name or 'a worker'}")
        if isinstance(result, Refused):
            if result.error == CANCELLED:
                raise RenderCancelled(CANCELLED)
            raise WorkerError(result.error)
        del self.sent[entry.part.chunk.index]
        on_part(entry.part, list(result.warnings))

    def resend(self, queue: Queue, entry: _Sent, job: RQJob, identity: dict[str, str]) -> None:
        """Give a lost worker's part to another worker (the part is renamed into place
        only when complete, so the two can never mix)."""
        if entry.attempt >= _ATTEMPTS:
            raise WorkerError(f"part {entry.part.chunk.index + 1} was lost by {_ATTEMPTS} "
                              "workers in a row; giving up")
        with contextlib.suppress(Exception):
            job.cancel()
        self.send(queue, entry.part, entry.attempt + 1, identity)

    def stop_all(self) -> None:
        """Stop every part still out: queued ones are cancelled, running ones stop at
        their next frame (the cancel key) or are stopped by their worker."""
        with contextlib.suppress(Exception):
            self.connection.set(cancel_key(self.render_id), "1", ex=24 * 3600)
        for entry in self.sent.values():
            stop_job(self.connection, entry.job_id)


def stop_job(connection: Redis, job_id: str) -> None:
    """Stop a job, whatever becomes of it: cancelled while queued, stopped by its worker
    while running (it also stops itself at its next check of the cancel key)."""
    with contextlib.suppress(Exception):
        job = StoryreelJob.fetch(job_id, connection=connection, serializer=SERIALIZER)
        status = job.get_status()
        if status == JobStatus.STARTED:
            send_stop_job_command(connection, job_id)
        elif status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            job.cancel()


def follow_until_done(queue: Queue, url: str, pending: Callable[[], bool],
                      check_cancel: Callable[[], None], follow: Callable[[], None]) -> None:
    """Poll ``follow`` while ``pending()``, raising from ``check_cancel`` first, and fail
    when no worker is left on the queue (else the jobs would wait forever)."""
    checked = time.monotonic()
    while pending():
        check_cancel()
        follow()
        if time.monotonic() - checked > ALIVE_SECONDS:
            require_worker(queue, url)
            checked = time.monotonic()
        time.sleep(_POLL_SECONDS)


def require_worker(queue: Queue, url: str) -> None:
    """Fail when no worker listens on the queue (RQ forgets a dead one in minutes).

    Raises:
        WorkerError: Naming the Redis, the queue and the command that starts a worker.
    """
    if not Worker.count(queue=queue):
        raise WorkerError(f"no storyreel worker listens on {redact(url)} (queue {queue.name}): "
                          "start one with storyreel worker --redis URL")


def failure_line(job: RQJob) -> str:
    """The last line of a failed job's traceback (its exception), for a one-line error."""
    text = None
    with contextlib.suppress(Exception):  # a result that is not JSON: no reason to show
        result = job.latest_result()
        text = result.exc_string if result is not None else None
    text = str(text or "no reason given")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return redact(lines[-1] if lines else text)[:500]


def return_value(job: RQJob) -> object:
    """What a finished job answered, as read from Redis (JSON, validated by the caller).

    Raises:
        WorkerError: The answer is not JSON (e.g. pickle written by something else).
    """
    try:
        return job.return_value(refresh=False)
    except Exception as exc:  # whatever the serializer raises on bytes that are not JSON
        raise WorkerError(f"refused the answer to job {job.id}: it is not the JSON a "
                          "storyreel worker writes, so it was not read") from exc


def meta_count(job: RQJob, unit: str, most: int) -> int:
    """The job's published count of ``unit`` (frames, sentences), within 0-``most``:
    whatever else is there is not a count."""
    value = job.meta.get(unit, 0) if isinstance(job.meta, dict) else 0
    if type(value) is not int:
        return 0
    return min(max(value, 0), most)
