"""Several platforms in the studio page, in Chromium: ticked in the options, the selected
segment's frame in each platform's shape side by side (safe areas on request), one click
making every video, and the videos list naming each one's platform; axe stays clean.

Needs what ``test_browser`` needs (Debian's ``chromium`` and ``playwright``); the
accessibility check also needs axe-core (``tests/service/axe``). A missing piece skips,
except on CI.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from studiokit import LiveServer, png_bytes, wav_bytes
from test_browser import Watch, page, wait_until  # the Chromium page fixture and helpers

__all__ = ["page"]  # a fixture: imported to be used by name

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHOSEN = ["youtube", "shorts", "square"]
SIZES = {"youtube": (320, 180), "shorts": (180, 320), "square": (180, 180)}


def _project(server: LiveServer, tmp_path: Path) -> dict[str, Any]:
    """Two segments with a picture and a recorded narration each, at 320x180, ultrafast."""
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "Every platform", "width": 320, "height": 180,
        "settings": {"preset": "ultrafast"},
        "segments": [{"text": "The harbour wakes."}, {"text": "Boats leave at dawn."}]})
    assert created.status_code == 201, created.text
    project: dict[str, Any] = created.json()
    for number, segment in enumerate(project["segment_list"]):
        base = f"{server.url}/api/projects/{project['id']}/segments/{segment['id']}"
        picture = png_bytes((480, 270), (40 + 80 * number, 90, 160))
        assert httpx.post(f"{base}/image/", files={
            "file": (f"{number}.png", picture, "image/png")}).status_code == 200
        sound = wav_bytes(tmp_path, 0.8, seed=number)
        assert httpx.post(f"{base}/audio/", files={
            "file": (f"{number}.wav", sound, "audio/wav")}).status_code == 200
    return project


def _axe(page: Any, where: str) -> None:
    if not AXE.is_file():
        message = f"axe-core is not installed at {AXE} (cd tests/service/axe && npm ci)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        return  # the rest of the test stands without it
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, { resultTypes: ["violations"] });
        return result.violations.filter((v) => ["critical", "serious"].includes(v.impact))
          .map((v) => `${v.impact} ${v.id}: ${v.help} at ` +
                      v.nodes.map((n) => n.target.join(" ")).join(", "));
    }""")
    assert found == [], f"{where}: {found}"


def _boxes(page: Any) -> dict[str, dict[str, float]]:
    shapes = page.locator("#frame-platforms .platform-frame")
    return {str(shapes.nth(i).get_attribute("data-platform")):
            shapes.nth(i).locator(".platform-shape").bounding_box()
            for i in range(shapes.count())}


