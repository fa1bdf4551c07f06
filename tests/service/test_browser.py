"""The studio page in a real browser: headless Chromium creates, uploads, renders and plays.

Needs Debian's ``chromium`` and the ``playwright`` package (its driver only; the browser
is never downloaded). Without them the test is skipped, except on CI (``CI=true``),
where a missing browser is a failure.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from studiokit import LiveServer

CHROMIUM = os.environ.get("STORYREEL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A Chromium page (playwright over the system browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the 'playwright' package is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            yield context.new_page()
            context.close()
        finally:
            browser.close()


#: The two screens every step is photographed at.
SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

STORYFLOW = {
    "title": "The Lighthouse Keeper",
    "segments": [
        {"sequence_index": 1, "text_content": "Every night the keeper climbed the tower.",
         "image_prompt": "a lighthouse at dusk"},
        {"sequence_index": 2, "text_content": "One night, the light went out.",
         "image_prompt": "a dark sea"},
    ],
}


class Watch:
    """Collects what a page should never do: console errors, failed or refused requests."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _failed(self, request: Any) -> None:
        # A player that changes its video, or a preview replaced by a newer one, stops
        # loading the old one: the page expects that.
        superseded = ("/video/" in request.url or "preview.png" in request.url) and \
            "ERR_ABORTED" in (request.failure or "")
        if not superseded:
            self.problems.append(f"request failed: {request.url} {request.failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} from {response.url}")


def _shoot(page: Any, folder: Path, name: str, focus: str | None = None) -> None:
    """Photograph the page at the desktop and the phone size (then back to desktop); on
    the phone, ``focus`` is scrolled up from below the fold first."""
    for screen, size in SCREENS.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # let the layout settle after the resize
        if focus and screen == "phone":
            page.eval_on_selector(focus, "e => e.scrollIntoView({block: 'end'})")
        page.screenshot(path=str(folder / f"{name}-{screen}.png"))
    page.evaluate("window.scrollTo(0, 0)")
    page.set_viewport_size(SCREENS["desktop"])


def _png_files(page: Any, names_and_colours: list[tuple[str, str]], width: int,
               height: int) -> None:
    """Drop generated pictures on the first segment's picture, as a file manager would."""
    page.evaluate("""async ([items, width, height]) => {
        const transfer = new DataTransfer();
        for (const [name, colour] of items) {
            const canvas = document.createElement("canvas");
            canvas.width = width; canvas.height = height;
            const ctx = canvas.getContext("2d");
            ctx.fillStyle = colour; ctx.fillRect(0, 0, width, height);
            ctx.fillStyle = "#ffffff"; ctx.fillRect(width / 3, height / 3, width / 3, height / 3);
            const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
            transfer.items.add(new File([blob], name, { type: "image/png" }));
        }
        const target = document.querySelector(".segment .seg-image");
        target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
    }""", [names_and_colours, width, height])


def _wait_video(page: Any, kind: str) -> None:
    page.wait_for_selector("#progress:not([hidden])")
    page.wait_for_selector("#progress[hidden]", state="attached", timeout=120_000)
    page.wait_for_function(f"document.querySelector('#video-info .tag')?.textContent === '{kind}'",
                           timeout=30_000)


