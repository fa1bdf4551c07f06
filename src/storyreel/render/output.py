"""Atomic output: a hidden temp file beside the target, published with ``os.replace``.

Temp files are named ``.<name>.<pid>-<token>.storyreel-part``; the next render in
the same folder sweeps those whose process is gone (or that are a day old).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from storyreel.errors import OutputError, output_error
from storyreel.media.files import check_output_file

__all__ = ["TEMP_SUFFIX", "check_output_dir", "publish", "sweep_stale", "temp_output"]

TEMP_SUFFIX = ".storyreel-part"
_TEMP_RE = re.compile(r"^\..+\.(\d+)-[0-9a-f]+" + re.escape(TEMP_SUFFIX) + r"$")
_STALE_AGE = 24 * 3600
# Read once at import: os.umask() is process-wide and not safe to toggle from threads.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def check_output_dir(target: Path) -> None:
    """Fail early, in words, when ``target`` cannot be written."""
    folder = target.parent
    if target.is_dir():
        raise OutputError("output path is a folder, not a file", target)
    check_output_file(target)
    if not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(exc, folder) from exc
    if not folder.is_dir():
        raise OutputError("output folder is not a folder", folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError("output folder is not writable", folder)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Remove temp files left in ``folder`` by renders that were killed.

    Returns:
        The paths removed.
    """
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if not match:
            continue
        with contextlib.suppress(OSError):
            old = now - entry.stat().st_mtime > _STALE_AGE
            if old or not _pid_alive(int(match.group(1))):
                entry.unlink()
                removed.append(entry)
    return removed


@contextlib.contextmanager
def temp_output(target: Path) -> Iterator[Path]:
    """Yield a hidden temp path beside ``target``; it is removed on exit unless published."""
    # Keep the temp name within the file system's 255-byte limit however long the target is.
    stem = os.fsencode(target.name)[:180].decode("utf-8", errors="ignore")
    temp = target.with_name(f".{stem}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        yield temp
    finally:
        with contextlib.suppress(OSError):  # never hide the error that got us here
            temp.unlink()


def publish(temp: Path, target: Path) -> None:
    """Atomically give ``temp`` the final name ``target`` (readable like a normal file)."""
    try:
        os.chmod(temp, 0o666 & ~_UMASK)
        os.replace(temp, target)
    except OSError as exc:
        raise output_error(exc, target) from exc
