"""Render jobs: a dispatcher hands queued jobs to workers that run the engine.

Two small seams keep this replaceable:

* :class:`Dispatcher` (``start``/``stop``/``submitted``/``cancel``) is all the routes
  know. :class:`LocalDispatcher` runs worker threads in this process; workers on other
  machines can take jobs later through the same store calls (``claim_job``,
  ``record_progress``, ``complete_job``...).
* :class:`RenderRunner` runs one render. :class:`ProcessRunner` runs the engine in a
  child process, so a render never competes with the web server for the GIL and a
  cancel can always stop it (the child is killed if it does not stop in time).

All state lives in the :class:`~storyreel.service.store.Store`; a page can close and a
server can restart without losing a job.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import IO, Any, Protocol

from storyreel.errors import RenderCancelled
from storyreel.render.progress import Progress
from storyreel.service.narration import (
    changed_recordings,
    narration_manifest,
    respeak_positions,
)
from storyreel.service.options import build_manifest, render_problems
from storyreel.service.protocol import (
    JobFailed,
    RenderOutcome,
    RenderSpec,
    describe_error,
    problem_dicts,
)
from storyreel.service.store import JobRow, ProjectRow, SegmentRow, Store
from storyreel.words import RECORDING_CHANGED, parts_words

__all__ = [
    "Dispatcher",
    "JobFailed",
    "LocalDispatcher",
    "ProcessRunner",
    "RenderOutcome",
    "RenderRunner",
    "RenderSpec",
    "WarmRunner",
    "describe_error",
    "overall_percent",
]

log = logging.getLogger("storyreel.service")

#: Seconds a cancelled render may take to stop before its process is killed.
CANCEL_GRACE = 10.0
#: Progress is written to the database at most this often (phase changes always).
PROGRESS_INTERVAL = 0.25
# Share of the progress bar each phase covers: (start, end) in percent.
_PHASE_SPAN = {"starting": (0.0, 0.0), "narrate": (0.0, 0.0), "analyse": (0.0, 4.0),
               "loudness": (4.0, 10.0), "export": (10.0, 97.0), "verify": (97.0, 100.0),
               "done": (100.0, 100.0)}
# A narrate job is all narration.
_NARRATE_SPAN = {"starting": (0.0, 0.0), "narrate": (0.0, 100.0)}


def overall_percent(progress: Progress, previous: float = 0.0, kind: str = "render") -> float:
    """Map a phase's progress onto one 0-100 bar that never moves backwards.

    A phase this table does not know holds the bar where it is. In a render for several
    platforms, a video's export and checks cover its share of those phases' spans.
    """
    span = (_NARRATE_SPAN if kind == "narrate" else _PHASE_SPAN).get(progress.phase)
    if span is None:
        return previous
    start, end = span
    return max(previous, round(start + (end - start) * progress.overall_fraction, 2))


class RenderRunner(Protocol):
    """Runs one render to the end, reporting progress and honouring ``cancel``."""

    def __call__(self, spec: RenderSpec, on_progress: Callable[[Progress], None],
                 cancel: threading.Event) -> RenderOutcome:
        """Render ``spec``.

        Raises:
            JobFailed: The render failed.
            RenderCancelled: ``cancel`` was set before the render finished.
        """
        ...


class Dispatcher(Protocol):
    """What the routes need from whatever executes jobs."""

    def start(self) -> None:
        """Start taking queued jobs."""
        ...

    def stop(self) -> bool:
        """Stop every worker; running jobs go back to the queue. True once all ended."""
        ...

    def submitted(self, job_id: int) -> None:
        """A job was queued: wake a worker."""
        ...

    def cancel(self, job_id: int) -> None:
        """Stop the job if one of this dispatcher's workers runs it."""
        ...

    def after(self, job_id: int, action: Callable[[], None]) -> bool:
        """Run ``action`` once the job's worker let go of it; False (and nothing is kept)
        when none of this dispatcher's workers runs the job."""
        ...


