"""Opening Redis and translating its failures once, into :class:`WorkerError`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from storyreel.errors import WorkerError

try:
    import redis
    from redis.exceptions import RedisError
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
        WorkerError: The URL is malformed or nothing answers there.
    """
    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=5,
                                          socket_timeout=timeout)
    except ValueError as exc:
        raise WorkerError(f"not a Redis URL: {url!r} ({exc})") from exc
    try:
        connection.ping()
    except RedisError as exc:
        connection.close()
        raise WorkerError(f"cannot reach Redis at {url}: {exc}") from exc
    return connection


@contextlib.contextmanager
def redis_errors(url: str) -> Iterator[None]:
    """Turn a Redis failure inside the block into a one-line :class:`WorkerError`."""
    try:
        yield
    except RedisError as exc:
        raise WorkerError(f"lost the connection to Redis at {url}: {exc}") from exc
