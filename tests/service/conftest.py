"""Studio fixtures: apps on temporary data folders (lifespan included) and live servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from studiokit import BASE_URL, LiveServer, Studio

from storyreel.service import create_app


@pytest.fixture
def make_studio(tmp_path: Path) -> Iterator[Callable[..., Studio]]:
    """Start studio apps (lifespan included) on a temporary data folder; all are closed."""
    clients: list[TestClient] = []
    media = tmp_path / "media"
    media.mkdir()

    def start(data_dir: Path | None = None, **options: Any) -> Studio:
        folder = data_dir or tmp_path / "data"
        app = create_app(folder, **options)
        client = TestClient(app, base_url=BASE_URL)
        client.__enter__()
        clients.append(client)
        return Studio(client, app, folder, media)

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def studio(make_studio: Callable[..., Studio]) -> Studio:
    """A studio with the real render worker."""
    return make_studio()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers on temporary data folders; all are stopped at the end."""
    servers: list[LiveServer] = []

    def start(**options: Any) -> LiveServer:
        data_dir = options.pop("data_dir", tmp_path / "live-data")
        server = LiveServer(create_app(data_dir, **options)).__enter__()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.__exit__(None, None, None)