# -- the engine, in a child process -------------------------------------------------------


class _Process:
    """One render process (``python -m storyreel.service.worker``), the thread reading its
    messages and the file holding its stderr; :meth:`close` ends all three."""

    def __init__(self, *flags: str) -> None:
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "storyreel.service.worker", *flags],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self.errors, text=True, encoding="utf-8",
            )
        except BaseException:
            self.errors.close()
            raise
        self.ready = False
        self.jobs = 0
        self.reader = threading.Thread(target=_read_messages, args=(self.process, self.messages),
                                       name=f"storyreel-render-{self.process.pid}",
                                       daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def close(self, *, idle: bool = False) -> None:
        """Close its stdin (which cancels a job and ends it), kill it if it lingers.

        ``idle``: it holds no job, so it is told to end at once (SIGTERM) rather than
        waited for (a process still starting reads its stdin only once it is ready).
        """
        try:
            _stop(self.process, idle=idle)
        finally:
            self.reader.join()
            self.errors.close()


class ProcessRunner:
    """Run each render in a fresh Python process (``python -m storyreel.service.worker``).

    Args:
        grace: Seconds a cancelled render may take before its process is killed.
    """

    def __init__(self, grace: float = CANCEL_GRACE) -> None:
        self.grace = grace

    def __call__(self, spec: RenderSpec, on_progress: Callable[[Progress], None],
                 cancel: threading.Event) -> RenderOutcome:
        """Render ``spec`` in a child process; see :class:`RenderRunner`."""
        child = _Process()
        try:
            return self._run(child, spec, on_progress, cancel)
        finally:
            child.close()

    def _run(self, child: _Process, spec: RenderSpec, on_progress: Callable[[Progress], None],
             cancel: threading.Event) -> RenderOutcome:
        """Hand ``spec`` to ``child`` and follow it; the outcome's timings gain ``worker``
        (seconds until the process was ready for the job)."""
        handed = time.perf_counter()
        waited = 0.0 if child.ready else None
        assert child.process.stdin is not None
        child.process.stdin.write(json.dumps(asdict(spec)) + "\n")
        child.process.stdin.flush()
        deadline: float | None = None
        while True:
            if cancel.is_set() and deadline is None:
                _tell(child.process, "cancel")
                deadline = time.monotonic() + self.grace
            if deadline is not None and time.monotonic() > deadline:
                raise RenderCancelled("render cancelled (stopped by force)")
            try:
                message = child.messages.get(timeout=0.05)
            except queue.Empty:
                continue
            if message is None:
                child.process.wait()
                raise JobFailed("The render process stopped unexpectedly (exit code "
                                f"{child.process.returncode}). {_tail(child.errors)}".strip())
            kind, payload = message["kind"], message["payload"]
            if kind == "ready":
                child.ready = True
                waited = time.perf_counter() - handed
            elif kind == "progress":
                on_progress(Progress(**payload))
            elif kind == "done":
                child.jobs += 1
                outcome = RenderOutcome(**payload)
                return replace(outcome, timings={"worker": waited or 0.0, **outcome.timings})
            elif kind == "cancelled":
                child.jobs += 1
                raise RenderCancelled("render cancelled")
            else:
                child.jobs += 1
                raise JobFailed(payload["message"], payload["problems"])


class WarmRunner(ProcessRunner):
    """Keep one render process ready (``--keep --warm-up``, see
    :mod:`storyreel.service.worker`) and hand it each render, so a render does not wait
    for a process to start, import and compile.

    The runner owns its processes: :meth:`start` starts the first, :meth:`close` stops
    every one (by its own handle: stdin closed, killed if it lingers). A process that
    died, was killed after a cancel, ran ``max_renders`` jobs or grew above ``max_rss``
    bytes is replaced by a fresh one. Renders at the same time each take a process;
    one is kept for the next.

    Args:
        grace: Seconds a cancelled render may take before its process is killed.
        max_renders: Jobs a process runs before it is replaced.
        max_rss: Resident memory (bytes) above which a process is replaced after its job.
        warm_up: Have each process do a first render's one-time work before it says it
            is ready (off: it is done by its first job, as in a fresh process).
    """

    def __init__(self, grace: float = CANCEL_GRACE, *, max_renders: int = 50,
                 max_rss: int = 1_500_000_000, warm_up: bool = True) -> None:
        super().__init__(grace)
        self._flags = ("--keep", "--warm-up") if warm_up else ("--keep",)
        self.max_renders = max_renders
        self.max_rss = max_rss
        self._lock = threading.Lock()
        self._idle: list[_Process] = []
        self._retired: list[_Process] = []
        self._closed = True
        self.started = 0  # processes started, for the record (and the tests)

    def start(self) -> None:
        """Start the process kept ready (again, after :meth:`close`)."""
        with self._lock:
            self._closed = False
            if not self._idle:
                self._idle.append(self._spawn())

    def close(self) -> None:
        """Stop every process this runner holds; a running job's process is stopped when
        its job ends (the dispatcher cancels those first)."""
        with self._lock:
            self._closed = True
            held, self._idle, self._retired = self._idle + self._retired, [], []
        for child in held:
            child.close(idle=True)

    @property
    def ready_pids(self) -> list[int]:
        """Process ids of the processes waiting for a job."""
        with self._lock:
            return [child.pid for child in self._idle]

    def __call__(self, spec: RenderSpec, on_progress: Callable[[Progress], None],
                 cancel: threading.Event) -> RenderOutcome:
        """Render ``spec`` in a ready process; see :class:`RenderRunner`."""
        child = self._take()
        before = child.jobs
        try:
            return self._run(child, spec, on_progress, cancel)
        finally:
            # A job that ended in words (done, failed, cancelled) leaves its process
            # ready for the next; one stopped by force, or a process that died, does not.
            self._give_back(child, finished=child.jobs > before)

    def _spawn(self) -> _Process:
        self.started += 1
        return _Process(*self._flags)

    def _take(self) -> _Process:
        """A ready process (a fresh one when none is ready)."""
        self._reap()
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    return child
                self._retired.append(child)  # died while waiting: reaped below
            fresh = self._spawn()
        self._reap()
        return fresh

    def _give_back(self, child: _Process, finished: bool) -> None:
        """Keep ``child`` for the next job, or retire it (and have a fresh one ready)."""
        keep = finished and child.alive() and child.jobs < self.max_renders \
            and _rss(child.pid) <= self.max_rss
        with self._lock:
            closed = self._closed
            if keep and not closed and not self._idle:
                self._idle.append(child)
                return
            if not closed and not self._idle:
                self._idle.append(self._spawn())
            if finished and not closed:
                self._retired.append(child)
        if finished and not closed:  # idle: it ends once its stdin closes; reaped later
            with contextlib.suppress(OSError, ValueError):
                if child.process.stdin is not None:
                    child.process.stdin.close()
            return
        child.close(idle=finished)  # no job left, or stopped by force or dead

    def _reap(self, wait: bool = False) -> None:
        """Close the retired processes that ended (``wait``: all of them)."""
        with self._lock:
            done = [c for c in self._retired if wait or not c.alive()]
            self._retired = [c for c in self._retired if c not in done]
        for child in done:
            child.close(idle=True)  # retired after their last job


def _rss(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _discard(folder: Path, narrations: list[dict[str, Any]]) -> None:
    """Delete the files of narrations a cancelled job wrote."""
    for item in narrations:
        (folder / item["file"]).unlink(missing_ok=True)


def _read_messages(process: subprocess.Popen[str],
                   messages: queue.Queue[dict[str, Any] | None]) -> None:
    assert process.stdout is not None
    try:
        for line in process.stdout:
            try:
                messages.put(json.loads(line))
            except json.JSONDecodeError:
                log.warning("render process wrote %r", line[:200])
    finally:
        messages.put(None)


def _tell(process: subprocess.Popen[str], line: str) -> None:
    try:
        assert process.stdin is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()
    except (OSError, ValueError):
        pass  # the process already ended; its final message says how


def _stop(process: subprocess.Popen[str], *, idle: bool = False) -> None:
    """Close the child's stdin (which cancels it), then kill it if it lingers; an
    ``idle`` child is also sent SIGTERM, which ends it at once."""
    try:
        if process.stdin is not None:
            process.stdin.close()
    except OSError:
        pass
    if idle and process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    finally:
        if process.stdout is not None:
            process.stdout.close()


def _tail(errors: IO[bytes], limit: int = 600) -> str:
    errors.seek(0, os.SEEK_END)
    size = errors.tell()
    errors.seek(max(0, size - limit))
    return errors.read().decode("utf-8", "replace").strip()


# -- the local dispatcher -----------------------------------------------------------------


class _ProgressWriter:
    """Stores a job's progress (throttled) and notices cancel requests made elsewhere."""

    def __init__(self, store: Store, job_id: int, cancel: threading.Event,
                 kind: str = "render") -> None:
        self.store = store
        self.job_id = job_id
        self.kind = kind
        self.cancel = cancel
        self._phase = ""
        self._message = ""
        self._percent = 0.0
        self._last = 0.0
        self._last_cancel_check = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        final = progress.done >= progress.total
        # In a render for several platforms, the message says which video is being made.
        message = (f"{progress.message} ({progress.output}, {progress.output_index + 1} of "
                   f"{progress.outputs})" if progress.output else progress.message)
        news = progress.phase != self._phase or message != self._message
        if not news and not final and now - self._last < PROGRESS_INTERVAL:
            return
        self._phase, self._message, self._last = progress.phase, message, now
        frames = progress.phase == "export"
        self._percent = overall_percent(progress, self._percent, self.kind)
        still_running = self.store.record_progress(
            self.job_id, phase=progress.phase, done=progress.done, total=progress.total,
            percent=self._percent, rate=progress.rate if frames else None,
            eta=progress.eta, message=message,
        )
        if not still_running:
            self.cancel.set()
        elif now - self._last_cancel_check > 1.0:
            self._last_cancel_check = now
            if self.store.cancel_requested(self.job_id):
                self.cancel.set()


class LocalDispatcher:
    """Worker threads in this process take queued jobs from the store, one render each.

    Args:
        store: The studio database.
        media_root: Folder holding one sub-folder per project.
        runner: Runs one render (default: :class:`ProcessRunner`).
        max_jobs: Renders that may run at the same time.
        poll: Seconds between looks at the queue when nobody wakes the workers.
        warm: A runner this dispatcher owns: started with the workers, and closed (its
            processes stopped) once they stopped.
    """

    def __init__(self, store: Store, media_root: Path, *, runner: RenderRunner | None = None,
                 max_jobs: int = 1, poll: float = 1.0, warm: WarmRunner | None = None) -> None:
        if max_jobs < 1:
            raise ValueError("max_jobs must be at least 1")
        self.store = store
        self.media_root = media_root
        self.runner: RenderRunner = runner or ProcessRunner()
        self.max_jobs = max_jobs
        self.poll = poll
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cancels: dict[int, threading.Event] = {}
        self._afters: dict[int, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._prefix = f"{socket.gethostname()}:{os.getpid()}"
        self._warm = warm

    def start(self) -> None:
        """Start the worker threads (and the render process kept ready)."""
        self._stopping.clear()
        if self._warm is not None:
            self._warm.start()
        for number in range(self.max_jobs):
            thread = threading.Thread(target=self._loop, args=(f"{self._prefix}:{number}",),
                                      name=f"storyreel-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the workers; a render in progress is stopped and queued again.

        Returns:
            True when every worker thread ended within ``timeout`` seconds; the threads
            still running are kept, so a later ``stop`` waits for them again.
        """
        self._stopping.set()
        with self._lock:
            for event in self._cancels.values():
                event.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        try:
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        finally:
            if self._warm is not None:  # a process still rendering stops with its job
                self._warm.close()
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        if self._threads:
            log.warning("%d render worker(s) did not stop within %g s",
                        len(self._threads), timeout)
        return not self._threads

    def submitted(self, job_id: int) -> None:
        """Wake one idle worker."""
        with self._wake:
            self._wake.notify()

    def cancel(self, job_id: int) -> None:
        """Stop the job now if a worker of this process runs it."""
        with self._lock:
            event = self._cancels.get(job_id)
        if event is not None:
            event.set()

    def after(self, job_id: int, action: Callable[[], None]) -> bool:
        """Run ``action`` when the worker running the job let go of it (see Dispatcher)."""
        with self._lock:
            if job_id not in self._cancels:
                return False
            self._afters.setdefault(job_id, []).append(action)
        return True

    @property
    def running(self) -> list[int]:
        """Ids of the jobs being rendered by this dispatcher."""
        with self._lock:
            return sorted(self._cancels)

    def _loop(self, worker: str) -> None:
        while not self._stopping.is_set():
            try:
                job = self.store.claim_job(worker)
            except Exception:
                log.exception("cannot read the render queue")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(self.poll)
                continue
            self._run(job)

    def _run(self, job: JobRow) -> None:
        cancel = threading.Event()
        with self._lock:
            self._cancels[job.id] = cancel
        try:
            if self.store.cancel_requested(job.id) or self._stopping.is_set():
                cancel.set()
            self._execute(job, cancel)
        except RenderCancelled:
            if self._stopping.is_set() and not self.store.cancel_requested(job.id):
                self.store.requeue(job.id, "Waiting: the server stopped during the render")
            else:
                self.store.finish_cancelled(job.id)
        except JobFailed as exc:
            self.store.fail_job(job.id, str(exc), exc.problems)
        except Exception as exc:
            log.exception("render job %d failed", job.id)
            self.store.fail_job(job.id, f"The render failed unexpectedly ({exc}).")
        finally:
            with self._lock:
                self._cancels.pop(job.id, None)
                actions = self._afters.pop(job.id, [])
            for action in actions:
                try:
                    action()
                except Exception:
                    log.exception("clean-up after job %d failed", job.id)

    def _execute(self, job: JobRow, cancel: threading.Event) -> None:
        project = self.store.get_project(job.project_id)
        if project is None:
            raise JobFailed("The project was deleted.")
        folder = self.media_root / str(project.id)
        segments = self.store.segments(project.id)
        if job.kind == "narrate":
            self._narrate(job, project, segments, folder, cancel)
            return
        problems = render_problems(project.title, project.options, segments, folder)
        if problems:
            dicts = problem_dicts(problems)
            for item in dicts:
                if item["segment"]:
                    item["segment_id"] = segments[item["segment"] - 1].id
            raise JobFailed(f"The project cannot render yet: {len(dicts)} problem"
                            f"{'s' if len(dicts) != 1 else ''} to fix.", dicts)
        # Segments with text and no narration, or one made from other text or voice, are
        # spoken first, in the render process.
        spec = RenderSpec(job.id, build_manifest(project.title, project.options, segments),
                          str(folder), str(folder / "output" / f"render-{job.id}.mp4"),
                          narrate=respeak_positions(segments, project.options),
                          options=project.options, draft=job.draft,
                          cache=str(self.media_root.parent / "cache"), cut=job.cut or [])
        kept = [RECORDING_CHANGED.format(number=number)
                for number in changed_recordings(segments, project.options)]
        if cancel.is_set():
            raise RenderCancelled("render cancelled")
        outcome = self.runner(spec, _ProgressWriter(self.store, job.id, cancel), cancel)
        if cancel.is_set() and self.store.cancel_requested(job.id):
            for path in [outcome.path, *(v["path"] for v in outcome.videos)]:
                Path(path).unlink(missing_ok=True)
            _discard(folder, outcome.narrations)
            raise RenderCancelled("render cancelled")
        finishing = time.perf_counter()
        version = self._attach_to_render(job, outcome.narrations, segments, folder)
        captions = self._captions(spec, outcome)
        self.store.complete_job(
            job.id, output_file=os.path.relpath(outcome.path, folder), captions_file=captions,
            size=outcome.size, duration=outcome.duration, frames=outcome.frames,
            warnings=[*kept, *outcome.warnings],
            message=parts_words(outcome.parts_encoded, outcome.parts_reused),
            frame_size=(outcome.width, outcome.height) if outcome.width else None,
            project_version=version,
            outputs=[{**{k: v for k, v in video.items() if k != "path"},
                      "file": os.path.relpath(video["path"], folder)}
                     for video in outcome.videos] or None,
            timings={**outcome.timings, "finish": time.perf_counter() - finishing},
        )

    def _attach_to_render(self, job: JobRow, narrations: list[dict[str, Any]],
                          segments: list[SegmentRow], folder: Path) -> float | None:
        """Attach the narrations a render spoke; returns the project version the video then
        matches (``None``: unchanged, or edited during the render, so it stays out of date)."""
        if not narrations:
            return None
        before = self.store.get_project(job.project_id)
        edited = before is None or job.project_version is None or \
            before.updated_at > job.project_version + 1e-6
        self._attach(job.project_id, segments, folder, narrations)
        after = self.store.get_project(job.project_id)
        return None if edited or after is None else after.updated_at

    def _narrate(self, job: JobRow, project: ProjectRow, segments: list[SegmentRow],
                 folder: Path, cancel: threading.Event) -> None:
        """Generate the narrations of the job's segments, then attach them."""
        positions = [i for i, s in enumerate(segments) if s.id in (job.targets or [])]
        spec = RenderSpec(job.id, narration_manifest(project.title, project.options, segments),
                          str(folder), "", "narrate", positions, project.options,
                          cache=str(self.media_root.parent / "cache"))
        if cancel.is_set():
            raise RenderCancelled("narration cancelled")
        outcome = self.runner(spec, _ProgressWriter(self.store, job.id, cancel, "narrate"),
                              cancel)
        if cancel.is_set() and self.store.cancel_requested(job.id):
            _discard(folder, outcome.narrations)
            raise RenderCancelled("narration cancelled")
        self._attach(project.id, segments, folder, outcome.narrations)
        count = len(outcome.narrations)
        self.store.complete_job(
            job.id, output_file="", captions_file=None, size=0, duration=outcome.duration,
            frames=count, warnings=outcome.warnings,
            message=f"Narration generated for {count} segment{'s' if count != 1 else ''}")

    def _attach(self, project_id: int, segments: list[SegmentRow], folder: Path,
                narrations: list[dict[str, Any]]) -> None:
        """Make narrations written by a job the segments' own; the files they replace are
        deleted unless another segment still uses them."""
        for item in narrations:
            segment = segments[item["position"]]
            current = self.store.get_segment(project_id, segment.id)
            if current is None:  # deleted during the job
                (folder / item["file"]).unlink(missing_ok=True)
                continue
            self.store.update_segment(project_id, segment.id, {
                "audio_file": item["file"], "audio_samples": item["samples"],
                "narration_from": item["source"]})
            old = current.audio_file
            in_use = {row.audio_file for row in self.store.segments(project_id)}
            if old and old != item["file"] and old not in in_use:
                (folder / old).unlink(missing_ok=True)

    @staticmethod
    def _captions(spec: RenderSpec, outcome: RenderOutcome) -> str | None:
        """The SRT the engine wrote beside the video (named like it), if any."""
        srt = Path(outcome.path).with_suffix(".srt")
        return os.path.relpath(srt, spec.base_dir) if srt.is_file() else None
