"""The render process: ``python -m storyreel.service.worker`` renders one job.

Protocol (JSON lines): the parent writes the :class:`~storyreel.service.jobs.RenderSpec`
as the first line of stdin; a later ``cancel`` line, or stdin closing (the server
died), cancels the render. The child answers on stdout with ``progress`` lines and
one final ``done``, ``cancelled`` or ``error`` line. Anything else that writes to
stdout is redirected to stderr first, so it cannot corrupt the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from storyreel._malloc import tune_malloc

__all__ = ["main"]


def _watch_stdin(cancel: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "cancel":
            break
    cancel.set()


def _send(out: IO[str], kind: str, payload: Any) -> None:
    out.write(json.dumps({"kind": kind, "payload": payload}) + "\n")
    out.flush()


def main() -> int:
    """Render the spec read from stdin; report on the protocol stream."""
    tune_malloc()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        spec = json.loads(sys.stdin.readline())
    except json.JSONDecodeError as exc:
        _send(out, "error", {"message": f"bad render request ({exc})", "problems": None})
        return 2
    cancel = threading.Event()
    threading.Thread(target=_watch_stdin, args=(cancel,), daemon=True).start()
    try:
        _send(out, *_render(spec, cancel, out))
    finally:
        out.close()
    return 0


def _render(spec: dict[str, Any], cancel: threading.Event, out: IO[str]) -> tuple[str, Any]:
    from storyreel.errors import RenderCancelled
    from storyreel.model.load import project_from_dict
    from storyreel.render.cache import PartCache
    from storyreel.render.pipeline import render
    from storyreel.service.jobs import RenderOutcome, describe_error

    try:
        if spec.get("kind") == "narrate":
            from storyreel.service.narration import run_narration

            return "done", run_narration(spec, cancel.is_set,
                                         lambda p: _send(out, "progress", asdict(p)))
        project = project_from_dict(spec["manifest"], base_dir=Path(spec["base_dir"]))
        cache = PartCache(Path(spec["cache"])) if spec.get("cache") else False
        result = render(project, Path(spec["output"]), cancel=cancel, cache=cache,
                        on_progress=lambda p: _send(out, "progress", asdict(p)),
                        parts=_remote_parts())
    except RenderCancelled:
        return "cancelled", None
    except Exception as exc:  # every failure goes back to the parent, in words
        message, problems = describe_error(exc)
        return "error", {"message": message, "problems": problems}
    return "done", asdict(RenderOutcome(str(result.path), result.size, result.duration,
                                        result.frames, str(result.fps), list(result.warnings)))


def _remote_parts() -> Any:
    """Workers through Redis when the studio was started with ``--redis`` (the
    ``STORYREEL_REDIS`` it passes down); ``None``: encode here."""
    url = os.environ.get("STORYREEL_REDIS", "").strip()
    if not url:
        return None
    from storyreel.distributed import RemoteParts

    return RemoteParts(url)


if __name__ == "__main__":
    sys.exit(main())
