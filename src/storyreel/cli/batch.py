"""Many projects in one command: ``storyreel render a.json b.json`` or ``--batch FILE``.

A batch file names one manifest per line (blank lines and ``#`` comments are skipped),
or holds JSON Lines, one object per project: ``{"manifest": "a.json", "output":
"a.mp4", "preset": "fast", "subtitles": {"style": "word"}}``; every key but
``manifest`` and ``output`` is a render override, applied over the command line's.
Relative paths resolve against the batch file's folder. A project that fails does not
stop the others; the batch ends with a summary table and fails if any project did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from storyreel.errors import (
    ManifestError,
    Problem,
    RenderCancelled,
    StoryreelError,
    ValidationFailed,
)
from storyreel.model.project import Project

__all__ = ["BatchEntry", "BatchOutcome", "check_output", "inputs_of", "read_batch",
           "run_batch"]


@dataclass(frozen=True)
class BatchEntry:
    """One project of a batch: its manifest, where its video goes and its overrides."""

    manifest: Path
    output: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchOutcome:
    """How one project of a batch ended."""

    entry: BatchEntry
    ok: bool
    seconds: float
    detail: str


def read_batch(path: Path) -> list[BatchEntry]:
    """The projects a batch file lists.

    Raises:
        ManifestError: The file cannot be read, or a line is not a manifest path or a
            JSON object with a ``manifest``.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the batch file {path}: {exc}") from exc
    base = path.parent
    entries = [_entry(line.strip(), base, path, number)
               for number, line in enumerate(lines, 1)
               if line.strip() and not line.lstrip().startswith("#")]
    if not entries:
        raise ManifestError(f"the batch file {path} lists no projects")
    return entries


def _entry(line: str, base: Path, path: Path, number: int) -> BatchEntry:
    if not line.startswith("{"):
        return BatchEntry(_resolve(base, line))
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ManifestError(f"{path}:{number}: not valid JSON: {exc}") from exc
    manifest = data.pop("manifest", None) if isinstance(data, dict) else None
    if not isinstance(manifest, str):
        raise ManifestError(f'{path}:{number}: a JSON line needs "manifest": "PATH"')
    output = data.pop("output", None)
    return BatchEntry(_resolve(base, manifest),
                      _resolve(base, output) if isinstance(output, str) else None, data)


def _resolve(base: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else base / path


def inputs_of(entries: Sequence[BatchEntry], load: Callable[[Path], Project]) -> dict[Path, int]:
    """Every file the entries read (manifests and their media), by real path, with the
    1-based number of the first entry that reads it. A manifest that does not load
    still counts (its render fails on its own)."""
    owned: dict[Path, int] = {}
    for number, entry in enumerate(entries, 1):
        owned.setdefault(_real(entry.manifest), number)
        try:
            project = load(entry.manifest)
        except (StoryreelError, OSError):
            continue
        for path in project.input_files():
            owned.setdefault(_real(path), number)
    return owned


def check_output(outputs: Sequence[Path], owned: dict[Path, int]) -> None:
    """Refuse outputs (a video and the files written beside it) that would replace a file
    a project of the batch reads.

    Raises:
        ValidationFailed: Naming the file and the project that reads it (as a render
            refuses to replace its own inputs).
    """
    for path in outputs:
        owner = owned.get(_real(path))
        if owner is not None:
            raise ValidationFailed([Problem(
                f"would overwrite {path}, which project {owner} of this render reads; "
                "choose another output", path=path, field="output")])


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


Renderer = Callable[[BatchEntry, int, int], str]
"""Renders entry ``i`` of ``n`` (1-based); returns what to show for it when it succeeds."""


def run_batch(entries: Sequence[BatchEntry], render_one: Renderer,
              on_failure: Callable[[BatchEntry, str], None]) -> list[BatchOutcome]:
    """Render every entry in turn; a failure is reported and the next project starts.

    Cancellation (Ctrl-C, SIGTERM) stops the whole batch.
    """
    outcomes = []
    for number, entry in enumerate(entries, 1):
        start = time.monotonic()
        try:
            detail, ok = render_one(entry, number, len(entries)), True
        except (KeyboardInterrupt, RenderCancelled):
            raise
        except ValidationFailed as exc:
            detail, ok = "; ".join(str(p) for p in exc.problems), False
        except (StoryreelError, OSError, TypeError) as exc:
            detail, ok = _one_line(exc), False
        if not ok:
            on_failure(entry, detail)
        outcomes.append(BatchOutcome(entry, ok, time.monotonic() - start, detail))
    return outcomes


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, StoryreelError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def summary_table(outcomes: Sequence[BatchOutcome]) -> Table:
    """The table a batch ends with: one row per project."""
    table = Table(title=f"{sum(o.ok for o in outcomes)} of {len(outcomes)} rendered")
    for column in ("#", "project", "result", "time", "output or error"):
        table.add_column(column, overflow="fold")
    for number, outcome in enumerate(outcomes, 1):
        table.add_row(str(number), str(outcome.entry.manifest),
                      "ok" if outcome.ok else "FAILED", f"{outcome.seconds:.1f} s",
                      outcome.detail, style=None if outcome.ok else "red")
    return table


def print_summary(console: Console, outcomes: Sequence[BatchOutcome]) -> None:
    """Print the summary table (rich, so it fits the terminal's width)."""
    console.print(summary_table(outcomes))
