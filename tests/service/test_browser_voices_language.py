"""The studio's voice picker in a project's language: the voices that speak it first (the
fallback voice labelled as such), the others grouped by engine; axe stays clean."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from studiokit import LiveServer
from test_browser import Watch, page, screenshot_folder, wait_until
from test_browser_clips import _axe_problems
from test_browser_page import AXE

from storyreel.model.language import speaks_language

__all__ = ["page"]  # the Chromium page fixture this module's tests take

PICKER = "#voice-name"
GROUPS = (f"[...document.querySelectorAll('{PICKER} optgroup')]"
          ".map((g) => [g.label, [...g.children].map((o) => [o.value, o.textContent])])")


def _open_sound(page: Any, server: LiveServer, language: str) -> int:
    created = httpx.post(f"{server.url}/api/projects/", json={
        "title": "Voces", "segments": [{"text": "Hola a todos."}]})
    created.raise_for_status()
    pid = int(created.json()["id"])
    httpx.patch(f"{server.url}/api/projects/{pid}/",
                json={"settings": {"language": language}}).raise_for_status()
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click("#panel-tabs [data-panel=sound]")
    wait_until(page, f"document.querySelectorAll('{PICKER} optgroup').length > 1")
    return pid


def _served(server: LiveServer) -> list[dict[str, Any]]:
    """Every voice the page may offer, with its engine, as the API lists them."""
    return [{**voice, "engine": engine["name"], "fallback": engine["fallback"]}
            for engine in httpx.get(f"{server.url}/api/voices/").json() if engine["ready"]
            for voice in engine["voices"] if voice["available"]]


def test_the_voices_of_the_projects_language_come_first(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    watch = Watch(page)
    _open_sound(page, server, "es")
    groups = page.evaluate(GROUPS)
    first_label, first = groups[0]
    assert "(es)" in first_label
    served = _served(server)
    expected = [f"{v['engine']}:{v['name']}" for v in served
                if speaks_language(v["language"], "es")]
    assert [value for value, _ in first] == expected and "espeak:es" in expected
    assert "espeak:es-419" in expected and "hibari:heart" not in expected
    fallback = dict(first)["espeak:es"]
    assert "fallback" in fallback
    # Every other voice is offered once, in its engine's group.
    rest = [value for _, options in groups[1:] for value, _ in options]
    assert sorted(rest + expected) == sorted(f"{v['engine']}:{v['name']}" for v in served)
    assert any(label.startswith("Other languages: espeak") and "fallback" in label
               for label, _ in groups[1:])
    assert "hibari:heart" in rest
    page.screenshot(path=str(screenshot_folder(tmp_path) / "voices-spanish.png"))
    assert watch.problems == []
    if not AXE.is_file():
        message = f"axe-core is not installed at {AXE} (cd tests/service/axe && npm ci)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert _axe_problems(page) == []


def test_changing_the_language_reorders_the_list(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    pid = _open_sound(page, server, "hi")
    label, first = page.evaluate(GROUPS)[0]
    assert "(hi)" in label and [value for value, _ in first] == ["espeak:hi"]
    # Chosen in the captions panel, the new language reorders the voices.
    page.click("#panel-tabs [data-panel=captions]")
    page.select_option("#opt-settings-language", "zh-Hans")
    wait_until(page, "document.querySelector('#save-state').classList.contains('ok')")
    page.click("#panel-tabs [data-panel=sound]")
    wait_until(page, f"(document.querySelector('{PICKER} optgroup')?.label || '')"
                     ".includes('zh-Hans')")
    values = [value for value, _ in page.evaluate(GROUPS)[0][1]]
    assert "espeak:cmn" in values and "espeak:zh" in values and "espeak:hi" not in values
    project = httpx.get(f"{server.url}/api/projects/{pid}/").json()
    assert project["options"]["settings"]["language"] == "zh-Hans"
