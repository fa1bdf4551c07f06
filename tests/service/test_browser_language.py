"""The project's language in the studio: picked in the Captions panel, saved, undone, and the
caption preview drawn in that language's script (see ``test_browser`` for the browser)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from studiokit import LiveServer
from test_browser import Watch, page, screenshot_folder, wait_until
from test_browser_clips import _axe_problems
from test_browser_page import AXE

__all__ = ["page"]  # the Chromium page fixture this module's tests take

PICKER = "#opt-settings-language"
# Han characters whose Japanese and Simplified Chinese forms differ visibly.
HAN = "今天直接回家，骨头很痛。"  # noqa: RUF001


def _project(server: LiveServer, text: str) -> int:
    created = httpx.post(f"{server.url}/api/projects/", json={
        "title": "Languages", "segments": [{"text": text}]})
    created.raise_for_status()
    return int(created.json()["id"])


def _open_captions(page: Any, server: LiveServer, project_id: int) -> None:
    page.goto(f"{server.url}/#/project/{project_id}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click("#panel-tabs [data-panel=captions]")
    page.wait_for_selector(PICKER)
    _preview_loaded(page)


def _preview_loaded(page: Any) -> str:
    wait_until(page, "(() => { const img = document.querySelector('#caption-preview');"
                     " return img && img.complete && img.naturalWidth > 0; })()")
    return str(page.evaluate("document.querySelector('#caption-preview').src"))


def _choose(page: Any, value: str, before: str) -> bytes:
    """Pick ``value``, wait for the save and the new preview; the preview's PNG."""
    page.select_option(PICKER, value)
    wait_until(page, "document.querySelector('#save-state').classList.contains('ok')")
    wait_until(page, f"document.querySelector('#caption-preview').src !== {before!r}")
    return httpx.get(_preview_loaded(page)).content


def _language(server: LiveServer, project_id: int) -> str:
    """The project's language in effect (the engine's default when none is stored)."""
    project = httpx.get(f"{server.url}/api/projects/{project_id}/").json()
    return str(project["options"]["settings"]["language"])


def test_the_language_picker_saves_and_redraws_the_preview(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    watch = Watch(page)
    pid = _project(server, HAN)
    _open_captions(page, server, pid)
    labels = page.evaluate(f"[...document.querySelector('{PICKER}').options]"
                           ".map((o) => [o.value, o.textContent])")
    assert labels[0] == ["en", "English"]
    assert page.input_value(PICKER) == "en"
    offered = dict(labels)
    assert offered["hi"] == "हिन्दी (Hindi)" and offered["ja"] == "日本語 (Japanese)"
    assert offered["ar"] == "العربية (Arabic)" and "zh-Hant" in offered

    first = _preview_loaded(page)
    chinese = httpx.get(first).content
    japanese = _choose(page, "ja", first)
    assert _language(server, pid) == "ja"
    assert page.get_attribute(".segment .seg-text", "lang") == "ja"  # the text box's forms too
    # Same words, the Japanese forms of their Han characters: another picture.
    assert japanese != chinese
    page.screenshot(path=str(screenshot_folder(tmp_path) / "language-japanese.png"))

    # Undo puts the default back.
    before = _preview_loaded(page)
    page.click("#undo")
    wait_until(page, f"document.querySelector('{PICKER}').value === 'en'")
    wait_until(page, f"document.querySelector('#caption-preview').src !== {before!r}")
    assert _language(server, pid) == "en"
    assert httpx.get(_preview_loaded(page)).content == chinese
    assert watch.problems == []


def test_without_text_the_preview_speaks_the_chosen_language(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    watch = Watch(page)
    pid = _project(server, "")
    _open_captions(page, server, pid)
    english = httpx.get(_preview_loaded(page)).content
    hindi = _choose(page, "hi", _preview_loaded(page))
    assert _language(server, pid) == "hi"
    assert hindi != english
    arabic = _choose(page, "ar", _preview_loaded(page))
    assert arabic not in (english, hindi)
    page.screenshot(path=str(screenshot_folder(tmp_path) / "language-arabic.png"))
    assert watch.problems == []
    # A tag the list does not name, set through the API, is shown as it is (after a
    # reload, which stops the page's event stream: not watched).
    httpx.patch(f"{server.url}/api/projects/{pid}/",
                json={"settings": {"language": "pt-br"}}).raise_for_status()
    page.reload()
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click("#panel-tabs [data-panel=captions]")
    wait_until(page, f"document.querySelector('{PICKER}').value === 'pt-BR'")


def test_the_captions_panel_with_its_language_picker_passes_axe(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed at {AXE} (cd tests/service/axe && npm ci)")
    server = live_server()
    pid = _project(server, "नमस्ते दोस्तों, आज हम एक कहानी सुनाएंगे।")
    _open_captions(page, server, pid)
    page.select_option(PICKER, "hi")
    wait_until(page, "document.querySelector('#save-state').classList.contains('ok')")
    assert _axe_problems(page) == []


def test_a_segment_takes_its_own_language_in_the_segment_panel(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    watch = Watch(page)
    pid = _project(server, HAN)
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click(".segment .seg-number")
    page.click("#panel-tabs [data-panel=segment]")
    page.wait_for_selector("#segment-language")
    assert page.input_value("#segment-language") == ""
    assert page.evaluate("document.querySelector('#segment-language').options[0].textContent"
                         ) == "The project's: English"
    page.select_option("#segment-language", "ja")
    wait_until(page, "document.querySelector('#save-state').classList.contains('ok')")
    segment = httpx.get(f"{server.url}/api/projects/{pid}/").json()["segment_list"][0]
    assert segment["language"] == "ja"
    wait_until(page, "document.querySelector('.segment .seg-text').lang === 'ja'")
    assert _language(server, pid) == "en"  # the project's is unchanged
    if AXE.is_file():
        assert _axe_problems(page) == []
    assert watch.problems == []
