"""The stage's scrubber in Chromium: dragged with the real mouse and stepped with the keyboard,
it shows the engine's frame under it (``frame.jpg?t=``), one request at a time; after an
edit, a finished draft plays from the segment that changed.

Needs what ``test_browser`` needs (Debian's ``chromium`` and ``playwright``); the
accessibility check also needs axe-core (``npm ci`` in ``tests/service/axe``). A missing
piece skips, except on CI.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from studiokit import LiveServer, png_bytes, wav_bytes
from test_browser import page, wait_until  # the Chromium page fixture and the CSP-safe poll
from test_browser_page import AXE

__all__ = ["page"]  # a fixture: imported to be used by name

FPS = 25


def _project(server: LiveServer, tmp_path: Any, narrated: bool = False) -> dict[str, Any]:
    """Three segments with text, each with a picture of its own colour (and a recording)."""
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "Scrub me", "width": 320, "height": 180, "fps": FPS,
        "settings": {"preset": "ultrafast", "transitions": {"crossfade": 0.4}},
        "segments": [{"text": text} for text in (
            "The first light over the hills.", "A boat leaves the harbour.",
            "Night falls on the island.")]})
    assert created.status_code == 201, created.text
    project: dict[str, Any] = created.json()
    base = f"{server.url}/api/projects/{project['id']}/segments"
    for number, segment in enumerate(project["segment_list"]):
        picture = png_bytes((320, 180), ((90 * number) % 256, 60 + 60 * number, 200 - 70 * number))
        answer = httpx.post(f"{base}/{segment['id']}/image/",
                            files={"file": (f"{number}.png", picture, "image/png")})
        assert answer.status_code == 200, answer.text
        if narrated:
            sound = wav_bytes(tmp_path, 1.5, seed=number)
            answer = httpx.post(f"{base}/{segment['id']}/audio/",
                                files={"file": (f"{number}.wav", sound, "audio/wav")})
            assert answer.status_code == 200, answer.text
    return project


def _open(page: Any, server: LiveServer, project_id: int) -> None:
    page.goto(f"{server.url}/#/project/{project_id}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    wait_until(page, "!document.querySelector('#scrubber').hidden && "
                     "Number(document.querySelector('#scrub').max) > 10")


def _shown(page: Any) -> tuple[int, str, NDArray[np.uint8]]:
    """The frame the stage shows: its number, its time and its pixels."""
    frame, t, data = page.evaluate("""async () => {
        const img = document.querySelector('#frame-at');
        const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        return [Number(img.dataset.frame), img.dataset.t, Array.from(bytes)];
    }""")
    return frame, t, np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))


def _settled(page: Any) -> None:
    """Wait until the stage shows the frame the slider is at."""
    wait_until(page, "!document.querySelector('#frame-at').hidden && "
                     "document.querySelector('#frame-at').dataset.frame === "
                     "document.querySelector('#scrub').value && "
                     "document.querySelector('#frame-at').complete")


def _engine_frame(server: LiveServer, project_id: int, t: str) -> NDArray[np.uint8]:
    answer = httpx.get(f"{server.url}/api/projects/{project_id}/frame.jpg", params={"t": t})
    assert answer.status_code == 200, answer.text
    return np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGB"))


def test_dragging_the_scrubber_shows_the_engines_frame_under_it(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Any) -> None:
    server = live_server()
    project = _project(server, tmp_path)
    pid = project["id"]
    in_flight, most = 0, 0
    asked: list[str] = []

    def started(request: Any) -> None:
        nonlocal in_flight, most
        if "/frame.jpg" in request.url:
            asked.append(request.url)
            in_flight += 1
            most = max(most, in_flight)

    def ended(request: Any) -> None:
        nonlocal in_flight
        if "/frame.jpg" in request.url:
            in_flight -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    _open(page, server, pid)
    box = page.locator("#scrub").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    _settled(page)
    early, _, early_pixels = _shown(page)
    moves = 25
    page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=moves)
    page.mouse.up()
    _settled(page)
    late, t, pixels = _shown(page)
    maximum = int(page.eval_on_selector("#scrub", "s => s.max"))
    assert early < maximum * 0.25 < maximum * 0.6 < late
    assert np.abs(pixels.astype(int) - early_pixels.astype(int)).mean() > 10  # it changed
    # The stage shows exactly what the engine draws at that time.
    assert np.array_equal(pixels, _engine_frame(server, pid, t))
    assert late == round(float(t) * FPS)
    # One request at a time, and the last one asked for where the slider was let go.
    assert most == 1
    assert asked[-1].endswith(f"frame.jpg?t={t}")
    assert "/ 0:" in page.text_content("#scrub-time")


def test_the_keyboard_steps_a_frame_or_a_second(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Any) -> None:
    server = live_server()
    project = _project(server, tmp_path)
    _open(page, server, project["id"])
    page.focus("#scrub")
    page.keyboard.press("ArrowRight")
    _settled(page)
    assert _shown(page)[0] == 1
    page.keyboard.press("Shift+ArrowRight")
    _settled(page)
    assert _shown(page)[0] == 1 + FPS
    page.keyboard.press("PageUp")
    page.keyboard.press("ArrowLeft")
    _settled(page)
    frame, t, pixels = _shown(page)
    assert frame == 2 * FPS
    assert np.array_equal(pixels, _engine_frame(server, project["id"], t))
    label = page.get_attribute("#scrub", "aria-valuetext")
    assert label.startswith("0:02.00 / 0:") and f"frame {2 * FPS + 1} of" in label
    # Choosing a segment shows its own frames again.
    page.click("#timeline .segment:nth-child(2) .seg-number")
    wait_until(page, "document.querySelector('#frame-at').hidden")
    assert page.is_visible("#frame-start")


def test_the_scrubber_passes_axe(live_server: Callable[..., LiveServer], page: Any,
                                 tmp_path: Any) -> None:
    if not AXE.is_file():
        message = f"axe-core is not installed at {AXE} (cd tests/service/axe && npm ci)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = live_server()
    project = _project(server, tmp_path)
    _open(page, server, project["id"])
    page.focus("#scrub")
    page.keyboard.press("End")
    _settled(page)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, { resultTypes: ["violations"] });
        return result.violations.filter((v) => ["critical", "serious"].includes(v.impact))
          .map((v) => `${v.impact} ${v.id}: ${v.help} at ` +
                      v.nodes.map((n) => n.target.join(" ")).join(", "));
    }""")
    assert found == []


def test_after_an_edit_the_draft_plays_from_the_segment_that_changed(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Any) -> None:
    server = live_server()
    project = _project(server, tmp_path, narrated=True)
    pid, third = project["id"], project["segment_list"][2]["id"]
    _open(page, server, pid)
    page.evaluate("""() => {
        window.seeks = [];
        const video = document.querySelector('#video');
        video.addEventListener('seeked', () => window.seeks.push(video.currentTime));
    }""")
    page.click(f"#segment-{third} .seg-text")
    page.keyboard.press("End")
    page.keyboard.type(" Stars come out.")
    page.click("#title")  # leaving the field saves it
    wait_until(page, f"""fetch('/api/projects/{pid}/').then(r => r.json()).then(p =>
        p.segment_list.find(s => s.id === {third}).text.endsWith('Stars come out.'))""")
    page.click("#render-draft")
    wait_until(page, "window.seeks.length > 0", timeout=240)
    grid = httpx.get(f"{server.url}/api/projects/{pid}/frames/").json()
    start = next(s["draft_seconds"] for s in grid["segments"] if s["id"] == third)
    assert start > 2.5  # two narrations of 1.5 s come before it
    assert abs(page.evaluate("window.seeks[0]") - start) < 0.05
