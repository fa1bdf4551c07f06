"""The page and a segment's clip: a video dropped on a row becomes its visual."""

from __future__ import annotations

import base64
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
from studiokit import LiveServer
from test_browser import Watch, _new_project, page, wait_until

from media import write_clip

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
