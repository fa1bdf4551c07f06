"""The render process's protocol, shared by :mod:`storyreel.service.worker` (the child) and
:class:`storyreel.service.jobs.ProcessRunner` (the parent).

JSON lines: the parent writes a :class:`RenderSpec` as the first line of the child's stdin;
a later ``cancel`` line, or stdin closing, cancels. The child answers on stdout with
``progress`` lines and one final ``done`` (a :class:`RenderOutcome`), ``cancelled`` or
``error`` (message and problems, from :func:`describe_error`) line.

This module imports neither the web framework nor the studio's database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any

from storyreel.credentials import redact

__all__ = ["JobFailed", "RenderOutcome", "RenderSpec", "describe_error", "problem_dicts", "send"]


@dataclass(frozen=True)
class RenderSpec:
    """Everything a worker needs for one render, as plain data (JSON-able).

    Attributes:
        job_id: The job being rendered.
        manifest: A storyreel manifest with media paths relative to ``base_dir``.
        base_dir: The project's media folder.
        output: Where the finished MP4 is published.
        kind: ``render``, or ``narrate`` (write the narrations of the ``narrate``
            segments into ``base_dir/audio`` instead).
        narrate: 0-based segments to narrate (narrate jobs).
        options: The project's stored options (narrate jobs record what made each file).
        draft: A quick draft (the CLI's ``--draft``: small size, fastest preset, bitrate
            scaled to the size) instead of the final video.
        cache: The folder of encoded parts kept between renders (the studio's data
            folder holds it); empty for none. With workers on Redis, the narrations they
            speak are kept there too (``narration/``).
        cut: The 1-based segments to render (a cut, with its own timing); empty: all.
    """

    job_id: int
    manifest: dict[str, Any]
    base_dir: str
    output: str
    kind: str = "render"
    narrate: list[int] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    draft: bool = False
    cache: str = ""
    cut: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class RenderOutcome:
    """A finished render."""

    path: str
    size: int
    duration: float
    frames: int
    fps: str
    warnings: list[str] = field(default_factory=list)
    narrations: list[dict[str, Any]] = field(default_factory=list)
    width: int = 0
    height: int = 0
    parts_encoded: int = 0
    parts_reused: int = 0
    #: A render for several platforms: each video (``platform``, ``path``, ``width``,
    #: ``height``, ``size``); empty for one video (``path`` above).
    videos: list[dict[str, Any]] = field(default_factory=list)


class JobFailed(Exception):
    """A render failed; the message is for the creator, ``problems`` name segments."""

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        self.problems = problems
        super().__init__(message)


def problem_dicts(problems: list[Any]) -> list[dict[str, Any]]:
    return [{"message": p.message, "segment": p.segment, "field": p.field} for p in problems]


def describe_error(exc: BaseException) -> tuple[str, list[dict[str, Any]] | None]:
    """A creator-readable message (and the problems, if any) for a failed render; a
    password in a URL it quotes (the workers' Redis) is hidden."""
    message, problems = _describe(exc)
    return redact(message), problems


def _describe(exc: BaseException) -> tuple[str, list[dict[str, Any]] | None]:
    from storyreel.errors import (
        DiskFullError,
        EncoderError,
        MediaError,
        OutputError,
        PlatformFailed,
        ValidationFailed,
        VerificationError,
    )

    if isinstance(exc, PlatformFailed):  # what failed, said as for a video of its own
        cause = exc.__cause__
        message, problems = (_describe(cause) if isinstance(cause, Exception)
                             else (f"{exc.reason}.", None))
        return f"The {exc.platform} video failed. {message}", problems
    if isinstance(exc, ValidationFailed):
        count = len(exc.problems)
        return (f"The project cannot render yet: {count} problem{'s' if count != 1 else ''} "
                "to fix.", problem_dicts(exc.problems))
    if isinstance(exc, MediaError):
        return (f"A media file could not be read: {exc.problem.message}.",
                problem_dicts([exc.problem]))
    if isinstance(exc, DiskFullError):
        return "The disk is full: free some space, then render again.", None
    if isinstance(exc, OutputError):
        return f"The video could not be written: {exc}.", None
    if isinstance(exc, EncoderError):
        return f"The video encoder failed: {exc}.", None
    if isinstance(exc, VerificationError):
        return f"The finished video did not check out, so it was not kept: {exc}.", None
    return f"The render failed unexpectedly ({type(exc).__name__}: {exc}).", None


def send(out: IO[str], kind: str, payload: Any) -> None:
    """Write one protocol message and flush it."""
    out.write(json.dumps({"kind": kind, "payload": payload}) + "\n")
    out.flush()
