"""CPU work of a request (parsing an import) runs off the event loop: while it runs, the
studio keeps answering other requests."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from studiokit import FakeRunner, LiveServer

from storyreel.service import create_app, routes, studio


def _held(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> tuple[threading.Event,
                                                                            threading.Event]:
    """Make ``module.name`` wait, once called, until released; return (entered, release)."""
    entered, release = threading.Event(), threading.Event()
    real = getattr(module, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(60), "never released: the other request was not served"
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return entered, release


@pytest.mark.parametrize(("module", "name", "request_kwargs"), [
    (studio, "parse_text_blocks", {"content": b"One.\n\nTwo.",
                                   "headers": {"content-type": "text/plain"}}),
    (studio, "parse_storyflow", {"files": {"file": ("p.json", b'{"segments": [{}]}')}}),
    (routes, "parse_json", {"content": b'{"segments": []}',
                            "headers": {"content-type": "application/json"}}),
], ids=["text-body", "json-file", "json-body"])
def test_other_requests_are_served_while_an_import_is_parsed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
        request_kwargs: dict[str, Any]) -> None:
    entered, release = _held(monkeypatch, module, name)
    with LiveServer(create_app(tmp_path / "data", runner=FakeRunner())) as server:
        answers: list[int] = []

        def post() -> None:
            answers.append(httpx.post(server.url + "/api/projects/", timeout=90,
                                      **request_kwargs).status_code)

        poster = threading.Thread(target=post)
        poster.start()
        try:
            assert entered.wait(60), "the import never started"
            # The parse is blocked right now; if it held the event loop, this would hang.
            listing = httpx.get(server.url + "/api/projects/", timeout=30)
            assert listing.status_code == 200
        finally:
            release.set()
            poster.join(90)
        assert len(answers) == 1 and answers[0] in (201, 400)
