"""Opening Redis and translating its failures once, into :class:`WorkerError`.

The URL may carry a user and password (Redis AUTH or an ACL user,
``redis://user:password@host:6379/0``) and ask for TLS (``rediss://``); redis-py reads
TLS files from the URL's query (``?ssl_ca_certs=ca.pem&ssl_certfile=worker.pem&``
``ssl_keyfile=worker.key``). Messages show the URL without its password.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from storyreel.credentials import redact
from storyreel.errors import WorkerError

try:
    import redis
    from redis.exceptions import AuthenticationError, RedisError
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise WorkerError("distributed rendering needs the workers extra: "
                      "pip install 'storyreel[workers]'") from exc

__all__ = ["alive_key", "cancel_key", "connect", "redis_errors"]

_KEY_PREFIX = "storyreel:"


def cancel_key(render_id: str) -> str:
    """Set while a render is cancelled or has failed: its parts stop at the next frame."""
    return f"{_KEY_PREFIX}cancel:{render_id}"


def alive_key(job_id: str) -> str:
    """Kept alive (with a short expiry) by the worker encoding a part."""
    return f"{_KEY_PREFIX}alive:{job_id}"


def connect(url: str, *, timeout: float | None = 10.0) -> redis.Redis:
    """A checked connection to the Redis at ``url``.

    Raises:
        WorkerError: The URL is malformed, nothing answers there, or Redis refuses the
            user and password.
    """
    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=5,
                                          socket_timeout=timeout)
    except (TypeError, ValueError) as exc:
        raise WorkerError(f"not a Redis URL: {redact(url)!r} "
                          f"({redact(_one_line(exc))})") from exc
    try:
        connection.ping()
    except TypeError as exc:  # an option in the URL's query that redis-py does not take
        connection.close()
        raise WorkerError(f"not a Redis URL: {redact(url)!r} "
                          f"({redact(_one_line(exc))})") from exc
    except AuthenticationError as exc:
        connection.close()
        raise WorkerError(f"Redis at {redact(url)} refused the connection (wrong or missing "
                          "user and password): "
                          f"{redact(_one_line(exc))}") from exc
    except (RedisError, OSError) as exc:
        connection.close()
        raise WorkerError(f"cannot reach Redis at {redact(url)}: "
                          f"{redact(_one_line(exc))}") from exc
    return connection


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.contextmanager
def redis_errors(url: str) -> Iterator[None]:
    """Turn a Redis failure inside the block into a one-line :class:`WorkerError`."""
    try:
        yield
    except RedisError as exc:
        raise WorkerError(f"lost the connection to Redis at {redact(url)}: "
                          f"{redact(_one_line(exc))}") from exc
