"""The page and a segment's clip: a video dropped on a row becomes its visual."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from browserkit import hold_answer
from PIL import Image
from studiokit import LiveServer, png_bytes
from test_browser import Watch, _new_project, page, wait_until
from test_browser_page import AXE

from media import read_counter, write_clip

__all__ = ["page"]  # the Chromium page fixture this module's tests take


def test_a_video_dropped_on_a_row_becomes_its_clip(live_server: Callable[..., LiveServer],
                                                   page: Any, tmp_path: Path) -> None:
    server = live_server()
    watch = Watch(page)
    _new_project(page, server, "Footage")
    clip = write_clip(tmp_path / "harbour.mp4", frames=25, fps=Fraction(25), size=(160, 90))
    page.evaluate("""([name, data]) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: "video/mp4" }));
        const target = document.querySelector(".segment .seg-image");
        target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
    }""", [clip.name, base64.b64encode(clip.read_bytes()).decode("ascii")])
    wait_until(page, "document.querySelector('.segment .seg-image.filled') !== null")
    title = page.get_attribute(".segment .seg-image", "title")
    assert title is not None and title.startswith("Clip 160\u00d790, 1.0 s at 25 fps")
    wait_until(page, "document.querySelector('.segment .seg-image img').naturalWidth > 0")
    # the stage shows the clip's first frame as the render frames it
    page.click(".segment .seg-number")
    wait_until(page, "!document.querySelector('#frame-start').hidden && "
                     "document.querySelector('#frame-start').naturalWidth > 0")
    assert page.is_hidden("#frame-empty")
    project = httpx.get(server.url + "/api/projects/").json()[0]
    segment = httpx.get(f"{server.url}/api/projects/{project['id']}/").json()["segment_list"][0]
    assert segment["video"]["duration"] == 1.0 and segment["image"] is None
    assert watch.problems == []


def _decoded(data: bytes) -> Any:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def _axe_problems(page: Any) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[str] = page.evaluate("""async () => {
        const result = await axe.run(document, { resultTypes: ["violations"] });
        return result.violations.filter((v) => ["critical", "serious"].includes(v.impact))
          .map((v) => `${v.impact} ${v.id}: ${v.help} at ` +
                      v.nodes.map((n) => n.target.join(" ")).join(", "));
    }""")
    return found


def test_a_clips_trim_and_fit_are_edited_in_the_page_and_kept(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    watch = Watch(page)
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "Trimmed", "width": 320, "height": 180,
        "segments": [{"text": "One two three four five six seven eight."}, {"text": "Still."}]})
    project = created.json()
    pid = project["id"]
    clip_seg, still_seg = (s["id"] for s in project["segment_list"])
    clip = write_clip(tmp_path / "count.mp4", frames=50, fps=Fraction(25), size=(160, 90))
    base = f"{server.url}/api/projects/{pid}/segments"
    answer = httpx.post(f"{base}/{clip_seg}/video/",
                        files={"file": ("count.mp4", clip.read_bytes(), "video/mp4")})
    assert answer.status_code == 200, answer.text
    answer = httpx.post(f"{base}/{still_seg}/image/",
                        files={"file": ("still.png", png_bytes((320, 180), (90, 120, 200)),
                                        "image/png")})
    assert answer.status_code == 200, answer.text
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment .seg-clip .filmstrip")
    page.click(f"#segment-{clip_seg} .seg-number")
    page.wait_for_selector("#clip-start-s")
    # the bounds come from the model, as the API serves them
    assert page.get_attribute("#clip-clip-sound-db", "min") == "-60"
    # The project read that follows the first change is answered late, after the next
    # change's write: the page must not take that read's older version of the segment for
    # the one it shows and sends as If-Match.
    hold_answer(page, "GET", f"/api/projects/{pid}/", 2000)
    page.fill("#clip-start-s", "0.4")
    page.dispatch_event("#clip-start-s", "change")
    wait_until(page, "document.querySelector('#save-state').className === 'save-state ok'")
    # Two changes at once, before the panel is drawn again: the second keeps the first.
    page.evaluate("""() => {
        const end = document.querySelector('#clip-end-s');
        end.value = '1.6';
        end.dispatchEvent(new Event('change'));
        const fit = document.querySelector('#clip-when-shorter');
        fit.value = 'loop';
        fit.dispatchEvent(new Event('change'));
    }""")
    wait_until(page, "window.held === 0 && "
                     "document.querySelector('#save-state').className === 'save-state ok'")
    wait_until(page, f"(document.querySelector('#segment-{clip_seg} .clip-length')"
                     "?.textContent || '').startsWith('Clip 1.2 s')")
    assert page.input_value("#clip-end-s") == "1.6"

    def saved() -> dict[str, Any]:
        detail = httpx.get(f"{server.url}/api/projects/{pid}/").json()
        return next(s for s in detail["segment_list"] if s["id"] == clip_seg)

    wait_until(page, "document.querySelector('#clip-when-shorter') && "
                     "document.querySelector('#clip-when-shorter').value === 'loop' && "
                     "document.querySelector('#save-state').className === 'save-state ok'")
    assert {k: saved()["clip"][k] for k in ("start", "end", "fit")} == {
        "start": 0.4, "end": 1.6, "fit": "loop"}
    # each change is a step of undo, sent through the same PATCH
    page.click("#undo")
    wait_until(page, "document.querySelector('#clip-when-shorter').value === 'freeze' && "
                     "document.querySelector('#save-state').className === 'save-state ok'")
    assert saved()["clip"].get("fit", "freeze") == "freeze" and saved()["clip"]["end"] == 1.6
    page.click("#redo")
    wait_until(page, "document.querySelector('#clip-when-shorter').value === 'loop' && "
                     "document.querySelector('#save-state').className === 'save-state ok'")
    assert saved()["clip"]["fit"] == "loop"
    page.reload()
    page.wait_for_selector("#editor:not([hidden]) .segment .seg-clip .filmstrip")
    page.click(f"#segment-{clip_seg} .seg-number")
    page.wait_for_selector("#clip-start-s")
    assert page.input_value("#clip-start-s") == "0.4"
    assert page.input_value("#clip-end-s") == "1.6"
    assert page.input_value("#clip-when-shorter") == "loop"
    length = page.text_content(f"#segment-{clip_seg} .clip-length") or ""
    assert length.startswith("Clip 1.2 s") and "loops" in length, length
    wait_until(page, f"document.querySelector('#segment-{clip_seg} .filmstrip').naturalWidth > 0")
    # The filmstrip shows the frames at the middles of four stretches of the 0.4-1.6 s trim.
    strip = _decoded(httpx.get(f"{base}/{clip_seg}/filmstrip.png").content)
    tiles = np.split(strip, 4, axis=1)
    times = [0.4 + 1.2 * (2 * k + 1) / 8 for k in range(4)]
    assert [read_counter(t) for t in tiles] == [int(t * 25 + 1e-9) for t in times]
    assert httpx.get(f"{base}/{still_seg}/filmstrip.png").status_code == 404
    # The stage shows the trim's first and last frames, unlike a still's, which barely move.
    wait_until(page, "!document.querySelector('#frame-start').hidden && "
                     "document.querySelector('#frame-start').naturalWidth > 0")
    first, last = (_decoded(httpx.get(f"{base}/{clip_seg}/preview.png?at={at}").content)
                   for at in ("start", "end"))
    still = _decoded(httpx.get(f"{base}/{still_seg}/preview.png?at=start").content)
    assert read_counter(first[:, 40:280]) != read_counter(last[:, 40:280])
    assert np.abs(first.astype(int) - still.astype(int)).mean() > 20
    if AXE.is_file():
        assert _axe_problems(page) == []
    # the reload stops the old page's event stream and any frames it was still loading
    assert [p for p in watch.problems if "ERR_ABORTED" not in p] == [], watch.problems


def test_a_card_segments_title_is_edited_in_the_page(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "Cards", "width": 320, "height": 180, "segments": [{"text": "Hello."}]})
    pid, sid = created.json()["id"], created.json()["segment_list"][0]["id"]
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click(f"#segment-{sid} .seg-number")
    page.fill("#clip-card-title", "Chapter Ünö")
    page.dispatch_event("#clip-card-title", "change")
    wait_until(page, "!document.querySelector('#frame-start').hidden && "
                     "document.querySelector('#frame-start').naturalWidth > 0")
    detail = httpx.get(f"{server.url}/api/projects/{pid}/").json()
    assert detail["segment_list"][0]["title"] == "Chapter Ünö"
    assert "image" not in detail["segment_list"][0]["missing"]
    page.reload()
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.click(f"#segment-{sid} .seg-number")
    assert page.input_value("#clip-card-title") == "Chapter Ünö"
