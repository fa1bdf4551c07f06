"""What a worker runs for one part (check, encode once, rename into place) and for one
narration (check, speak once into the shared narration cache): the only functions a
storyreel worker runs (:data:`TASKS`).

Each takes one JSON request and answers JSON (:mod:`storyreel.distributed.messages`); a
request that is not valid, or names a path outside the worker's shared folders, is
refused before anything is opened.

A part or narration already in place (a re-delivery after the worker that had it died,
or a second worker racing the first) is not made again. Problems a retry cannot mend
(another storyreel build, a shared folder this worker cannot see, bad media, a text
the voice cannot say, a cancelled render) come back as the job's result, so RQ does
not retry them; only a crash of the work-horse is retried.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from rq import get_current_job
from rq.job import Job as RQJob

from storyreel.distributed.messages import (
    PartDone,
    Refused,
    Shared,
    SpeechDone,
    Unspeakable,
    answer,
    read_part_request,
    read_speech_request,
)
from storyreel.errors import RenderCancelled, StoryreelError, VoiceError, WorkerError
from storyreel.render.keys import build_identity
from storyreel.render.parts import PartJob, encode_part, part_encoder
from storyreel.voice.cache import NarrationCache
from storyreel.voice.engines import model_files
from storyreel.voice.speaker import LocalSpeaker

__all__ = ["ALIVE_SECONDS", "BEAT_SECONDS", "CANCELLED", "MONITOR_SECONDS", "TASKS",
           "encode_remote", "speak_remote", "speech_identity"]

#: How often a worker says it is alive and publishes its progress.
BEAT_SECONDS = 0.5
#: How long the submitter waits without a beat before it gives the part to another worker.
ALIVE_SECONDS = 10
#: How often a worker's main process moves its running job's ``last_heartbeat`` (whole
#: seconds: RQ times it with an alarm).
MONITOR_SECONDS = 2
#: The error a job answers when its render (or narration job) was cancelled.
CANCELLED = "render cancelled"
#: What, besides the build, shapes a narration: the voice engines and the aligner.
_VOICE_PACKAGES = ("hibari-tts", "kokoro-onnx", "piper-tts", "onnxruntime", "pocketsphinx",
                   "espeakng-loader", "num2words", "numba", "numpy", "scipy")
_VOICE_CODE = ("voice", "audio/align.py", "audio/dtw.py", "audio/pronounce.py",
               "media/espeak.py")


def encode_remote(request: str, *, shared: Shared) -> str:
    """Encode the part ``request`` names into its path in the shared folder; the RQ
    job's function (the worker's job class passes ``shared``).

    Returns:
        The JSON of :class:`PartDone`, or of :class:`Refused` for a problem that
        retrying would not mend (a request that is not valid among them).
    """
    job = _current_job()
    worker = _worker_name()
    try:
        part, render_id, identity = read_part_request(request, shared)
    except WorkerError as exc:
        return answer(Refused(error=f"worker {worker} {exc}"[:4000]))
    problem = (_refusal(identity, build_identity(), worker, "part", "render")
               or _unseen(part, worker))
    if problem:
        return answer(Refused(error=problem[:4000]))
    if part.path.is_file():  # its notes were renamed into place before it
        return answer(_done(_warnings(part.path.with_suffix(".json")), encoded=False))
    from storyreel.distributed.connection import alive_key, cancel_key

    with _Beat(job, alive_key(job.id), cancel_key(render_id), "frames") as beat:
        try:
            warnings = _encode_atomically(part, beat)
        except RenderCancelled:
            return answer(Refused(error=CANCELLED))
        except StoryreelError as exc:
            return answer(Refused(error=f"part {part.chunk.index + 1} on {worker}: "
                                        f"{exc}"[:4000]))
    return answer(_done(warnings, encoded=True))


def speak_remote(request: str, *, shared: Shared) -> str:
    """Speak the narration ``request`` names into the narration cache under its root (a
    shared folder); the RQ job's function (the worker's job class passes ``shared``).

    Returns:
        The JSON of :class:`SpeechDone` (``spoken`` false: it was in the cache already),
        :class:`Unspeakable` for a text the voice cannot say, or :class:`Refused` for a
        problem that retrying would not mend (a request that is not valid among them).
    """
    job = _current_job()
    worker = _worker_name()
    try:
        speech, root, render_id, identity = read_speech_request(request, shared)
    except WorkerError as exc:
        return answer(Refused(error=f"worker {worker} {exc}"[:4000]))
    model, voices = model_files(speech.voice)
    problem = (_refusal(identity, speech_identity(), worker, "narration", "sender")
               or _unseen_paths([root, *(p for p in (model, voices) if p)], worker))
    if problem:
        return answer(Refused(error=problem[:4000]))
    cache = NarrationCache(root)
    if cache.get(speech.key) is not None:
        return answer(SpeechDone(spoken=False))
    from storyreel.distributed.connection import alive_key, cancel_key

    with _Beat(job, alive_key(job.id), cancel_key(render_id), "sentences") as beat:

        def cancel() -> None:  # called between sentences
            beat.count()
            if beat.cancelled.is_set():
                raise RenderCancelled(CANCELLED)

        try:
            LocalSpeaker().speak(speech, cache, cancel)
        except RenderCancelled:
            return answer(Refused(error=CANCELLED))
        except VoiceError as exc:
            return answer(Unspeakable(voice_error=exc.problem.message[:4000]))
        except StoryreelError as exc:
            where = f"segment {speech.segment}" if speech.segment is not None else "narration"
            return answer(Refused(error=f"{where} on {worker}: {exc}"[:4000]))
    return answer(SpeechDone(spoken=True))


#: The only functions a storyreel worker runs, by the name RQ stores in a job.
TASKS: dict[str, Callable[..., str]] = {
    f"{task.__module__}.{task.__qualname__}": task for task in (encode_remote, speak_remote)
}


def speech_identity() -> dict[str, str]:
    """What must match for two machines to speak identical narrations: the build, the
    voice engines' and aligner's packages, and the voice code."""
    return {**build_identity(), **_voice_versions()}


@functools.cache
def _voice_versions() -> dict[str, str]:
    found = {}
    for name in _VOICE_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for part in _VOICE_CODE:
        base = package / part
        for file in sorted(base.rglob("*.py")) if base.is_dir() else [base]:
            digest.update(str(file.relative_to(package)).encode())
            digest.update(file.read_bytes())
    return {**found, "voice-code": digest.hexdigest()}


def _current_job() -> RQJob:
    job = get_current_job()
    if job is None:  # pragma: no cover - only ever run by an RQ worker
        raise RuntimeError("storyreel's tasks run inside an RQ worker")
    return job


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _refusal(identity: dict[str, str], mine: dict[str, str], worker: str, what: str,
             sender: str) -> str | None:
    differs = sorted(k for k in identity.keys() | mine.keys() if identity.get(k) != mine.get(k))
    if not differs:
        return None
    shown = ", ".join(f"{k} {mine.get(k, '-')} ({sender}: {identity.get(k, '-')})"
                      for k in differs[:3])
    return f"worker {worker} runs another storyreel build and refused the {what}: {shown}"


def _unseen(part: PartJob, worker: str) -> str | None:
    return _unseen_paths([part.project.base_dir, part.path.parent,
                          *(path for segment in part.project.segments
                            for path in segment.visual.files())], worker)


def _unseen_paths(needed: list[Path], worker: str) -> str | None:
    for path in needed:
        if not Path(path).exists():
            return (f"worker {worker} cannot see {path}: mount the shared folder at the "
                    "same path on every worker")
    return None


def _warnings(notes: Path) -> list[str]:
    with contextlib.suppress(OSError, ValueError, TypeError):
        return [str(w) for w in json.loads(notes.read_text(encoding="utf-8"))]
    return []


def _done(warnings: list[str], *, encoded: bool) -> PartDone:
    return PartDone(encoded=encoded, warnings=[w[:4000] for w in warnings[:1000]])


def _encode_atomically(part: PartJob, beat: _Beat) -> list[str]:
    """Encode under a private name, then rename: a killed worker leaves no part behind."""
    temp = part.path.with_name(f".{part.path.stem}-{uuid.uuid4().hex[:8]}.mp4")
    try:
        warnings = encode_part(replace(part, path=temp), part_encoder, beat.cancelled,
                               beat.count)
        notes = part.path.with_suffix(".json")
        notes_temp = temp.with_suffix(".json")
        notes_temp.write_text(json.dumps(warnings), encoding="utf-8")
        os.replace(notes_temp, notes)
        os.replace(temp, part.path)
    finally:
        temp.unlink(missing_ok=True)
        temp.with_suffix(".json").unlink(missing_ok=True)
    return warnings


class _Beat:
    """A thread that keeps the job's alive key fresh, publishes its count of ``unit``
    (frames, sentences) in ``job.meta`` and watches the render's cancel key; stopped and
    joined on exit."""

    def __init__(self, job: RQJob, alive: str, cancel: str, unit: str) -> None:
        self.job, self.alive, self.cancel, self.unit = job, alive, cancel, unit
        self.cancelled = threading.Event()
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storyreel-beat", daemon=True)

    def count(self) -> None:
        self.done += 1

    def __enter__(self) -> _Beat:
        self._tick()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):
            self._tick()

    def _run(self) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            with contextlib.suppress(Exception):  # Redis away: the submitter notices
                self._tick()

    def _tick(self) -> None:
        connection = self.job.connection
        connection.set(self.alive, "1", ex=ALIVE_SECONDS)
        if connection.exists(self.cancel):
            self.cancelled.set()
        self.job.meta.update({self.unit: self.done, "pid": os.getpid()})
        self.job.save_meta()  # type: ignore[no-untyped-call]

