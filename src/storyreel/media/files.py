"""Media paths: what is refused before a decoder opens a file."""

from __future__ import annotations

import stat
from pathlib import Path

from storyreel.errors import MediaError

__all__ = ["check_regular_file", "reason"]


def check_regular_file(path: Path, what: str, segment: int | None = None) -> None:
    """Refuse anything but a regular file before it is opened.

    A FIFO would block the decoder forever and a device (``/dev/zero``) never ends, so
    they are named for what they are instead of being read.

    Raises:
        MediaError: Missing, unreadable, a folder, or a pipe, device or socket.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise MediaError(f"{what} file not found", path=path, segment=segment) from exc
    except PermissionError as exc:
        raise MediaError(f"{what} file is not readable (permission denied)", path=path,
                         segment=segment) from exc
    except (OSError, ValueError) as exc:
        raise MediaError(f"{what} file cannot be read ({reason(exc)})", path=path,
                         segment=segment) from exc
    if stat.S_ISDIR(mode):
        raise MediaError(f"{what} path is a folder, not a file", path=path, segment=segment)
    if not stat.S_ISREG(mode):
        raise MediaError(f"{what} path is not a regular file (a pipe, device or socket)",
                         path=path, segment=segment)


def reason(exc: BaseException) -> str:
    """The first line of a foreign error's message, for a one-line problem."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
