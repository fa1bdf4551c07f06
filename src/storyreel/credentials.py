"""Secrets in addresses: where the workers' Redis URL comes from, and how any URL is shown.

A Redis URL may carry a password (``redis://user:password@host:6379/0``). It is read
from the command line, a file or the environment (:func:`redis_url`), so it need not
appear in process arguments, and every message, banner or stored error shows it through
:func:`redact`, which keeps the user name and replaces the password.

Environment:
    ``STORYREEL_REDIS``: the workers' Redis URL, for ``storyreel worker`` and
    ``storyreel serve`` (and the studio's render processes) when none is given.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from storyreel.errors import WorkerError

__all__ = ["REDIS_URL_ENV", "redact", "redis_url"]

#: The environment variable that holds the workers' Redis URL.
REDIS_URL_ENV = "STORYREEL_REDIS"
#: A URL file holds one line; anything longer is not a URL.
_MAX_URL_FILE = 64 * 1024
_HIDDEN = "***"

# scheme://userinfo@ : the user information ends at the last "@" before the path. Both
# lengths are bounded, so hostile text costs linear time.
_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]{0,31}://)(?P<info>[^\s/?#]{0,2048})@")
# ?password=... or &password=... (redis-py reads a password from the query too).
_QUERY_SECRET = re.compile(r"(?P<key>[?&](?:password|pass|pwd)=)[^&#\s]*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    ``redis://alice:s3cret@host/0`` becomes ``redis://alice:***@host/0``; user
    information without a colon may itself be a secret and is hidden whole.
    """
    def hide(match: re.Match[str]) -> str:
        user, colon, _ = match["info"].partition(":")
        shown = f"{user}:{_HIDDEN}" if colon else _HIDDEN
        return f"{match['scheme']}{shown}@"

    return _QUERY_SECRET.sub(rf"\g<key>{_HIDDEN}", _USERINFO.sub(hide, text))


def redis_url(given: str | None = None, file: Path | None = None, *,
              environment: bool = True) -> str | None:
    """The Redis URL: ``given``, else the first line of ``file``, else ``$STORYREEL_REDIS``
    (when ``environment``); ``None`` when there is none.

    Raises:
        WorkerError: ``file`` cannot be read, or holds no URL.
    """
    if given:
        return given.strip()
    if file is not None:
        return _read_url_file(file)
    if environment:
        return os.environ.get(REDIS_URL_ENV, "").strip() or None
    return None


def _read_url_file(file: Path) -> str:
    try:
        with file.open("rb") as handle:
            data = handle.read(_MAX_URL_FILE + 1)
    except OSError as exc:
        raise WorkerError(f"cannot read the Redis URL file {file}: "
                          f"{exc.strerror or exc}") from exc
    if len(data) > _MAX_URL_FILE:
        raise WorkerError(f"the Redis URL file {file} is too long for a URL")
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    url = next((line for line in lines if line and not line.startswith("#")), "")
    if not url:
        raise WorkerError(f"the Redis URL file {file} holds no URL")
    return url
