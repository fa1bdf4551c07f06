"""Media paths: what is refused before a decoder opens a file."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from storyreel.errors import MediaError, OutputError

__all__ = ["check_output_file", "check_regular_file", "copy_file_atomic", "file_identity",
           "reason"]


def file_identity(path: Path) -> tuple[str, int, int, int]:
    """What tells one version of a file from another without reading it: its resolved
    path, size, modification time and inode (a file written anew differs in one).

    Raises:
        OSError: The file cannot be looked at.
    """
    found = os.stat(path)
    return str(Path(path).resolve()), found.st_size, found.st_mtime_ns, found.st_ino


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


def check_output_file(target: Path) -> None:
    """Refuse an output path that names something other than a file to replace.

    Output is published by renaming a temp file over the target, which would put a
    file where a pipe or device was (``-o /dev/null`` run as root would replace the
    device itself). A symlink is replaced, never followed.

    Raises:
        OutputError: The target is a folder, a pipe, a device or a socket.
    """
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise OutputError(f"output path cannot be checked ({reason(exc)})", target) from exc
    if stat.S_ISDIR(mode):
        raise OutputError("output path is a folder, not a file", target)
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise OutputError("output path is not a regular file (a pipe, device or socket); "
                          "name a file to write", target)


def copy_file_atomic(source: Path, target: Path) -> Path:
    """Copy ``source`` to ``target`` (its folder made if missing) through a temp file
    beside it, so ``target`` is never half written; returns ``target``.

    Raises:
        OutputError: The folder or file cannot be written.
    """
    tmp = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        tmp = ""
    except OSError as exc:
        raise OutputError(f"cannot copy {source.name} ({reason(exc)})", target) from exc
    finally:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
    return target


def reason(exc: BaseException) -> str:
    """The first line of a foreign error's message, for a one-line problem."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
