"""The access token is redacted from the access log however its name is spelled in the
URL: percent-encoded (``?%74oken=``, which the studio reads as ``token``), or in
another case."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from studiokit import bound_socket

from storyreel.service import create_app
from storyreel.service.security import RedactTokenFilter

TOKEN = "tok-93be41c07d"
SPELLINGS = ["%74oken", "%74%6F%6B%65%6E", "t%6Fken", "%54oken", "access%5Ftoken", "Token"]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_an_encoded_token_name_is_accepted_and_never_logged(tmp_path: Path) -> None:
    held = bound_socket()  # handed to uvicorn: no other test process can take the port
    server = uvicorn.Server(uvicorn.Config(create_app(tmp_path / "data", token=TOKEN),
                                           host="127.0.0.1", port=int(held.getsockname()[1]),
                                           log_level="info", access_log=True))
    lines = _Lines()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [held]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.02)
        logging.getLogger("uvicorn.access").addHandler(lines)
        base = f"http://127.0.0.1:{server.config.port}/api/projects/"
        encoded = httpx.get(f"{base}?x=1&%74oken={TOKEN}")
        assert encoded.status_code == 200  # read as the token: it must not be logged
        for name in SPELLINGS:
            httpx.get(f"{base}?{name}={TOKEN}&page=2")
    finally:
        logging.getLogger("uvicorn.access").removeHandler(lines)
        server.should_exit = True
        thread.join(30)
        held.close()
    assert len(lines.lines) == 1 + len(SPELLINGS)
    assert not [line for line in lines.lines if TOKEN in line]
    assert all("=***" in line for line in lines.lines)


@pytest.mark.parametrize("name", SPELLINGS)
def test_the_redaction_keeps_the_rest_of_the_line(name: str) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/a/?{name}={TOKEN}&page=2", "1.1", 200),
                               None)
    assert RedactTokenFilter().filter(record)
    assert record.getMessage() == f'127.0.0.1:5 - "GET /a/?{name}=***&page=2 HTTP/1.1" 200'


def test_other_parameters_are_left_alone() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s",
                               ("/a/?tokens=1&my_token=2&to%6Bens=3&x=%74oken",), None)
    assert RedactTokenFilter().filter(record)
    assert record.getMessage() == "/a/?tokens=1&my_token=2&to%6Bens=3&x=%74oken"
