"""The studio's configuration: the data folder (and its lock), address rules and every
environment variable the service reads, in one module that imports no web framework.

Environment:
    ``STORYREEL_DATA_DIR``: the data folder (default: the platform's per-user data folder).
    ``STORYREEL_TOKEN``: the access token when none is passed on the command line.
    ``STORYREEL_REDIS``: the workers' Redis, read by :func:`storyreel.credentials.redis_url`
    (it holds a password, so it lives beside the code that hides it).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import IO

from storyreel.errors import StudioConfigError

__all__ = [
    "MAX_JOBS",
    "DataDirLock",
    "StudioConfigError",
    "check_config",
    "default_data_dir",
    "env_token",
    "is_loopback",
]

#: Most renders that may run at once: each is a process with its own encoder threads.
MAX_JOBS = 16


class DataDirLock:
    """An exclusive lock on a data folder: one studio server per folder.

    Two servers on one folder would both take the same jobs; the second one to start
    is refused instead. The lock is released when the holder exits, even if it crashes.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / "studio.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            StudioConfigError: Another studio server uses the folder.
        """
        handle = self.path.open("a+", encoding="utf-8")
        try:
            _lock(handle)
        except OSError:
            handle.close()
            raise StudioConfigError(
                f"another storyreel studio is already using the data folder {self.path.parent}; "
                "stop it or choose another folder with --data-dir"
            ) from None
        self._file = handle

    def release(self) -> None:
        """Give the lock back."""
        if self._file is not None:
            try:
                _unlock(self._file)
            finally:
                self._file.close()
                self._file = None


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def default_data_dir() -> Path:
    """``$STORYREEL_DATA_DIR``, else the per-user data folder of the platform."""
    configured = os.environ.get("STORYREEL_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "storyreel"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_config(*, host: str, port: int, token: str | None, max_jobs: int) -> None:
    """Refuse a configuration the studio must not start with.

    Raises:
        StudioConfigError: A non-loopback address without a token, a bad port or a job count
            outside 1-:data:`MAX_JOBS`.
    """
    if not is_loopback(host) and not token:
        raise StudioConfigError(
            f"refusing to serve on {host} without an access token: anyone on the network "
            "could use the studio. Pass --token (or set STORYREEL_TOKEN), or bind 127.0.0.1."
        )
    if not 0 <= port <= 65535:
        raise StudioConfigError(f"port {port} is not between 0 and 65535")
    if not 1 <= max_jobs <= MAX_JOBS:
        raise StudioConfigError(f"max jobs must be between 1 and {MAX_JOBS}, not {max_jobs}")


def env_token() -> str | None:
    """``$STORYREEL_TOKEN``, or ``None`` when it is unset or empty."""
    return os.environ.get("STORYREEL_TOKEN") or None
