"""The render process: ``python -m storyreel.service.worker`` renders one job, or, with
``--keep``, one job after another.

It speaks the protocol of :mod:`storyreel.service.protocol` and loads neither the web
framework nor the studio app. Anything else that writes to stdout is redirected to
stderr first, so it cannot corrupt the protocol.

It says ``ready`` once it can take a job; with ``--warm-up`` it first does what a
process's first render would (imports, Numba's compiled loops, the codecs, the caption
aligner and the built-in voice's model). A kept process renders each spec line it reads
until stdin closes; a ``cancel`` line stops the job it follows. SIGTERM, sent to a
process that holds no job, ends it at once with its temp files removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from storyreel._malloc import tune_malloc
from storyreel._threads import one_thread_pools
from storyreel.credentials import redis_url
from storyreel.render.progress import CancelToken
from storyreel.service.protocol import RenderOutcome, describe_error, send

__all__ = ["main", "warm_up"]

#: A request read from stdin: the spec (or why it did not read) and its cancel event.
_Request = tuple[dict[str, Any] | str, threading.Event]


class _Requests:
    """Reads stdin on a thread: spec lines are queued with a cancel event of their own,
    which a ``cancel`` line (or stdin closing) sets for the latest one."""

    def __init__(self) -> None:
        self.queue: queue.Queue[_Request | None] = queue.Queue()
        self._latest = threading.Event()

    def read(self) -> None:
        try:
            for line in sys.stdin:
                text = line.strip()
                if text == "cancel":
                    self._latest.set()
                elif text:
                    self._latest = threading.Event()
                    self.queue.put((_parse(text), self._latest))
        finally:
            self._latest.set()
            self.queue.put(None)


def _parse(text: str) -> dict[str, Any] | str:
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"bad render request ({exc})"
    return spec if isinstance(spec, dict) else "bad render request (not an object)"


def main(argv: list[str] | None = None) -> int:
    """Render the spec (``--keep``: every spec) read from stdin; report on the protocol
    stream."""
    flags = sys.argv[1:] if argv is None else argv
    keep = "--keep" in flags
    signal.signal(signal.SIGTERM, _terminated)
    tune_malloc()
    one_thread_pools()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = _Requests()
    threading.Thread(target=requests.read, name="storyreel-stdin", daemon=True).start()
    try:
        if "--warm-up" in flags:
            warm_up(_Waiting(requests.queue))
        send(out, "ready", {"pid": os.getpid()})
        while (request := requests.queue.get()) is not None:
            spec, cancel = request
            if isinstance(spec, str):
                send(out, "error", {"message": spec, "problems": None})
                if not keep:
                    return 2
                continue
            send(out, *_render(spec, cancel, out))
            if not keep:
                break
    finally:
        out.close()
    return 0


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM: unwind (temp folders are removed on the way) and exit."""
    raise SystemExit(128 + signum)


class _Waiting:
    """Set while a job waits in the queue: warming up then stops, the job goes first."""

    def __init__(self, waiting: queue.Queue[_Request | None]) -> None:
        self._queue = waiting

    def is_set(self) -> bool:
        return not self._queue.empty()