def test_choose_platforms_see_each_frame_and_make_every_video(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    watch = Watch(page)
    project = _project(server, tmp_path)
    pid = project["id"]
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")

    page.click("#panel-tabs [data-panel=format]")
    for name in CHOSEN:
        page.check(f"[data-list='settings.platforms'][value={name}]")
        page.wait_for_selector("#save-state.ok")
    wait_until(page, "JSON.stringify(state.project.options.settings.platforms) === "
                     f"'{str(CHOSEN).replace(chr(39), chr(34)).replace(' ', '')}'")
    saved = httpx.get(f"{server.url}/api/projects/{pid}/").json()["options"]["settings"]
    assert saved["platforms"] == CHOSEN and saved["platform"] is None

    # The stage: the segment's first frame as each platform's video draws it, side by side.
    page.locator(".segment").first.click()
    wait_until(page, "document.querySelectorAll('#frame-platforms .platform-frame').length"
                     " === 3")
    for name, (width, height) in SIZES.items():
        wait_until(page, "(() => { const i = document.querySelector("
                         f"'[data-platform={name}] img[data-at=start]');"
                         f" return i.complete && i.naturalWidth === {width}"
                         f" && i.naturalHeight === {height}; }})()")
    assert page.is_hidden("#frame-screen")
    boxes = _boxes(page)
    assert list(boxes) == CHOSEN
    tops = {round(b["y"]) for b in boxes.values()}
    heights = {round(b["height"]) for b in boxes.values()}
    assert len(tops) == 1 and len(heights) == 1  # one row, one height
    lefts = [boxes[name]["x"] for name in CHOSEN]
    assert lefts == sorted(lefts)
    for name, (width, height) in SIZES.items():
        box = boxes[name]
        assert abs(box["width"] / box["height"] - width / height) < 0.03, name

    # Safe areas: hidden until asked for, then each platform's own.
    area = "#frame-platforms [data-platform=shorts] .safe-area"
    assert page.is_hidden(area)
    page.check("#show-safe")
    assert page.is_visible(area)
    shorts, drawn = boxes["shorts"], page.locator(area).bounding_box()
    assert abs((drawn["x"] - shorts["x"]) / shorts["width"] - 0.06) < 0.02
    right = shorts["x"] + shorts["width"] - (drawn["x"] + drawn["width"])
    assert abs(right / shorts["width"] - 0.14) < 0.02
    bottom = shorts["y"] + shorts["height"] - (drawn["y"] + drawn["height"])
    assert abs(bottom / shorts["height"] - 0.20) < 0.02
    square = page.locator("#frame-platforms [data-platform=square] .safe-area").bounding_box()
    assert abs((square["x"] - boxes["square"]["x"]) / boxes["square"]["width"] - 0.05) < 0.02
    page.click("#show-end")
    wait_until(page, "[...document.querySelectorAll('#frame-platforms img[data-at=end]')]"
                     ".every((i) => !i.hidden && i.complete && i.naturalWidth > 0)")
    if os.environ.get("STORYREEL_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["STORYREEL_SCREENSHOTS"]) / "platforms.png"))
    _axe(page, "platforms on the stage, safe areas shown")

    # One click: one job, a video for each platform, each listed with its platform.
    page.click("#render-final")
    page.click("#panel-tabs [data-panel=videos]")
    wait_until(page, "document.querySelectorAll('.history-item').length === 3", timeout=180)
    tags = page.locator(".history-item .tag.platform").all_text_contents()
    assert tags == ["YouTube (16:9)", "YouTube Shorts (9:16)", "Square (1:1)"]
    sizes = page.locator(".history-item .muted.small").all_text_contents()
    assert [s.split(" · ")[1] for s in sizes] == [f"{w}\u00d7{h}" for w, h in SIZES.values()]
    history = httpx.get(f"{server.url}/api/projects/{pid}/renders/").json()
    assert len({v["job_id"] for v in history}) == 1
    page.locator(".history-item").nth(1).click()
    wait_until(page, "document.querySelector('#video').videoHeight === 320", timeout=30)
    assert "YouTube Shorts (9:16)" in page.locator("#video-info .tag.platform").text_content()
    assert page.locator(".history-item.active").count() == 1
    _axe(page, "videos list of a render for three platforms")
    assert watch.problems == []


def test_unticking_every_platform_brings_the_single_frame_back(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    project = _project(server, tmp_path)
    pid = project["id"]
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click("#panel-tabs [data-panel=format]")
    page.check("[data-list='settings.platforms'][value=tiktok]")
    page.wait_for_selector("#save-state.ok")
    page.locator(".segment").first.click()
    wait_until(page, "document.querySelectorAll('#frame-platforms .platform-frame').length"
                     " === 1")
    page.uncheck("[data-list='settings.platforms'][value=tiktok]")
    page.wait_for_selector("#save-state.ok")
    wait_until(page, "!document.querySelector('#frame-screen').hidden")
    assert page.is_hidden("#frame-platforms") and page.is_hidden("#safe-toggle")
    settings = httpx.get(f"{server.url}/api/projects/{pid}/").json()["options"]["settings"]
    assert settings["platforms"] is None
    page.select_option("[data-path='settings.platform']", "shorts")
    page.wait_for_selector("#save-state.ok")
    assert not page.is_checked("[data-list='settings.platforms'][value=tiktok]")


def test_the_scrubber_shows_each_platforms_video_at_its_time(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    watch = Watch(page)
    project = _project(server, tmp_path)
    pid = project["id"]
    assert httpx.patch(f"{server.url}/api/projects/{pid}/",
                       json={"settings": {"platforms": CHOSEN}}).status_code == 200
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/frame.jpg" in r.url else None)
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    wait_until(page, "!document.querySelector('#scrubber').hidden && "
                     "Number(document.querySelector('#scrub').max) > 10")
    page.focus("#scrub")
    page.keyboard.press("Shift+ArrowRight")  # a second in
    shown = ("(() => { const row = document.querySelector('#frame-at-platforms');"
             " const imgs = [...row.querySelectorAll('img')];"
             " return !row.hidden && row.dataset.frame === document.querySelector('#scrub').value"
             " && imgs.length === 3 && imgs.every((i) => i.complete && i.naturalWidth > 0); })()")
    wait_until(page, shown)
    assert page.is_hidden("#frame-screen") and page.is_hidden("#frame-platforms")
    for name, (width, height) in SIZES.items():
        size = page.evaluate(f"(() => {{ const i = document.querySelector("
                             f"'#frame-at-platforms img[data-platform={name}]');"
                             f" return [i.naturalWidth, i.naturalHeight]; }})()")
        assert size == [width, height], name
    frame = int(page.get_attribute("#frame-at-platforms", "data-frame") or "-1")
    assert frame > 0
    t = page.get_attribute("#frame-at-platforms", "data-t")
    assert {u.split("platform=")[1] for u in asked if f"t={t}" in u} == set(CHOSEN)
    # The picture under each is the engine's frame of that platform's video at that time.
    for name in CHOSEN:
        page_bytes = page.evaluate(f"""async () => {{
            const img = document.querySelector('#frame-at-platforms img[data-platform={name}]');
            return Array.from(new Uint8Array(await (await fetch(img.src)).arrayBuffer())); }}""")
        engine = httpx.get(f"{server.url}/api/projects/{pid}/frame.jpg",
                           params={"t": t, "platform": name})
        assert bytes(page_bytes) == engine.content, name
    page.check("#show-safe")
    assert page.is_visible("#frame-at-platforms [data-platform=shorts] .safe-area")
    if os.environ.get("STORYREEL_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["STORYREEL_SCREENSHOTS"]) / "scrub-platforms.png"))
    _axe(page, "the scrubber's moment on three platforms")
    # Choosing a segment shows its own frames again.
    page.click("#timeline .segment:nth-child(2) .seg-number")
    wait_until(page, "document.querySelector('#frame-at-platforms').hidden && "
                     "!document.querySelector('#frame-platforms').hidden")
    assert watch.problems == []
