"""Narrations spoken by workers: one RQ job per text to speak, into a shared cache.

The sender (a render's narration step, or the studio's narrate job) finds which
narrations its cache lacks and queues one job per cache key on the parts' queue; a
``storyreel worker`` speaks the text with its voice, aligns the words and writes both
into the narration cache folder, which it must see at the same path as the sender.
The sender then reads them from there as if it had spoken them itself.

A key is spoken at most once more when a job is delivered again (the worker first
looks in the cache), and two senders wanting the same key share one job: the key's
job is recorded in Redis (:func:`speaking_key`) and a second sender follows
it instead of queueing its own. A sender stops only the jobs it queued; when a job it
shares is stopped by its owner, or its worker dies, it queues the key again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis import Redis
from rq import Queue, Retry
from rq.job import Job as RQJob
from rq.job import JobStatus

from storyreel.credentials import redact
from storyreel.distributed.connection import cancel_key, connect, redis_errors
from storyreel.distributed.jobs import SERIALIZER, StoryreelJob, fetch_jobs, open_queue
from storyreel.distributed.messages import (
    Refused,
    Unspeakable,
    read_speech_answer,
    speech_request,
)
from storyreel.distributed.remote import (
    QUEUE_NAME,
    Heartbeat,
    failure_line,
    follow_until_done,
    require_worker,
    return_value,
    stop_job,
)
from storyreel.distributed.tasks import CANCELLED, speak_remote, speech_identity
from storyreel.errors import RenderCancelled, VoiceError, WorkerError, output_error
from storyreel.voice.cache import NarrationCache
from storyreel.voice.speaker import OnSpoken, SpeechJob

__all__ = ["RemoteSpeaker", "shared_root", "speaking_key"]

#: Longest one narration may take on a worker before RQ stops it.
_SPEECH_TIMEOUT = 1800
#: Times a narration is given to a worker before the job fails.
_ATTEMPTS = 3
_ACTIVE = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
_ENDED = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def shared_root(cache: NarrationCache) -> str:
    """The folder the workers write the narrations into: the cache's root."""
    return str(cache.folder.parent)


def speaking_key(root: str, identity: dict[str, str], key: str) -> str:
    """Names the RQ job that is speaking the narration cache key ``key`` into ``root``
    for a sender of build ``identity``: senders with other cache folders or builds never
    share a job."""
    shared = hashlib.sha256(json.dumps([root, identity], sort_keys=True).encode())
    return f"storyreel:speaking:{shared.hexdigest()[:16]}:{key}"


class RemoteSpeaker:
    """Speaks narrations on ``storyreel worker`` processes through Redis.

    The narrator's cache must be in a folder every worker sees at the same path (the
    studio's data folder, or the project's ``.storyreel-cache``).

    Args:
        url: The Redis the workers listen on (``redis://host:6379/0``, with
            ``user:password@`` for AUTH/ACL, ``rediss://`` for TLS).
        queue: The RQ queue's name (the parts' queue: one worker serves both).
    """

    def __init__(self, url: str, *, queue: str = QUEUE_NAME) -> None:
        self.url = url
        self.shown = redact(url)
        self.queue = queue

    def __repr__(self) -> str:
        return f"RemoteSpeaker({self.shown!r}, queue={self.queue!r})"

    def __call__(self, jobs: Sequence[SpeechJob], cache: NarrationCache,
                 cancel: Callable[[], None] | None, on_spoken: OnSpoken) -> None:
        """Queue ``jobs``, report each as its worker is done, stop what is left on error
        or cancel (see :class:`~storyreel.voice.speaker.Speaker`)."""
        if not jobs:
            return
        try:
            cache.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(exc, cache.folder) from exc
        connection = connect(self.url)
        try:
            with redis_errors(self.url):
                _Dispatch(self, connection, cache, list(jobs)).run(cancel, on_spoken)
        finally:
            connection.close()


@dataclass
class _Out:
    speech: SpeechJob
    attempt: int
    job_id: str
    own: bool  # queued by this sender (else shared with another)
    beat: Heartbeat = field(default_factory=Heartbeat)


