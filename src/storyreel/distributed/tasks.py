"""What a worker runs for one part (check, encode once, rename into place) and for one
narration (check, speak once into the shared narration cache).

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
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from rq import get_current_job
from rq.job import Job as RQJob

from storyreel.errors import RenderCancelled, StoryreelError, VoiceError
from storyreel.render.keys import build_identity
from storyreel.render.parts import PartJob, encode_part, part_encoder
from storyreel.voice.cache import NarrationCache
from storyreel.voice.engines import model_files
from storyreel.voice.speaker import LocalSpeaker, SpeechJob

__all__ = ["ALIVE_SECONDS", "BEAT_SECONDS", "CANCELLED", "encode_remote", "speak_remote",
           "speech_identity"]

#: How often a worker says it is alive and publishes its progress.
BEAT_SECONDS = 0.5
#: How long the submitter waits without a beat before it gives the part to another worker.
ALIVE_SECONDS = 10
#: The error a job answers when its render (or narration job) was cancelled.
CANCELLED = "render cancelled"
#: What, besides the build, shapes a narration: the voice engines and the aligner.
_VOICE_PACKAGES = ("hibari-tts", "kokoro-onnx", "piper-tts", "onnxruntime", "pocketsphinx",
                   "numpy", "scipy")
_VOICE_CODE = ("voice", "audio/align.py")


def encode_remote(part: PartJob, render_id: str, identity: dict[str, str]) -> dict[str, Any]:
    """Encode ``part`` into its path in the shared folder; the RQ job's function.

    Returns:
        ``{"warnings": [...], "encoded": bool}``, or ``{"error": "..."}`` for a
        problem that retrying would not mend.
    """
    job = _current_job()
    worker = _worker_name()
    problem = (_refusal(identity, build_identity(), worker, "part", "render")
               or _unseen(part, worker))
    if problem:
        return {"error": problem}
    if part.path.is_file():  # its notes were renamed into place before it
        return {"warnings": _warnings(part.path.with_suffix(".json")), "encoded": False}
    from storyreel.distributed.connection import alive_key, cancel_key

    with _Beat(job, alive_key(job.id), cancel_key(render_id), "frames") as beat:
        try:
            warnings = _encode_atomically(part, beat)
        except RenderCancelled:
            return {"error": CANCELLED}
        except StoryreelError as exc:
            return {"error": f"part {part.chunk.index + 1} on {worker}: {exc}"}
    return {"warnings": warnings, "encoded": True}


def speak_remote(speech: SpeechJob, root: str, render_id: str,
                 identity: dict[str, str]) -> dict[str, Any]:
    """Speak ``speech`` into the narration cache under ``root`` (a shared folder); the
    RQ job's function.

    Returns:
        ``{"spoken": bool}`` (false: it was in the cache already), ``{"voice_error":
        "..."}`` for a text the voice cannot say, or ``{"error": "..."}`` for a
        problem that retrying would not mend.
    """
    job = _current_job()
    worker = _worker_name()
    model, voices = model_files(speech.voice)
    problem = (_refusal(identity, speech_identity(), worker, "narration", "sender")
               or _unseen_paths([Path(root), *(p for p in (model, voices) if p)], worker))
    if problem:
        return {"error": problem}
    cache = NarrationCache(Path(root))
    if cache.get(speech.key) is not None:
        return {"spoken": False}
    from storyreel.distributed.connection import alive_key, cancel_key

    with _Beat(job, alive_key(job.id), cancel_key(render_id), "sentences") as beat:

        def cancel() -> None:  # called between sentences
            beat.count()
            if beat.cancelled.is_set():
                raise RenderCancelled(CANCELLED)

        try:
            LocalSpeaker().speak(speech, cache, cancel)
        except RenderCancelled:
            return {"error": CANCELLED}
        except VoiceError as exc:
            return {"voice_error": exc.problem.message}
        except StoryreelError as exc:
            where = f"segment {speech.segment}" if speech.segment is not None else "narration"
            return {"error": f"{where} on {worker}: {exc}"}
    return {"spoken": True}


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
    with contextlib.suppress(OSError, ValueError):
        return [str(w) for w in json.loads(notes.read_text(encoding="utf-8"))]
    return []


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

