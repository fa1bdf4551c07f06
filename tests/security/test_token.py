"""The access token never reaches a log, whichever way it is sent."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import uvicorn
from studiokit import bound_socket

from storyreel.service import create_app
from storyreel.service.security import RedactTokenFilter

TOKEN = "tok-5f2e9c1d8a7b"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_access_log_of_a_live_server_never_holds_the_token(tmp_path: Path) -> None:
    import threading
    import time

    app = create_app(tmp_path / "data", token=TOKEN)
    held = bound_socket()  # handed to uvicorn: no other test process can take the port
    port = int(held.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info",
                                           access_log=True))
    lines = _Lines()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [held]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.02)
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).addHandler(lines)
        base = f"http://127.0.0.1:{port}"
        answers = [httpx.get(f"{base}/?token={TOKEN}"),
                   httpx.get(f"{base}/api/projects/?x=1&token={TOKEN}&y=2"),
                   httpx.get(f"{base}/api/projects/?TOKEN={TOKEN}"),
                   httpx.get(f"{base}/api/projects/", headers={"Authorization": f"Bearer {TOKEN}"})]
        assert [a.status_code for a in answers] == [303, 200, 401, 200]
    finally:
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).removeHandler(lines)
        server.should_exit = True
        thread.join(30)
        held.close()
    assert len(lines.lines) >= 4
    assert "token=***" in "\n".join(lines.lines)
    assert not [line for line in lines.lines if TOKEN in line]


def test_redaction_keeps_the_rest_of_the_line() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/a/?token={TOKEN}&page=2", "1.1", 200),
                               None)
    assert RedactTokenFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /a/?token=***&page=2 HTTP/1.1" 200'
