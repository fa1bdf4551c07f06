"""What a worker runs for one part: check, encode (once), rename into place.

A part already in place (a re-delivery after the worker that had it died, or a second
worker racing the first) is not encoded again. Problems a retry cannot mend (another
storyreel build, a shared folder this worker cannot see, bad media, a cancelled
render) come back as the job's result, so RQ does not retry them; only a crash of the
work-horse is retried.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from rq import get_current_job
from rq.job import Job as RQJob

from storyreel.errors import RenderCancelled, StoryreelError
from storyreel.render.keys import build_identity
from storyreel.render.parts import PartJob, encode_part, part_encoder

__all__ = ["ALIVE_SECONDS", "BEAT_SECONDS", "encode_remote"]

#: How often a worker says it is alive and publishes its progress.
BEAT_SECONDS = 0.5
#: How long the submitter waits without a beat before it gives the part to another worker.
ALIVE_SECONDS = 10


def encode_remote(part: PartJob, render_id: str, identity: dict[str, str]) -> dict[str, Any]:
    """Encode ``part`` into its path in the shared folder; the RQ job's function.

    Returns:
        ``{"warnings": [...], "encoded": bool}``, or ``{"error": "..."}`` for a
        problem that retrying would not mend.
    """
    job = get_current_job()
    if job is None:  # pragma: no cover - only ever run by an RQ worker
        raise RuntimeError("encode_remote runs inside an RQ worker")
    worker = f"{socket.gethostname()}:{os.getpid()}"
    problem = _refusal(identity, worker) or _unseen(part, worker)
    if problem:
        return {"error": problem}
    if part.path.is_file():  # its notes were renamed into place before it
        return {"warnings": _warnings(part.path.with_suffix(".json")), "encoded": False}
    from storyreel.distributed.connection import alive_key, cancel_key

    with _Beat(job, alive_key(job.id), cancel_key(render_id)) as beat:
        try:
            warnings = _encode_atomically(part, beat)
        except RenderCancelled:
            return {"error": "render cancelled"}
        except StoryreelError as exc:
            return {"error": f"part {part.chunk.index + 1} on {worker}: {exc}"}
    return {"warnings": warnings, "encoded": True}


def _refusal(identity: dict[str, str], worker: str) -> str | None:
    mine = build_identity()
    differs = sorted(k for k in identity.keys() | mine.keys() if identity.get(k) != mine.get(k))
    if not differs:
        return None
    shown = ", ".join(f"{k} {mine.get(k, '-')} (render: {identity.get(k, '-')})"
                      for k in differs[:3])
    return f"worker {worker} runs another storyreel build and refused the part: {shown}"


def _unseen(part: PartJob, worker: str) -> str | None:
    needed = [part.project.base_dir, part.path.parent,
              *(segment.image for segment in part.project.segments)]
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
    """A thread that keeps the part's alive key fresh, publishes its frame count in
    ``job.meta`` and watches the render's cancel key; stopped and joined on exit."""

    def __init__(self, job: RQJob, alive: str, cancel: str) -> None:
        self.job, self.alive, self.cancel = job, alive, cancel
        self.cancelled = threading.Event()
        self.frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storyreel-beat", daemon=True)

    def count(self) -> None:
        self.frames += 1

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
        self.job.meta.update(frames=self.frames, pid=os.getpid())
        self.job.save_meta()  # type: ignore[no-untyped-call]

