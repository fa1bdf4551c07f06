"""The studio's errors: one small tree under :class:`storyreel.errors.StoryreelError`.

They say what went wrong in a creator's words and carry no HTTP status; the app maps
each class to a response once (:func:`storyreel.service.app.create_app`)::

    StudioError (StoryreelError)
    ├── NotFound (LookupError)          no such project, segment, render or file
    ├── Conflict                        a render or job of the project is in the way
    ├── PreconditionFailed              ``If-Match`` names a version changed since
    ├── Invalid (ValueError)            the request or file is not usable; ``problems`` say why
    │   ├── UploadRejected              an uploaded file failed its checks
    │   └── OutOfRange                  a well-formed request for what is not there (a time
    │                                   past the video's end)
    ├── TooLarge                        a body or file is over its cap
    └── Busy                            too much costly work at once; try again shortly
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storyreel.errors import StoryreelError
from storyreel.service.schemas import ProblemOut

__all__ = [
    "Busy",
    "Conflict",
    "Invalid",
    "NotFound",
    "OutOfRange",
    "PreconditionFailed",
    "StudioError",
    "TooLarge",
    "UploadRejected",
    "invalid_request",
]


class StudioError(StoryreelError):
    """A request the studio refuses; the message is for people.

    Args:
        message: What went wrong, for the creator.
        problems: What exactly (segment, field), when there are several things to fix.
        **extra: More fields for the answer (``job_id`` of the render in the way).
    """

    def __init__(self, message: str, problems: list[ProblemOut] | None = None,
                 **extra: Any) -> None:
        self.problems = problems
        self.extra = extra
        super().__init__(message)


class NotFound(StudioError, LookupError):
    """No such project, segment, render or file."""


class Conflict(StudioError):
    """A queued or running job of the project is in the way."""


class PreconditionFailed(StudioError):
    """A conditional write (``If-Match``) met a project or segment changed elsewhere.

    Nothing was written. ``current`` (in the answer) is the resource as it is now, and
    ``etag`` its tag, so the writer can show what changed and choose.
    """

    def __init__(self, message: str, *, etag: str, current: dict[str, Any]) -> None:
        self.etag = etag
        super().__init__(message, current=current)


class Invalid(StudioError, ValueError):
    """The request or the file sent is not usable."""


class UploadRejected(Invalid):
    """An uploaded file failed its checks (type, damage, length, pixels)."""


class OutOfRange(Invalid):
    """A value the request may hold, but not here: a time that is not a moment of the
    video (not a number, before its start or past its end)."""


class TooLarge(StudioError):
    """A request body or file is over its cap."""


class Busy(StudioError):
    """Too much costly work is running; the request may be tried again later.

    Args:
        message: What is busy, for the creator.
        retry_after: Seconds after which trying again is worthwhile.
    """

    def __init__(self, message: str, retry_after: int = 5) -> None:
        self.retry_after = retry_after
        super().__init__(message)


def invalid_request(errors: Sequence[Any]) -> Invalid:
    """An :class:`Invalid` listing what pydantic found wrong with a request."""
    problems = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "is required"
        problems.append(ProblemOut(message=message, field=".".join(loc) or None))
    head = problems[0] if problems else ProblemOut(message="is not valid")
    first = f"{head.label}: {head.message}" if head.label else head.message
    return Invalid(f"The request is not valid: {first}.", problems)
