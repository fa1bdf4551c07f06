"""Load check: 20 clients poll status and list projects while a render runs.

Every response must be a 200 and the render must go on exporting under the load. How
much the polling slows the render is a measurement, made by ``python -m bench.load`` on
a quiet machine (``bench/REPORT.md``), not asserted here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from bench.load import Poller
from studiokit import LiveServer, png_bytes, wait_status, wav_bytes

CLIENTS = 20
LOAD_SECONDS = 3.0


def test_polling_clients_are_all_answered_while_a_render_goes_on(
        live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = live_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        project = client.post("/api/projects/", json={
            "title": "Load", "width": 1280, "height": 720, "fps": 25,
            "settings": {"preset": "veryfast"}, "segments": [{"text": "A long narration."}]},
        ).json()
        pid = project["id"]
        segment = project["segment_list"][0]["id"]
        base = f"/api/projects/{pid}/segments/{segment}"
        client.post(f"{base}/image/", files={"file": ("a.png", png_bytes((1280, 720)))})
        # Long enough that the render is still exporting after the load.
        narration = wav_bytes(tmp_path, 60.0)
        assert client.post(f"{base}/audio/", files={"file": ("a.wav", narration)}).is_success
        assert client.post(f"/api/projects/{pid}/render/").status_code == 202
        wait_status(client, pid, ("processing",), timeout=120, phase="export")
        before = client.get(f"/api/projects/{pid}/status/").json()["frames_done"]

        stop = threading.Event()
        pollers = [Poller(server.url, pid, stop) for _ in range(CLIENTS)]
        for poller in pollers:
            poller.start()
        try:
            time.sleep(LOAD_SECONDS)
        finally:
            stop.set()
            for poller in pollers:
                poller.join(15)
        status = client.get(f"/api/projects/{pid}/status/").json()
        assert client.post(f"/api/projects/{pid}/cancel/").status_code == 200
        wait_status(client, pid, timeout=60)

    assert not any(poller.is_alive() for poller in pollers)
    assert [f for poller in pollers for f in poller.failures] == []
    assert sum(poller.requests for poller in pollers) >= CLIENTS * 2  # each asked at least once
    assert status["status"] == "processing" and status["phase"] == "export", status
    assert status["frames_done"] > before, "the render made no progress under the load"