def screenshot_folder(tmp_path: Path) -> Path:
    """``$STORYREEL_SCREENSHOTS`` when set (to keep them), else the test's own folder."""
    folder = Path(os.environ.get("STORYREEL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_creator_flow(live_server: Callable[..., LiveServer], page: Any,
                          tmp_path: Path) -> None:
    server = live_server()
    shots = screenshot_folder(tmp_path)
    watch = Watch(page)
    script = tmp_path / "lighthouse.json"
    script.write_text(json.dumps(STORYFLOW), encoding="utf-8")
    page.set_viewport_size(SCREENS["desktop"])
    page.goto(server.url + "/")
    page.wait_for_selector("#welcome:not([hidden])")
    _shoot(page, shots, "01-start")

    page.set_input_files("#import-file", str(script))
    page.wait_for_selector("#editor:not([hidden]) .segment")
    assert page.locator(".segment").count() == 2
    assert page.input_value("#title") == "The Lighthouse Keeper"
    _shoot(page, shots, "02-imported")

    page.click("#panel-tabs [data-panel=sound]")
    page.wait_for_selector("#voice-name option[value='hibari:heart']", state="attached")
    assert page.locator(".seg-narration").all_text_contents() == [
        "The voice will speak the text"] * 2
    page.click("#narrate-all")
    page.wait_for_function("[...document.querySelectorAll('.seg-narration')].every("
                           "(n) => n.textContent === 'Spoken by the voice')", timeout=120_000)
    assert all(float(text.split()[1]) > 1.0 for text in
               page.locator(".seg-audio .audio-state").all_text_contents())
    _shoot(page, shots, "03-narrated", focus="#narrate-all")
    _png_files(page, [("02.png", "#2a6fdb"), ("01.png", "#db7a2a")], 1200, 800)
    page.wait_for_function("document.querySelectorAll('.seg-image.filled').length === 2")
    assert page.locator(".seg-missing:not(:empty)").count() == 0
    _shoot(page, shots, "04-pictures")

    page.click("#panel-tabs [data-panel=format]")
    page.select_option("[data-path='settings.platform']", "shorts")
    page.wait_for_function("document.querySelector('#project-meta').textContent"
                           ".includes('1080\u00d71920')")
    page.select_option("#opt-size", "custom")
    page.fill("#opt-width", "360")
    page.fill("#opt-height", "640")
    page.click("#custom-size button")
    page.wait_for_function("document.querySelector('#project-meta').textContent"
                           ".includes('360\u00d7640')")
    box = page.locator(".seg-image").first.bounding_box()
    assert abs(box["width"] / box["height"] - 360 / 640) < 0.03  # thumbnails in 9:16
    page.click("#panel-tabs [data-panel=quality]")
    page.select_option("[data-path='settings.preset']", "ultrafast")
    page.wait_for_selector("#save-state.ok")
    page.click("#panel-tabs [data-panel=captions]")
    page.wait_for_function("document.querySelector('#caption-preview')?.naturalHeight === 640")
    _shoot(page, shots, "05-shorts", focus="#caption-preview")

    page.locator(".segment").nth(1).click()
    page.wait_for_function("(() => { const i = document.querySelector('#frame-start');"
                           " return !i.hidden && i.complete && i.naturalHeight === 640; })()")
    page.click("#show-end")
    page.wait_for_function("document.querySelector('#frame-end').naturalHeight === 640")
    _shoot(page, shots, "06-segment-preview")

    page.click("#render-draft")
    _wait_video(page, "Draft")
    assert "270\u00d7480" in page.locator("#video-info").inner_text()  # the draft size
    _shoot(page, shots, "07-draft")

    page.click("#render-final")
    _wait_video(page, "Final")
    assert "360\u00d7640" in page.locator("#video-info").inner_text()
    page.eval_on_selector("#video", "v => { v.muted = true; return v.play(); }")
    page.wait_for_function("(() => { const v = document.querySelector('#video');"
                           " return v.readyState >= 2 && v.currentTime > 0.3; })()",
                           timeout=30_000)
    page.eval_on_selector("#video", "v => v.pause()")
    _shoot(page, shots, "08-final-playing")

    page.click("#panel-tabs [data-panel=videos]")
    page.wait_for_function("document.querySelectorAll('.history-item').length === 2")
    kinds = page.locator(".history-item .tag").all_text_contents()
    assert kinds == ["Final", "Draft"]
    _shoot(page, shots, "09-history", focus=".history")

    page.locator(".segment .seg-text").first.fill("Every night, the old keeper climbed.")
    page.wait_for_selector(".history-item .stale")
    page.click(".stage-tabs [data-stage=video]")
    page.wait_for_selector(".video-info .stale")
    _shoot(page, shots, "10-changed-since")
    assert watch.problems == []
    assert len(list(shots.glob("*.png"))) == 2 * 10


def _new_project(page: Any, server: LiveServer, title: str) -> None:
    """Create a project through the page's own dialog (no browser prompt)."""
    page.goto(server.url + "/")
    page.click("#new-project")
    page.fill("#dialog-input", title)
    page.click("#dialog-ok")
    page.wait_for_selector("#editor:not([hidden]) .segment")


def test_render_problems_are_shown_in_words(live_server: Callable[..., LiveServer],
                                            page: Any) -> None:
    server = live_server()
    _new_project(page, server, "Incomplete")
    page.click("#render-final")
    page.wait_for_selector("#render-note:not([hidden])")
    text = page.locator("#render-note").inner_text()
    assert "cannot be made yet" in text
    assert "Segment 1 · Picture: needs an image" in text
    assert "Segment 1 · Narration recording: needs a narration" in text


def test_dropping_several_pictures_fills_segments_in_order(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    _new_project(page, server, "Dropped")
    page.evaluate("""async () => {
        const transfer = new DataTransfer();
        for (const [name, colour] of [["02.png", "#2080ff"], ["01.png", "#ff8020"]]) {
            const canvas = document.createElement("canvas");
            canvas.width = 320; canvas.height = 180;
            const ctx = canvas.getContext("2d");
            ctx.fillStyle = colour; ctx.fillRect(0, 0, 320, 180);
            const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
            transfer.items.add(new File([blob], name, { type: "image/png" }));
        }
        const target = document.querySelector(".segment .seg-image");
        target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
    }""")
    page.wait_for_function("document.querySelectorAll('.segment .seg-image.filled').length === 2")
    sizes = [page.get_attribute(f".segment:nth-child({n}) .seg-image", "title")
             for n in (1, 2)]
    assert [size.split(" ")[0] for size in sizes] == ["320\u00d7180", "320\u00d7180"]
    project = httpx.get(server.url + "/api/projects/").json()[0]
    detail = httpx.get(f"{server.url}/api/projects/{project['id']}/").json()
    first = httpx.get(server.url + detail["segment_list"][0]["image"]["url"]).content
    pixel = Image.open(io.BytesIO(first)).convert("RGB").getpixel((5, 5))
    assert pixel == (255, 128, 32)  # 01.png went to the first segment
    first_id = detail["segment_list"][0]["id"]
    page.focus(f"#segment-{first_id}")
    page.keyboard.press("Alt+ArrowDown")
    page.wait_for_function(f"document.querySelector('.segment:nth-child(2)').id === "
                           f"'segment-{first_id}'")
    order = httpx.get(f"{server.url}/api/projects/{project['id']}/").json()["segment_list"]
    assert [s["id"] for s in order][1] == first_id


def test_typing_survives_a_redraw_and_is_saved(live_server: Callable[..., LiveServer],
                                               page: Any) -> None:
    server = live_server()
    _new_project(page, server, "Typing")
    # Type, and redraw the timeline (as an upload finishing does) in the same breath.
    page.evaluate("""() => {
        const text = document.querySelector('.segment .seg-text');
        text.value = 'Typed while the timeline was redrawn.';
        text.dispatchEvent(new Event('input', { bubbles: true }));
        renderTimeline();
    }""")
    assert page.input_value(".segment .seg-text") == "Typed while the timeline was redrawn."
    page.wait_for_selector("#save-state.ok")
    project = httpx.get(server.url + "/api/projects/").json()[0]
    detail = httpx.get(f"{server.url}/api/projects/{project['id']}/").json()
    assert detail["segment_list"][0]["text"] == "Typed while the timeline was redrawn."
