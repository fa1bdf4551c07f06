"""Fixtures: a private redis-server and storyreel workers, stopped by pid after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("rq", reason="the workers extra (rq) is not installed")

from farmkit import RedisServer, Workers, running_redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path) as server:
        yield server


@pytest.fixture
def workers(redis_server: RedisServer, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(redis_server.url, tmp_path)
    try:
        yield pool
    finally:
        pool.stop()