@dataclass
class _Dispatch:
    owner: RemoteSpeaker
    connection: Redis
    cache: NarrationCache
    speeches: list[SpeechJob]
    render_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    out: dict[str, _Out] = field(default_factory=dict)

    def run(self, cancel: Callable[[], None] | None, on_spoken: OnSpoken) -> None:
        queue = open_queue(self.owner.queue, self.connection)
        require_worker(queue, self.owner.shown)
        identity = speech_identity()
        try:
            for speech in self.speeches:
                self.send(queue, speech, 1, identity)
            follow_until_done(queue, self.owner.shown, lambda: bool(self.out),
                              cancel or (lambda: None),
                              lambda: self.follow(queue, identity, on_spoken))
        except BaseException:
            self.stop_all()
            raise

    def send(self, queue: Queue, speech: SpeechJob, attempt: int,
             identity: dict[str, str]) -> None:
        """Follow the job already speaking this key, or queue one."""
        claim = speaking_key(shared_root(self.cache), identity, speech.key)
        job_id = f"storyreel-speech-{uuid.uuid4().hex}"
        if not self.connection.set(claim, job_id, nx=True, ex=_SPEECH_TIMEOUT):
            current = _text(self.connection.get(claim))
            if current and self.active(current):
                self.out[speech.key] = _Out(speech, attempt, current, own=False)
                return
            self.connection.set(claim, job_id, ex=_SPEECH_TIMEOUT)
        request = speech_request(speech, shared_root(self.cache), self.render_id, identity)
        queue.enqueue(speak_remote, request, job_id=job_id, job_timeout=_SPEECH_TIMEOUT,
                      result_ttl=3600, failure_ttl=24 * 3600, retry=Retry(max=1),
                      description=f"storyreel narration, {_named(speech)} (attempt {attempt})")
        self.out[speech.key] = _Out(speech, attempt, job_id, own=True)

    def active(self, job_id: str) -> bool:
        with contextlib.suppress(Exception):  # gone, or not a job: not active
            job = StoryreelJob.fetch(job_id, connection=self.connection, serializer=SERIALIZER)
            return job.get_status() in _ACTIVE
        return False

    def follow(self, queue: Queue, identity: dict[str, str], on_spoken: OnSpoken) -> None:
        entries = list(self.out.values())
        jobs = fetch_jobs([e.job_id for e in entries], self.connection)
        for entry, job in zip(entries, jobs, strict=True):
            what = _named(entry.speech)
            if job is None:
                if not entry.own:  # the other sender's job expired: speak it ourselves
                    self.resend(queue, entry, identity)
                    continue
                raise WorkerError(f"{what} vanished from Redis at {self.owner.shown} (was it "
                                  "restarted or flushed?)")
            status = job.get_status(refresh=False)
            if status == JobStatus.FINISHED:
                self.finished(queue, entry, job, identity, on_spoken)
            elif status in _ENDED:
                if not entry.own:  # stopped by the sender that queued it
                    self.resend(queue, entry, identity)
                    continue
                raise WorkerError(f"{what} failed on {job.worker_name or 'a worker'}: "
                                  f"{failure_line(job)}")
            elif status == JobStatus.STARTED and entry.beat.lost(self.connection, job):
                self.resend(queue, entry, identity, job)

    def finished(self, queue: Queue, entry: _Out, job: RQJob, identity: dict[str, str],
                 on_spoken: OnSpoken) -> None:
        what = _named(entry.speech)
        result = read_speech_answer(return_value(job),
                                    f"{what} from {job.worker_name or 'a worker'}")
        if isinstance(result, Refused):
            if result.error != CANCELLED:
                raise WorkerError(result.error)
            if entry.own:
                raise RenderCancelled(CANCELLED)
            self.resend(queue, entry, identity)  # the sender that shared it cancelled
            return
        del self.out[entry.speech.key]
        error = result.voice_error if isinstance(result, Unspeakable) else None
        if not error and self.cache.get(entry.speech.key) is None:
            raise WorkerError(f"worker {job.worker_name} spoke {what} but it is not in "
                              f"{self.cache.folder} here: mount the shared folder at the same "
                              "path on every worker")
        on_spoken(entry.speech, VoiceError(str(error)) if error else None)

    def resend(self, queue: Queue, entry: _Out, identity: dict[str, str],
               job: RQJob | None = None) -> None:
        """Give a narration to another worker: its entry is published whole or not at
        all, so two workers speaking one key can never mix."""
        if entry.attempt >= _ATTEMPTS:
            raise WorkerError(f"{_named(entry.speech)} was lost by {_ATTEMPTS} workers in a "
                              "row; giving up")
        if job is not None and entry.own:
            with contextlib.suppress(Exception):
                job.cancel()
        claim = speaking_key(shared_root(self.cache), identity, entry.speech.key)
        if _text(self.connection.get(claim)) == entry.job_id:
            self.connection.delete(claim)  # lost: nobody should share it any more
        self.send(queue, entry.speech, entry.attempt + 1, identity)

    def stop_all(self) -> None:
        """Stop the jobs this sender queued (shared ones go on for their owner): queued
        ones are cancelled, running ones stop at their next sentence or are stopped by
        their worker."""
        with contextlib.suppress(Exception):
            self.connection.set(cancel_key(self.render_id), "1", ex=24 * 3600)
        for entry in self.out.values():
            if entry.own:
                stop_job(self.connection, entry.job_id)


def _named(speech: SpeechJob) -> str:
    return (f"the narration of segment {speech.segment}" if speech.segment is not None
            else "a narration")


def _text(value: bytes | str | None) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value or ""
