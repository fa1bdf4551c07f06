"""The storyreel exception tree.

Every error the library raises derives from :class:`StoryreelError`. Classes also
inherit the matching builtin, so ``except ValueError`` keeps working for callers
that do not know storyreel::

    StoryreelError
    ├── ProjectError (ValueError)            the input is wrong: exit code 2
    │   ├── ManifestError                    unreadable or malformed manifest file
    │   ├── ValidationFailed                 one or more problems, each with segment and path
    │   ├── MediaError                       a media file failed to decode during the render
    │   ├── OutsideVideo                     a time asked for is not a moment of the video
    │   └── VoiceError                       a narration cannot be synthesised (engine missing,
    │       │                                not configured, text it cannot speak, engine crash)
    │       └── NothingToSay                 the text (or a piece of it) has nothing the voice
    │                                        can say
    ├── RenderError (RuntimeError)           the render itself failed: exit code 1
    │   ├── EncoderError                     libx264/AAC/muxer refused or failed
    │   ├── OutputError (OSError)            the output folder or file cannot be written
    │   │   └── DiskFullError                no space left on the output device
    │   ├── VerificationError                the finished file did not read back as expected
    │   ├── WorkerError                      Redis or a worker failed a distributed render
    │   └── PlatformFailed                   one platform's video of several failed (its
    │                                        cause chained); those finished before it stay
    ├── RenderCancelled                      cancel token set, Ctrl-C or SIGTERM: exit code 130
    └── StudioConfigError (ValueError)       the studio cannot start as configured: exit code 2

Foreign exceptions (PyAV, Pillow, the OS) are translated once, where they are
caught, with ``raise ... from exc``.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DiskFullError",
    "EncoderError",
    "ManifestError",
    "MediaError",
    "NothingToSay",
    "OutputError",
    "OutsideVideo",
    "PlatformFailed",
    "Problem",
    "ProjectError",
    "RenderCancelled",
    "RenderError",
    "StoryreelError",
    "StudioConfigError",
    "ValidationFailed",
    "VerificationError",
    "VoiceError",
    "WorkerError",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a project.

    Attributes:
        message: What is wrong, in words a creator understands.
        segment: 1-based segment number, or ``None`` for project-wide problems.
        path: The file concerned, if any.
        field: The manifest field concerned (e.g. ``"audio"``), if any.
    """

    message: str
    segment: int | None = None
    path: Path | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"segment {self.segment}" if self.segment is not None else "project"
        if self.field:
            where += f" {self.field}"
        if self.path is not None:
            where += f" ({self.path})"
        return f"{where}: {self.message}"


class StoryreelError(Exception):
    """Root of every error raised by storyreel."""


class ProjectError(StoryreelError, ValueError):
    """The project (manifest or its media) is not usable as given."""


class ManifestError(ProjectError):
    """The manifest file cannot be read or is not a valid JSON object."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class ValidationFailed(ProjectError):
    """The project has one or more problems; :attr:`problems` lists all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = str(self.problems[0]) if self.problems else "invalid project"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(head + more)


class MediaError(ProjectError):
    """A segment's media file could not be decoded."""

    def __init__(self, message: str, *, path: Path, segment: int | None = None) -> None:
        self.path = path
        self.segment = segment
        self.problem = Problem(message, segment=segment, path=path)
        super().__init__(str(self.problem))


class OutsideVideo(ProjectError):
    """A time asked for (a frame to draw) is not a moment of the video: before its start
    or at or past its end."""


class VoiceError(ProjectError):
    """A narration cannot be synthesised; :attr:`problem` names the segment when known."""

    def __init__(self, message: str, *, segment: int | None = None,
                 path: Path | None = None) -> None:
        self.segment = segment
        self.path = path
        self.problem = Problem(message, segment=segment, path=path, field="voice")
        super().__init__(str(self.problem) if segment is not None or path else message)


class NothingToSay(VoiceError):
    """The text has nothing the voice can say (no words in its language, only symbols).

    A long text is spoken piece by piece: a piece with nothing to say is left silent,
    and the text fails only when none of it can be said.
    """


class RenderError(StoryreelError, RuntimeError):
    """The render failed after the project was accepted."""


class EncoderError(RenderError):
    """The encoder or muxer failed; :attr:`detail` holds its own message."""

    def __init__(self, message: str, detail: str = "") -> None:
        self.detail = detail
        super().__init__(f"{message}: {detail}" if detail else message)


class WorkerError(RenderError):
    """A distributed render failed: Redis unreachable or gone, no workers, a worker that
    cannot see the shared folder, runs another storyreel, or failed a part."""


class OutputError(RenderError, OSError):
    """The output cannot be written (folder missing, not writable, ...)."""

    def __init__(self, message: str, path: Path, errno_: int | None = None) -> None:
        self.path = path
        RuntimeError.__init__(self, f"{message}: {path}")
        self.errno = errno_

    def __str__(self) -> str:
        return str(self.args[0])


class DiskFullError(OutputError):
    """No space is left on the device that holds the output."""


class VerificationError(RenderError):
    """The rendered file did not read back as a complete, correct MP4."""


class PlatformFailed(RenderError):
    """One video of a render for several platforms failed.

    Attributes:
        platform: The platform whose video failed.
        finished: The videos of the other platforms, published before it failed.
    """

    def __init__(self, platform: str, cause: BaseException | str, finished: list[Path]) -> None:
        self.platform = platform
        self.reason = str(cause)
        self.finished = list(finished)
        kept = (f" (finished and kept: {', '.join(p.name for p in self.finished)})"
                if self.finished else "")
        super().__init__(f"the {platform} video failed: {self.reason}{kept}")

    def __reduce__(self) -> tuple[type[PlatformFailed], tuple[str, str, list[Path]]]:
        return type(self), (self.platform, self.reason, self.finished)


class RenderCancelled(StoryreelError):
    """The render was cancelled (cancel token, Ctrl-C or SIGTERM); nothing was published
    but, in a render for several platforms, the videos finished before (:attr:`kept`)."""

    def __init__(self, message: str = "render cancelled", kept: list[Path] | None = None
                 ) -> None:
        self.kept = list(kept or [])
        self.message = message
        names = ", ".join(path.name for path in self.kept)
        super().__init__(f"{message} (finished and kept: {names})" if names else message)

    def __reduce__(self) -> tuple[type[RenderCancelled], tuple[str, list[Path]]]:
        return type(self), (self.message, self.kept)


class StudioConfigError(StoryreelError, ValueError):
    """The studio cannot start as configured (e.g. a public address without a token)."""


def output_error(exc: OSError, path: Path) -> OutputError:
    """Translate an OS error about the output into the matching :class:`OutputError`."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError("disk full: no space left to write the video", path, code)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError("output folder is not writable", path, code)
    if code == errno.ENOENT:
        return OutputError("output folder does not exist", path, code)
    reason = exc.strerror or str(exc)
    return OutputError(f"cannot write output ({reason})", path, code)
