"""The studio page in a real browser: headless Chromium creates, uploads, renders and plays.

Needs Debian's ``chromium`` and the ``playwright`` package (its driver only; the browser
is never downloaded). Without them the test is skipped, except on CI (``CI=true``),
where a missing browser is a failure.
"""

from __future__ import annotations

import http.server
import io
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from studiokit import LiveServer, free_port, png_bytes, wav_bytes

from storyreel.service import create_app

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


def wait_until(page: Any, expression: str, timeout: float = 30.0) -> None:
    """Poll a JavaScript expression until it is true.

    Playwright's ``wait_for_function`` compiles its predicate with ``eval``, which the
    studio's Content-Security-Policy forbids (as it should); ``evaluate`` is not affected.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        page.wait_for_timeout(50)


def _open_new_project(page: Any, server: LiveServer, title: str) -> list[str]:
    """Open the studio, create a project called ``title``; returns the page's errors."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.on("dialog", lambda dialog: dialog.accept(title))
    page.goto(server.url + "/")
    page.click("#new-project")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    return errors


def test_create_upload_render_and_play(live_server: Callable[..., LiveServer], page: Any,
                                       tmp_path: Path) -> None:
    server = live_server()
    image = tmp_path / "still.png"
    image.write_bytes(png_bytes((640, 360), (30, 120, 200)))
    audio = tmp_path / "voice.wav"
    audio.write_bytes(wav_bytes(tmp_path, 1.5))
    errors = _open_new_project(page, server, "Browser story")
    page.select_option("#opt-size", "320x180")
    wait_until(page, "document.querySelector('#project-meta').textContent"
                           ".includes('320\u00d7180')")
    page.select_option("[data-path='settings.preset']", "ultrafast")
    page.wait_for_timeout(300)

    segment = page.locator(".segment").first
    segment.locator(".seg-text").fill("Hello from the browser. It renders.")
    segment.locator(".seg-text").blur()
    segment.locator(".seg-image input[type=file]").set_input_files(str(image))
    page.wait_for_selector(".segment .seg-image.filled img")
    page.locator(".segment").first.locator(".seg-audio input[type=file]").set_input_files(
        str(audio))
    page.wait_for_selector(".segment .seg-audio.filled")
    assert page.locator(".segment .duration").first.inner_text() == "1.5 s"
    assert page.locator(".segment .seg-missing").first.inner_text() == ""

    page.click("#render")
    page.wait_for_selector("#progress:not([hidden])")
    wait_until(page, "document.querySelector('#progress-percent').textContent === '100 %'",
               timeout=90)
    page.wait_for_selector("#result:not([hidden]) video", timeout=30_000)
    assert page.locator("#progress-phase").inner_text() == "Done"
    page.eval_on_selector("#video", "v => { v.muted = true; return v.play(); }")
    wait_until(page, "(() => { const v = document.querySelector('#video');"
                     " return v.readyState >= 2 && v.currentTime > 0.2; })()")
    assert page.get_attribute("#download", "href").startswith("/api/renders/")
    assert "Browser story" in page.locator("#project-list").inner_text()
    assert errors == []  # no script error, nothing the Content-Security-Policy blocked
    if os.environ.get("STORYREEL_SCREENSHOT"):
        page.screenshot(path=os.environ["STORYREEL_SCREENSHOT"], full_page=True)


def test_render_problems_are_shown_in_words(live_server: Callable[..., LiveServer],
                                            page: Any) -> None:
    server = live_server()
    page.on("dialog", lambda dialog: dialog.accept("Incomplete"))
    page.goto(server.url + "/")
    page.click("#new-project")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click("#render")
    page.wait_for_selector("#render-error:not([hidden])")
    text = page.locator("#render-error").inner_text()
    assert "cannot render yet" in text
    assert "Segment 1: needs an image" in text and "Segment 1: needs a narration" in text


def test_dropping_several_pictures_fills_segments_in_order(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    page.on("dialog", lambda dialog: dialog.accept("Dropped"))
    page.goto(server.url + "/")
    page.click("#new-project")
    page.wait_for_selector("#editor:not([hidden]) .segment")
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
    sizes = [page.get_attribute(f".segment:nth-child({n}) .seg-image img", "title")
             for n in (1, 2)]
    assert sizes == ["320\u00d7180", "320\u00d7180"]
    project = httpx.get(server.url + "/api/projects/").json()[0]
    detail = httpx.get(f"{server.url}/api/projects/{project['id']}/").json()
    first = httpx.get(server.url + detail["segment_list"][0]["image"]["url"]).content
    pixel = Image.open(io.BytesIO(first)).convert("RGB").getpixel((5, 5))
    assert pixel == (255, 128, 32)  # 01.png went to the first segment


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

        other = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
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
        assert errors == []  # the attacking page ran all its script
        assert len(posts) == 4 and {status for _, _, status in posts[1:]} == {403}
        assert not any(method == "PATCH" for method, _, _ in recorder.answers)  # no preflight pass
        framed = page.frame(name="framed")
        assert framed is not None and framed.query_selector("#new-project") is None
        assert httpx.get(studio.url + "/api/projects/1/").json() == before
        assert len(httpx.get(studio.url + "/api/projects/").json()) == 1


def test_generate_narration_from_the_page(live_server: Callable[..., LiveServer],
                                          page: Any) -> None:
    errors = _open_new_project(page, live_server(), "Spoken story")
    page.wait_for_selector("#voice-name option[value='hibari:heart']", state="attached")
    page.fill(".segment .seg-text", "The voice reads this sentence aloud.")
    page.locator(".segment .seg-text").blur()
    wait_until(page, "document.querySelector('.seg-narration').textContent"
                     ".includes('Spoken from the text')")
    page.click("#narrate-all")
    wait_until(page, "document.querySelector('.seg-narration').textContent"
                     " === 'Generated narration'", timeout=120)
    duration = page.locator(".segment .duration").text_content()
    assert duration is not None and float(duration.split()[0]) > 1.0
    assert errors == []