def warm_up(stop: CancelToken | None = None) -> bool:
    """Do what a process's first render does once: load the render's modules, compile
    Numba's loops, open the codecs and the caption aligner, load the built-in voice.

    A tiny project (a still, a generated recording, captions and loudness on) is
    rendered in a temp folder without the part cache. Nothing here is needed for
    correctness, so a failure is only noted on stderr: the first job then pays for it.
    Once ``stop`` is set (a job came) the rest is left to the job.

    Returns:
        True when every step worked.
    """
    started = time.perf_counter()
    try:
        from PIL import Image

        from storyreel.demo import write_speechlike_wav
        from storyreel.model.load import project_from_dict
        from storyreel.model.project import Voice
        from storyreel.render.pipeline import render
        from storyreel.voice.engines import open_engine

        with tempfile.TemporaryDirectory(prefix="storyreel-warm-") as temp:
            folder = Path(temp)
            Image.new("RGB", (96, 64), (120, 80, 40)).save(folder / "still.png")
            write_speechlike_wav(folder / "voice.wav", 0.5)
            project = project_from_dict({
                "title": "warm", "width": 64, "height": 64, "fps": 10,
                "segments": [{"image": "still.png", "audio": "voice.wav", "text": "Ready."}],
                "settings": {"preset": "ultrafast", "loudness": {"enabled": True},
                             "subtitles": {"enabled": True}},
            }, base_dir=folder)
            render(project, folder / "warm.mp4", cache=False, cancel=stop)
        if stop is None or not stop.is_set():
            engine = open_engine(Voice())
            engine.synthesise("Ready.", engine.default_voice, 1.0)
    except Exception as exc:
        print(f"storyreel worker: warming up failed ({type(exc).__name__}: {exc})",
              file=sys.stderr)
        return False
    print(f"storyreel worker {os.getpid()}: warm in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return True


def _render(spec: dict[str, Any], cancel: threading.Event, out: IO[str]) -> tuple[str, Any]:
    from storyreel.errors import MediaError, PlatformFailed, RenderCancelled
    from storyreel.media.poster import write_poster
    from storyreel.model.load import project_from_dict
    from storyreel.render.cache import PartCache
    from storyreel.render.pipeline import apply_overrides, render, written_files
    from storyreel.service.narration import respeak, run_narration

    def progress(update: Any) -> None:
        send(out, "progress", asdict(update))

    spoken: list[dict[str, Any]] = []
    try:
        narrator = _narrator(spec)  # a Redis that cannot be reached is an error in words too
        if spec.get("kind") == "narrate":
            return "done", run_narration(spec, cancel.is_set, progress, narrator)
        started, cpu = time.perf_counter(), time.process_time()
        spoken = respeak(spec, cancel.is_set, progress, narrator)
        speak = time.perf_counter() - started
        project = project_from_dict(spec["manifest"], base_dir=Path(spec["base_dir"]))
        project = apply_overrides(project, {"draft": bool(spec.get("draft"))})
        project = project.cut(spec["cut"]) if spec.get("cut") else project
        cache = PartCache(Path(spec["cache"])) if spec.get("cache") else False
        result = render(project, Path(spec["output"]), cancel=cancel, cache=cache,
                        on_progress=progress, parts=_remote_parts(), narrator=narrator,
                        draft=bool(spec.get("draft")))
    except BaseException as exc:
        for item in spoken:  # the studio attaches them only to a finished render
            (Path(spec["base_dir"]) / item["file"]).unlink(missing_ok=True)
        # A cancelled or failed job keeps no video: the studio lists none of its videos.
        finished = exc.kept if isinstance(exc, RenderCancelled) else (
            exc.finished if isinstance(exc, PlatformFailed) else [])
        for kept in finished:
            for path in written_files(kept):
                path.unlink(missing_ok=True)
        if isinstance(exc, RenderCancelled):
            return "cancelled", None
        if not isinstance(exc, Exception):
            raise
        message, problems = describe_error(exc)  # every failure goes back, in words
        return "error", {"message": message, "problems": problems}
    for video in result.videos:
        with contextlib.suppress(MediaError):  # the history shows the first still instead
            write_poster(video.path, video.path.with_suffix(".jpg"))
    videos = [{"platform": v.platform, "path": str(v.path), "width": v.width,
               "height": v.height, "size": v.size} for v in result.videos]
    return "done", asdict(RenderOutcome(str(result.path), result.size, result.duration,
                                        result.frames, str(result.fps), list(result.warnings),
                                        narrations=spoken, width=project.width,
                                        height=project.height,
                                        parts_encoded=result.chunks_encoded,
                                        parts_reused=result.chunks_reused,
                                        videos=videos if len(videos) > 1 else [],
                                        timings={"speak": speak, **result.timings,
                                                 "cpu": time.process_time() - cpu}))


def _remote_parts() -> Any:
    """Workers through Redis when the studio was started with ``--redis`` (the
    ``STORYREEL_REDIS`` it passes down); ``None``: encode here."""
    url = redis_url()
    if not url:
        return None
    from storyreel.distributed import RemoteParts

    return RemoteParts(url)


def _narrator(spec: dict[str, Any]) -> Any:
    """With ``STORYREEL_REDIS``, a narrator whose texts are spoken by the workers into
    the job's cache folder in the studio's data folder (which they share); ``None``:
    speak here, through the user's narration cache."""
    url = redis_url()
    if not url or not spec.get("cache"):
        return None
    from storyreel.distributed import RemoteSpeaker
    from storyreel.voice.cache import NarrationCache
    from storyreel.voice.narrate import Narrator

    return Narrator(NarrationCache(Path(spec["cache"])), speaker=RemoteSpeaker(url))


if __name__ == "__main__":
    sys.exit(main())
