"""The render process: ``python -m storyreel.service.worker`` renders one job.

It speaks the protocol of :mod:`storyreel.service.protocol` and loads neither the web
framework nor the studio app. Anything else that writes to stdout is redirected to
stderr first, so it cannot corrupt the protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from storyreel._malloc import tune_malloc
from storyreel.credentials import redis_url
from storyreel.service.protocol import RenderOutcome, describe_error, send

__all__ = ["main"]


def _watch_stdin(cancel: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "cancel":
            break
    cancel.set()


def main() -> int:
    """Render the spec read from stdin; report on the protocol stream."""
    tune_malloc()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        spec = json.loads(sys.stdin.readline())
    except json.JSONDecodeError as exc:
        send(out, "error", {"message": f"bad render request ({exc})", "problems": None})
        return 2
    cancel = threading.Event()
    threading.Thread(target=_watch_stdin, args=(cancel,), daemon=True).start()
    try:
        send(out, *_render(spec, cancel, out))
    finally:
        out.close()
    return 0


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
        spoken = respeak(spec, cancel.is_set, progress, narrator)
        project = project_from_dict(spec["manifest"], base_dir=Path(spec["base_dir"]))
        project = apply_overrides(project, {"draft": bool(spec.get("draft"))})
        project = project.cut(spec["cut"]) if spec.get("cut") else project
        cache = PartCache(Path(spec["cache"])) if spec.get("cache") else False
        result = render(project, Path(spec["output"]), cancel=cancel, cache=cache,
                        on_progress=progress, parts=_remote_parts(), narrator=narrator)
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
                                        videos=videos if len(videos) > 1 else []))


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
