"""The studio page in a real browser: headless Chromium creates, uploads, renders and plays.

Needs Debian's ``chromium`` and the ``playwright`` package (its driver only; the browser
is never downloaded). Without them the test is skipped, except on CI (``CI=true``),
where a missing browser is a failure.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from studiokit import LiveServer

from storyreel.service import create_app


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A Chromium page in a context of its own (the browser is shared by the module)."""
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def wait_until(page: Any, expression: str, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression until it is true.

    Playwright's ``wait_for_function`` compiles its predicate with ``eval``, which the
    studio's Content-Security-Policy forbids (as it should); ``evaluate`` is not affected.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        page.wait_for_timeout(50)


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
    wait_until(page, f"document.querySelector('#video-info .tag')?.textContent === '{kind}'",
               timeout=30)


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
    wait_until(page, "[...document.querySelectorAll('.seg-narration')].every("
               "(n) => n.textContent === 'Spoken by the voice')", timeout=120)
    assert all(float(text.split()[1]) > 1.0 for text in
               page.locator(".seg-audio .audio-state").all_text_contents())
    _shoot(page, shots, "03-narrated", focus="#narrate-all")
    _png_files(page, [("02.png", "#2a6fdb"), ("01.png", "#db7a2a")], 1200, 800)
    wait_until(page, "document.querySelectorAll('.seg-image.filled').length === 2")
    assert page.locator(".seg-missing:not(:empty)").count() == 0
    _shoot(page, shots, "04-pictures")

    page.click("#panel-tabs [data-panel=format]")
    page.select_option("[data-path='settings.platform']", "shorts")
    wait_until(page, "document.querySelector('#project-meta').textContent"
               ".includes('1080\u00d71920')")
    page.select_option("#opt-size", "custom")
    page.fill("#opt-width", "360")
    page.fill("#opt-height", "640")
    page.click("#custom-size button")
    wait_until(page, "document.querySelector('#project-meta').textContent"
               ".includes('360\u00d7640')")
    box = page.locator(".seg-image").first.bounding_box()
    assert abs(box["width"] / box["height"] - 360 / 640) < 0.03  # thumbnails in 9:16
    page.click("#panel-tabs [data-panel=quality]")
    page.select_option("[data-path='settings.preset']", "ultrafast")
    page.wait_for_selector("#save-state.ok")
    page.click("#panel-tabs [data-panel=captions]")
    wait_until(page, "document.querySelector('#caption-preview')?.naturalHeight === 640")
    _shoot(page, shots, "05-shorts", focus="#caption-preview")

    page.locator(".segment").nth(1).click()
    wait_until(page, "(() => { const i = document.querySelector('#frame-start');"
               " return !i.hidden && i.complete && i.naturalHeight === 640; })()")
    page.click("#show-end")
    wait_until(page, "document.querySelector('#frame-end').naturalHeight === 640")
    _shoot(page, shots, "06-segment-preview")

    page.click("#render-draft")
    _wait_video(page, "Draft")
    assert "270\u00d7480" in page.locator("#video-info").inner_text()  # the draft size
    _shoot(page, shots, "07-draft")

    page.click("#render-final")
    _wait_video(page, "Final")
    assert "360\u00d7640" in page.locator("#video-info").inner_text()
    page.eval_on_selector("#video", "v => { v.muted = true; return v.play(); }")
    wait_until(page, "(() => { const v = document.querySelector('#video');"
               " return v.readyState >= 2 && v.currentTime > 0.3; })()",
               timeout=30)
    page.eval_on_selector("#video", "v => v.pause()")
    _shoot(page, shots, "08-final-playing")

    page.click("#panel-tabs [data-panel=videos]")
    wait_until(page, "document.querySelectorAll('.history-item').length === 2")
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
    wait_until(page, "document.querySelectorAll('.segment .seg-image.filled').length === 2")
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
    wait_until(page, f"document.querySelector('.segment:nth-child(2)').id === "
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


class _Recorder:
    """Wraps the studio app and counts the requests it answered, with their statuses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answers: list[tuple[str, str, int]] = []
        self.changed = threading.Condition()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def note(message: Message) -> None:
            if message["type"] == "http.response.start":
                with self.changed:
                    self.answers.append((scope["method"], scope["path"], message["status"]))
                    self.changed.notify_all()
            await send(message)

        await self.app(scope, receive, note if scope["type"] == "http" else send)

    def wait_for(self, method: str, count: int) -> list[tuple[str, str, int]]:
        with self.changed:
            done = self.changed.wait_for(
                lambda: sum(a[0] == method for a in self.answers) >= count, timeout=60)
            assert done, f"the studio never saw {count} {method} requests: {self.answers}"
            return [a for a in self.answers if a[0] == method]


_ATTACK = """<!doctype html><title>not the studio</title>
<iframe name="framed" src="STUDIO/"></iframe>
<iframe name="sink"></iframe>
<iframe sandbox="allow-forms allow-scripts" srcdoc='
  <form method="post" action="STUDIO/api/projects/1/render/"></form>
  <script>document.forms[0].submit()</script>'></iframe>
<form id="plant" method="post" enctype="text/plain" target="sink" action="STUDIO/api/projects/">
  <input name="Segment 1" value="planted by a form"></form>
<script>
  document.getElementById("plant").submit();
  const text = ["Segment 1", "planted"].join(String.fromCharCode(10));
  // Its answer is withheld from this page too (Cross-Origin-Resource-Policy): the promise fails.
  fetch("STUDIO/api/projects/", {method: "POST", mode: "no-cors", body: text}).catch(() => {});
  fetch("STUDIO/api/projects/1/", {method: "PATCH", body: "{}",
        headers: {"Content-Type": "application/json"}}).catch(() => {});
</script>"""


def test_a_page_on_another_origin_changes_nothing(page: Any, tmp_path: Path) -> None:
    recorder = _Recorder(create_app(tmp_path / "data"))
    with LiveServer(recorder) as studio:  # type: ignore[arg-type]
        created = httpx.post(studio.url + "/api/projects/", json={"title": "Mine", "segments": [
            {"text": "Untouched."}]})
        assert created.status_code == 201 and created.json()["id"] == 1
        before = httpx.get(studio.url + "/api/projects/1/").json()
        attack = _ATTACK.replace("STUDIO", studio.url).encode()

        class Page(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(attack)))
                self.end_headers()
                self.wfile.write(attack)

            def log_message(self, *args: Any) -> None:
                pass

        other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        thread = threading.Thread(target=other.serve_forever, daemon=True)
        thread.start()
        try:
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"http://127.0.0.1:{other.server_port}/")
            # Besides the project made here: the form, the fetch and the sandboxed form.
            posts = recorder.wait_for("POST", 4)
        finally:
            other.shutdown()
            thread.join()
            other.server_close()
        assert errors == []  # the attacking page ran all its script
        assert len(posts) == 4 and {status for _, _, status in posts[1:]} == {403}
        assert not any(method == "PATCH" for method, _, _ in recorder.answers)  # no preflight pass
        framed = page.frame(name="framed")
        assert framed is not None and framed.query_selector("#new-project") is None
        assert httpx.get(studio.url + "/api/projects/1/").json() == before
        assert len(httpx.get(studio.url + "/api/projects/").json()) == 1
