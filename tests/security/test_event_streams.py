"""A server keeps a bounded number of event streams open: past the cap a new one is
answered 503 with Retry-After, and a closed stream frees its place."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
from studiokit import LiveServer

from storyreel.service.studio import MAX_EVENT_STREAMS


def _first_event(lines: Iterator[str]) -> str:
    """The first event line (``lines`` must stay referenced: dropping httpx's line
    iterator closes its stream)."""
    return next(line for line in lines if line.startswith("event:"))


def _wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, "the server never let the stream go"
        time.sleep(0.05)


def test_event_streams_are_capped_and_freed(live_server: Callable[..., LiveServer]) -> None:
    assert MAX_EVENT_STREAMS == 64
    server = live_server()
    studio = server.server.config.app.state.studio
    studio.max_event_streams = 3
    with httpx.Client(base_url=server.url, timeout=30) as client:
        pid = client.post("/api/projects/", json={"title": "Watched"}).json()["id"]
        url = f"/api/projects/{pid}/events/"
        with ExitStack() as open_streams:
            streams = [open_streams.enter_context(client.stream("GET", url)) for _ in range(3)]
            lines = [s.iter_lines() for s in streams]
            assert [_first_event(each) for each in lines] == ["event: status"] * 3
            assert studio.event_streams == 3
            refused = client.get(url)
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) > 0
            assert "try again" in refused.json()["detail"]
            assert client.get(f"/api/projects/{pid}/status/").status_code == 200
        _wait_until(lambda: studio.event_streams == 0)
        with client.stream("GET", url) as again:
            assert again.status_code == 200
            assert _first_event(again.iter_lines()) == "event: status"
