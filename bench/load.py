"""Polling clients against a render: how much 20 clients polling the studio slow it.

A studio on loopback renders one long 1080p project (a still and a speech-like
recording, ``veryfast``). Its speed (frames per second, from the status route) is
measured in three adjacent windows: quiet, while 20 clients each ask for the status and
the project list once a second (as open pages do), and quiet again. The slowdown is the
loaded speed against the mean of the quiet ones; every response must be a 200. A loaded
machine moves these figures: run it on a quiet one.

    python -m bench.load [--seconds 60] [--clients 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench.frame import studio_server
from bench.measure import emit
from storyreel.demo import write_speechlike_wav

__all__ = ["Poller", "main", "measure"]

POLL_INTERVAL = 1.0


class Poller(threading.Thread):
    """One client: status + project list every ``interval`` seconds, counting failures
    and latency."""

    def __init__(self, url: str, project_id: int, stop: threading.Event,
                 interval: float = POLL_INTERVAL) -> None:
        super().__init__(daemon=True)
        self.url, self.project_id, self.stop, self.interval = url, project_id, stop, interval
        self.requests = 0
        self.failures: list[str] = []
        self.latencies: list[float] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                for path in (f"/api/projects/{self.project_id}/status/", "/api/projects/"):
                    started = time.perf_counter()
                    try:
                        response = client.get(path)
                        if response.status_code != 200:
                            self.failures.append(f"{path}: {response.status_code}")
                    except httpx.HTTPError as exc:
                        self.failures.append(f"{path}: {exc!r}")
                    self.latencies.append(time.perf_counter() - started)
                    self.requests += 1
                self.stop.wait(self.interval)


def _frames(client: httpx.Client, project_id: int) -> tuple[float, int]:
    status = client.get(f"/api/projects/{project_id}/status/").json()
    if status["status"] != "processing" or status["phase"] != "export":
        raise RuntimeError(f"the render must outlast the measurement: {status}")
    return time.monotonic(), int(status["frames_done"])


def _speed(client: httpx.Client, project_id: int, seconds: float) -> float:
    start_time, start_frames = _frames(client, project_id)
    time.sleep(seconds)
    end_time, end_frames = _frames(client, project_id)
    return (end_frames - start_frames) / (end_time - start_time)


def measure(folder: Path, seconds: float = 60.0, clients: int = 20) -> dict[str, Any]:
    """Render in a studio on ``folder`` and measure its speed quiet, polled, quiet."""
    still = io.BytesIO()
    Image.new("RGB", (1920, 1080), (200, 80, 40)).save(still, "PNG")
    narration = folder / "narration.wav"
    write_speechlike_wav(narration, max(90.0, 4 * seconds))
    quiet_window = max(3.0, seconds / 3)
    with studio_server(folder / "data") as url, httpx.Client(base_url=url, timeout=30) as client:
        project = client.post("/api/projects/", json={
            "title": "Load", "width": 1920, "height": 1080, "fps": 25,
            "settings": {"preset": "veryfast"}, "segments": [{"text": "A long narration."}]},
        ).json()
        segment = project["segment_list"][0]["id"]
        base = f"/api/projects/{project['id']}/segments/{segment}"
        client.post(f"{base}/image/", files={"file": ("a.png", still.getvalue())})
        client.post(f"{base}/audio/", files={"file": ("a.wav", narration.read_bytes())})
        client.post(f"/api/projects/{project['id']}/render/").raise_for_status()
        while client.get(f"/api/projects/{project['id']}/status/").json()["phase"] != "export":
            time.sleep(0.1)
        time.sleep(1.0)  # past the encoder's start-up
        before = _speed(client, project["id"], quiet_window)
        stop = threading.Event()
        pollers = [Poller(url, project["id"], stop) for _ in range(clients)]
        for poller in pollers:
            poller.start()
        try:
            loaded = _speed(client, project["id"], seconds)
        finally:
            stop.set()
            for poller in pollers:
                poller.join(15)
        after = _speed(client, project["id"], quiet_window)
        client.post(f"/api/projects/{project['id']}/cancel/")
    latencies = sorted(lat for poller in pollers for lat in poller.latencies)
    quiet = (before + after) / 2
    return {"clients": clients, "seconds": seconds,
            "requests": sum(poller.requests for poller in pollers),
            "failures": [f for poller in pollers for f in poller.failures],
            "latency_p50_ms": 1000 * statistics.median(latencies),
            "latency_p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
            "fps_quiet_before": before, "fps_polled": loaded, "fps_quiet_after": after,
            "slowdown": 1 - loaded / quiet}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints (and optionally writes) the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="storyreel-load-") as folder:
        emit(measure(Path(folder), args.seconds, args.clients), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
