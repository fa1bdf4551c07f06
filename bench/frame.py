"""``python -m bench.frame``: how long the studio takes to answer ``frame.jpg?t=``.

A studio server (uvicorn on a loopback port, in this process) holds the sample project
(six stills with captions, crossfades, music and a logo; narrations estimated from the
text, as before any is spoken). Measured from the client, as the page sees it:

* the first frame (the timeline planned: media analysed, stills decoded),
* a scrub: frames 0.1 s apart across the whole video, as a dragged slider asks,
* jumps: frames at random times (each may open another segment's picture),

each at the preview size (640 pixels on the longer side). Figures are the median and
90th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.measure import emit
from storyreel.service import create_app

__all__ = ["main", "measure", "studio_server"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": 1000 * statistics.median(ordered),
            "p90_ms": 1000 * ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "count": len(ordered)}


def _timed(client: httpx.Client, path: str, t: float) -> float:
    started = time.perf_counter()
    response = client.get(path, params={"t": f"{t:.3f}"})
    took = time.perf_counter() - started
    response.raise_for_status()
    return took


@contextlib.contextmanager
def studio_server(data_dir: Path) -> Iterator[str]:
    """A studio server on ``data_dir`` (uvicorn on a free loopback port, in a thread of
    this process); yields its URL and stops it at the end."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(data_dir), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="bench-studio", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the studio server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def measure(data_dir: Path, scrub_step: float = 0.1, jumps: int = 60) -> dict[str, Any]:
    """Start a studio on ``data_dir``, create the sample project and time its frames."""
    with studio_server(data_dir) as url, httpx.Client(base_url=url, timeout=120) as client:
        project = client.post("/api/projects/sample/").json()
        path = f"/api/projects/{project['id']}/frame.jpg"
        first = _timed(client, path, 0.0)
        length = _length(client, path)
        scrub = [_timed(client, path, k * scrub_step) for k in range(int(length / scrub_step))]
        rng = random.Random(7)
        jumped = [_timed(client, path, rng.uniform(0, length)) for _ in range(jumps)]
        shape = client.get(path, params={"t": "0"})
    return {"first_ms": 1000 * first, "video_seconds": length,
            "estimated_segments": shape.headers.get("X-Storyreel-Estimated", ""),
            "jpeg_bytes": len(shape.content), "scrub": _summary(scrub),
            "jumps": _summary(jumped)}


def _length(client: httpx.Client, path: str) -> float:
    """The video's length, from the answer to a time past its end."""
    detail = client.get(path, params={"t": "100000"}).json()["detail"]
    return float(detail.split("lasts ")[1].split(" s")[0]) - 0.001


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints (and optionally writes) the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.frame", description=__doc__)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--jumps", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="storyreel-frame-") as folder:
        result = measure(Path(folder), jumps=args.jumps)
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
