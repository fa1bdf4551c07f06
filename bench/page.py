"""``python -m bench.page``: the studio page with a long project, in Chromium.

A studio server (in this process, on a loopback port) holds a project of 200 segments,
each with two sentences and its own picture. Debian's Chromium, driven by Playwright,
opens the page and measures in the page itself (``performance.now()``):

* **open**: from choosing the project (its address) until its 200 rows are drawn and
  the browser has laid them out (the next animation frame after the last row),
* **keystroke**: for each key typed into the middle segment's text, from its
  ``keydown`` until every handler of its ``input`` event has run and the layout they
  changed is done (a layout read in the last listener the event reaches),
* **long tasks**: tasks over 50 ms while opening (PerformanceObserver ``longtask``).

Figures are the median and 90th percentile in milliseconds over the runs.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bench.frame import studio_server
from bench.measure import emit

__all__ = ["main", "measure"]

CHROMIUM = os.environ.get("STORYREEL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
_TYPED = "a quiet line"

_OPEN = """async ([id, count]) => {
    window.longTasks = [];
    new PerformanceObserver((list) => window.longTasks.push(...list.getEntries()
        .map((e) => e.duration))).observe({ type: "longtask" });
    const started = performance.now();
    location.hash = `#/project/${id}`;
    await new Promise((done) => {
        const check = () => document.querySelectorAll("#timeline .segment").length === count
            ? requestAnimationFrame(() => setTimeout(done)) : setTimeout(check, 1);
        check();
    });
    return [performance.now() - started, window.longTasks];
}"""

_WATCH_KEYS = """() => {
    window.keyTimes = [];
    let started = null;
    document.addEventListener("keydown", () => { started = performance.now(); }, true);
    window.addEventListener("input", () => {  // the last listener the event reaches
        void document.body.offsetHeight;  // and the layout the handlers changed
        window.keyTimes.push(performance.now() - started);
    });
}"""


def _picture(number: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), ((37 * number) % 256, (91 * number) % 256, 160)).save(
        buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _long_project(url: str, segments: int) -> int:
    with httpx.Client(base_url=url, timeout=60) as client:
        project = client.post("/api/projects/", json={
            "title": "A long story", "width": 640, "height": 360,
            "segments": [{"text": f"Segment {n} begins here. It says one more thing."}
                         for n in range(1, segments + 1)]}).json()
        for number, segment in enumerate(project["segment_list"], start=1):
            client.post(f"/api/projects/{project['id']}/segments/{segment['id']}/image/",
                        files={"file": (f"{number}.jpg", _picture(number), "image/jpeg")}
                        ).raise_for_status()
        return int(project["id"])


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median_ms": statistics.median(ordered),
            "p90_ms": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "max_ms": ordered[-1], "count": len(ordered)}


def measure(data_dir: Path, segments: int = 200, runs: int = 5) -> dict[str, Any]:
    """Open a ``segments``-long project ``runs`` times and type into it; the figures."""
    from playwright.sync_api import sync_playwright

    opens: list[float] = []
    long_tasks: list[float] = []
    keys: list[float] = []
    with studio_server(data_dir) as url, sync_playwright() as driver:
        project = _long_project(url, segments)
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=_ARGS, headless=True)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1360, "height": 900})
                page = context.new_page()
                page.goto(url + "/")
                page.wait_for_selector("#welcome:not([hidden])")
                took, tasks = page.evaluate(_OPEN, [project, segments])
                opens.append(took)
                long_tasks += tasks
                middle = page.locator("#timeline .segment .seg-text").nth(segments // 2)
                middle.click()
                page.keyboard.press("End")
                page.evaluate(_WATCH_KEYS)
                page.keyboard.type(_TYPED, delay=40)
                page.wait_for_timeout(300)
                keys += page.evaluate("window.keyTimes")
                context.close()
        finally:
            browser.close()
    return {"segments": segments, "runs": runs, "open": _summary(opens),
            "keystroke": _summary(keys),
            "long_tasks_while_opening": {"count": len(long_tasks),
                                         "longest_ms": max(long_tasks, default=0.0)}}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints (and optionally writes) the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.page", description=__doc__)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="storyreel-page-") as folder:
        result = measure(Path(folder), args.segments, args.runs)
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
