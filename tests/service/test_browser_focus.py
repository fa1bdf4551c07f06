"""The page and a picture's focus (a still's or a clip's): clicked on the whole picture,
saved with If-Match, undone."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
from studiokit import LiveServer, png_bytes, wav_bytes
from test_browser import Watch, page, wait_until
from test_browser_clips import _axe_problems
from test_browser_page import AXE

from media import write_clip

__all__ = ["page"]  # the Chromium page fixture this module's tests take

SAVED = "document.querySelector('#save-state').className === 'save-state ok'"


def _wide_project(server: LiveServer) -> tuple[int, int]:
    """A vertical project whose one segment shows a wide still."""
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "Harbour", "width": 180, "height": 320,
        "segments": [{"text": "The boats come in at dawn."}]}).json()
    pid, sid = created["id"], created["segment_list"][0]["id"]
    sent = httpx.post(f"{server.url}/api/projects/{pid}/segments/{sid}/image/",
                      files={"file": ("wide.png", png_bytes((480, 270), (60, 120, 200)),
                                      "image/png")})
    assert sent.status_code == 200, sent.text
    return pid, sid


def _picture_box(page: Any) -> dict[str, float]:
    """Where the focus view draws the picture on the page (it keeps its shape: bars
    beside or above it): left ``x``, top ``y``, width ``w`` and height ``h``."""
    box: dict[str, float] = page.evaluate("""() => {
        const img = document.querySelector('#focus-picture');
        const r = img.getBoundingClientRect();
        const s = Math.min(img.clientWidth / img.naturalWidth,
                           img.clientHeight / img.naturalHeight);
        const w = img.naturalWidth * s, h = img.naturalHeight * s;
        return { x: r.left + (img.clientWidth - w) / 2, y: r.top + (img.clientHeight - h) / 2,
                 w, h };
    }""")
    return box


def _focus(server: LiveServer, pid: int) -> Any:
    return httpx.get(f"{server.url}/api/projects/{pid}/").json()["segment_list"][0]["focus"]


def test_clicking_the_whole_picture_sets_the_focus_and_undo_takes_it_back(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    watch = Watch(page)
    pid, sid = _wide_project(server)
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click(f"#segment-{sid} .seg-number")
    wait_until(page, "!document.querySelector('#show-focus').hidden")
    first_preview = page.get_attribute("#frame-start", "src")
    page.click("#show-focus")
    wait_until(page, "!document.querySelector('#focus-view').hidden && "
                     "document.querySelector('#focus-picture').naturalWidth > 0")
    assert page.is_hidden("#focus-marker")  # none set: the render finds it
    box = _picture_box(page)
    page.mouse.click(box["x"] + 0.8 * box["w"], box["y"] + 0.3 * box["h"])
    wait_until(page, f"{SAVED} && !document.querySelector('#focus-marker').hidden")
    focus = _focus(server, pid)
    assert abs(focus[0] - 0.8) < 0.02 and abs(focus[1] - 0.3) < 0.02
    marker = page.evaluate("""() => {
        const m = document.querySelector('#focus-marker').getBoundingClientRect();
        return { x: m.left + m.width / 2, y: m.top + m.height / 2 };
    }""")
    assert abs(marker["x"] - (box["x"] + 0.8 * box["w"])) < 3
    assert abs(marker["y"] - (box["y"] + 0.3 * box["h"])) < 3
    assert "focus" in page.text_content("#focus-note").lower()
    # The stage's frames are drawn again, cropped at the new focus.
    page.click("#show-start")
    wait_until(page, f"document.querySelector('#frame-start').getAttribute('src') !== "
                     f"{first_preview!r} && "
                     "document.querySelector('#frame-start').naturalWidth > 0")
    # Undo takes the focus back (the render finds one again); redo sets it once more.
    page.click("#undo")
    wait_until(page, SAVED)
    wait_until(page, f"fetch('/api/projects/{pid}/').then((r) => r.json())"
                     ".then((p) => p.segment_list[0].focus === null)")
    assert _focus(server, pid) is None
    page.click("#redo")
    wait_until(page, SAVED)
    wait_until(page, f"fetch('/api/projects/{pid}/').then((r) => r.json())"
                     ".then((p) => p.segment_list[0].focus !== null)")
    # "Find it automatically" clears the choice.
    page.click("#show-focus")
    wait_until(page, "!document.querySelector('#focus-auto').hidden")
    if AXE.is_file():  # the focus view and its controls, as a screen reader finds them
        assert _axe_problems(page) == []
    page.click("#focus-auto")
    wait_until(page, f"{SAVED} && document.querySelector('#focus-marker').hidden")
    assert _focus(server, pid) is None
    assert watch.problems == []


def test_the_thumbnail_is_switched_on_in_the_options(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    watch = Watch(page)
    pid, _ = _wide_project(server)
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click('#panel-tabs [data-panel="branding"]')
    try:
        page.wait_for_selector('[data-path="settings.thumbnail"]')
    except Exception as exc:  # seen once in a full run: say what the page showed then
        shown = page.evaluate("""() => ({
            panel: document.querySelector('#panel-tabs [aria-selected=true]')?.dataset.panel,
            body: document.querySelector('#panel-body')?.innerText.slice(0, 300),
            hash: location.hash })""")
        raise AssertionError(f"no thumbnail option: {shown}; page problems: "
                             f"{watch.problems}") from exc
    page.check('[data-path="settings.thumbnail"]')
    wait_until(page, SAVED)
    options = httpx.get(f"{server.url}/api/projects/{pid}/").json()["options"]
    assert options["settings"]["thumbnail"] == {"segment": 1, "title": None}
    page.uncheck('[data-path="settings.thumbnail"]')
    wait_until(page, SAVED)
    wait_until(page, f"fetch('/api/projects/{pid}/').then((r) => r.json())"
                     ".then((p) => !p.options.settings.thumbnail)")
    assert watch.problems == []


def test_a_cut_is_rendered_from_the_videos_list_with_its_thumbnail(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    watch = Watch(page)
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "Two parts", "width": 128, "height": 72, "fps": 25,
        "settings": {"preset": "ultrafast", "thumbnail": True},
        "segments": [{"text": "First part."}, {"text": "Second part."}]}).json()
    pid = created["id"]
    for number, segment in enumerate(created["segment_list"]):
        base = f"{server.url}/api/projects/{pid}/segments/{segment['id']}"
        for kind, name, data in (("image", "a.png", png_bytes((160, 90))),
                                 ("audio", "a.wav", wav_bytes(tmp_path, 0.6, seed=number))):
            sent = httpx.post(f"{base}/{kind}/", files={"file": (name, data, "audio/wav")})
            assert sent.status_code == 200, sent.text
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click('#panel-tabs [data-panel="videos"]')
    if AXE.is_file():
        assert _axe_problems(page) == []
    page.fill("#cut-segments", "2")
    page.click("#render-cut")
    wait_until(page, "document.querySelector('.history-item .tag.cut')?.textContent === "
                     "'Segments 2'", timeout=240)
    wait_until(page, "document.querySelector('.history-item .thumb img')?.naturalWidth === 1280")
    assert page.get_attribute(".history-item .thumbnail-link", "href", timeout=5000)
    video = httpx.get(f"{server.url}/api/projects/{pid}/renders/").json()[0]
    assert video["cut"] == [2] and video["thumbnail_url"]
    # A range the project lacks is refused in words, and nothing is queued.
    page.fill("#cut-segments", "3-4")
    page.click("#render-cut")
    page.wait_for_selector("#toasts .toast.error", timeout=10_000)
    assert "outside the project" in page.text_content("#toasts .toast.error")
    assert len(httpx.get(f"{server.url}/api/projects/{pid}/renders/").json()) == 1
    assert [p for p in watch.problems if "400" not in p] == []


def test_a_clips_focus_is_chosen_on_its_first_frame(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    """A wide clip in a vertical video: the focus view shows the trim's first frame whole,
    a click there sets the focus, and the stage frames the clip around it."""
    server = live_server()
    watch = Watch(page)
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "Footage", "width": 180, "height": 320,
        "segments": [{"text": "The boats come in at dawn."}]}).json()
    pid, sid = created["id"], created["segment_list"][0]["id"]
    clip = write_clip(tmp_path / "wide.mp4", frames=20, fps=Fraction(10), size=(320, 180))
    sent = httpx.post(f"{server.url}/api/projects/{pid}/segments/{sid}/video/",
                      files={"file": ("wide.mp4", clip.read_bytes(), "video/mp4")})
    assert sent.status_code == 200, sent.text
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click(f"#segment-{sid} .seg-number")
    wait_until(page, "!document.querySelector('#show-focus').hidden && "
                     "document.querySelector('#frame-start').naturalWidth > 0")
    first_preview = page.get_attribute("#frame-start", "src")
    page.click("#show-focus")
    wait_until(page, "!document.querySelector('#focus-view').hidden && "
                     "document.querySelector('#focus-picture').naturalWidth === 320")
    assert "clip-frame.png" in (page.get_attribute("#focus-picture", "src") or "")
    assert "first frame" in page.text_content("#focus-note").lower()
    box = _picture_box(page)
    page.mouse.click(box["x"] + 0.85 * box["w"], box["y"] + 0.4 * box["h"])
    wait_until(page, f"{SAVED} && !document.querySelector('#focus-marker').hidden")
    focus = _focus(server, pid)
    assert abs(focus[0] - 0.85) < 0.02 and abs(focus[1] - 0.4) < 0.02
    page.click("#show-start")
    wait_until(page, f"document.querySelector('#frame-start').getAttribute('src') !== "
                     f"{first_preview!r} && "
                     "document.querySelector('#frame-start').naturalWidth > 0")
    assert watch.problems == []
