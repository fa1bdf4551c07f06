"""Studio test kit: generated media, a test-client wrapper, a fake render runner, a live server,
and the fixtures that start studios (shared by the service and security tests)."""

from __future__ import annotations

import io
import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from storyreel.demo import write_speechlike_wav
from storyreel.render.progress import Progress
from storyreel.service import create_app
from storyreel.service.jobs import JobFailed, RenderOutcome, RenderSpec

BASE_URL = "http://127.0.0.1"
FINAL = ("completed", "failed", "cancelled")
TINY = {"width": 320, "height": 180, "fps": 25, "settings": {"preset": "ultrafast"}}


def png_bytes(size: tuple[int, int] = (480, 270), colour: tuple[int, int, int] = (200, 80, 40),
              fmt: str = "PNG") -> bytes:
    """An encoded still."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def zip_bundle(manifest: Mapping[str, Any] | str, files: Mapping[str, bytes],
               folder: str = "story/") -> bytes:
    """A zip bundle: ``story/story.json`` (a manifest, or the text given) and the files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        archive.writestr(f"{folder}story.json", text)
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def wav_bytes(tmp_path: Path, seconds: float = 1.0, seed: int = 0) -> bytes:
    """A voice-like narration as WAV bytes."""
    path = tmp_path / f"narration-{seconds}-{seed}.wav"
    write_speechlike_wav(path, seconds, seed=seed)
    return path.read_bytes()


def wait_status(client: Any, project_id: int, wanted: tuple[str, ...] = FINAL,
                timeout: float = 60.0, phase: str | None = None) -> dict[str, Any]:
    """Poll the status route until the status (and phase, if given) is reached."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = client.get(f"/api/projects/{project_id}/status/").json()
        if status["status"] in wanted and (phase is None or status["phase"] == phase):
            return status
        time.sleep(0.05)
    raise AssertionError(f"status never reached {wanted}/{phase}: {status}")


@dataclass
class Studio:
    """A test client on a studio app, plus helpers that build ready projects."""

    client: TestClient
    app: FastAPI
    data_dir: Path
    media: Path

    def create(self, segments: int = 1, **fields: Any) -> dict[str, Any]:
        body = {"title": "Test story", **TINY, **fields}
        body.setdefault("segments", [{"text": f"Segment {i + 1} speaks. It ends here."}
                                     for i in range(segments)])
        response = self.client.post("/api/projects/", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def upload(self, project_id: int, segment_id: int, kind: str, data: bytes,
               name: str = "file.bin") -> Any:
        return self.client.post(f"/api/projects/{project_id}/segments/{segment_id}/{kind}/",
                                files={"file": (name, data, "application/octet-stream")})

    def ready(self, segments: int = 1, seconds: float = 1.0, **fields: Any) -> dict[str, Any]:
        """A project whose segments all have a still and a narration."""
        project = self.create(segments, **fields)
        for number, segment in enumerate(project["segment_list"]):
            image = png_bytes(colour=(40 * number % 255, 120, 200))
            assert self.upload(project["id"], segment["id"], "image", image).status_code == 200
            audio = wav_bytes(self.media, seconds, seed=number)
            assert self.upload(project["id"], segment["id"], "audio", audio).status_code == 200
        return dict(self.client.get(f"/api/projects/{project['id']}/").json())


class FakeRunner:
    """A render stand-in: reports progress, then waits until released, cancelled or failed.

    Attributes:
        started: Set once a render is running.
        release: Set it to let running renders finish.
        specs: The specs it was asked to render.
    """

    def __init__(self, *, fail: str | None = None, hold: bool = True) -> None:
        self.fail = fail
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.specs: list[RenderSpec] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def __call__(self, spec: RenderSpec, on_progress: Callable[[Progress], None],
                 cancel: threading.Event) -> RenderOutcome:
        from storyreel.errors import RenderCancelled

        with self._lock:
            self.specs.append(spec)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            on_progress(Progress("export", 5, 100, 10.0, 9.5, "Exporting final MP4..."))
            self.started.set()
            while not self.release.wait(0.02):
                if cancel.is_set():
                    raise RenderCancelled("render cancelled")
            if self.fail:
                raise JobFailed(self.fail)
            output = Path(spec.output)
            output.write_bytes(b"not really a video")
            return RenderOutcome(str(output), output.stat().st_size, 1.0, 25, "25")
        finally:
            with self._lock:
                self.running -= 1


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port, for a server to listen on (the caller
    closes it)."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    return held


def free_port() -> int:
    """A TCP port nobody listens on right now (another process may take it before use)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_studio(data_dir: Path, env: Mapping[str, str] | None = None,
                 timeout: float = 60.0) -> tuple[subprocess.Popen[str], str]:
    """``storyreel serve --port 0`` in a child process: the process and the address it
    printed, once it answers. The port is the one the studio bound itself, so no other
    test process can take it in between. The caller stops the process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "storyreel", "serve", "--port", "0", "--data-dir",
         str(data_dir)], env=None if env is None else dict(env),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:  # until the process ends, so its log never fills the pipe
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, name="studio-stderr", daemon=True).start()
    deadline = time.monotonic() + timeout
    said: list[str] = []
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the studio did not say its address: {''.join(said)}"
                                     ) from None
            if line is None:
                raise AssertionError(f"the studio exited: {''.join(said)}")
            said.append(line)
            found = re.search(r"studio at (http://127\.0\.0\.1:\d+)/", line)
            if found:
                url = found.group(1)
                break
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/projects/").status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the studio at {url} did not answer")
    except BaseException:
        process.kill()
        process.wait()
        raise


class LiveServer:
    """Uvicorn serving an app in a thread on a free loopback port."""

    def __init__(self, app: FastAPI) -> None:
        # Bound here and handed to uvicorn, so no other test process can take the port
        # between choosing it and listening on it.
        self.socket = bound_socket()
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="studio-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.server.should_exit = True
                self.socket.close()
                raise RuntimeError("the studio server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


# -- fixtures (imported by the conftest files) -----------------------------------------

@pytest.fixture
def make_studio(tmp_path: Path) -> Iterator[Callable[..., Studio]]:
    """Start studio apps (lifespan included) on a temporary data folder; all are closed."""
    clients: list[TestClient] = []
    media = tmp_path / "media"
    media.mkdir()

    def start(data_dir: Path | None = None, **options: Any) -> Studio:
        folder = data_dir or tmp_path / "data"
        # Warming the render process up costs seconds of CPU per studio: asked for where
        # it is tested.
        app = create_app(folder, **{"warm_up": False, **options})
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
        server = LiveServer(create_app(data_dir, **{"warm_up": False, **options})).__enter__()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.__exit__(None, None, None)
