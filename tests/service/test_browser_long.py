"""A 200-segment project in Chromium: typing and moving redraw only the rows that changed.

Needs what ``test_browser`` needs (Debian's ``chromium`` and ``playwright``); skips
without them, except on CI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from studiokit import LiveServer
from test_browser import page, wait_until  # the Chromium page fixture and the CSP-safe poll

__all__ = ["page"]  # a fixture: imported to be used by name

COUNT = 200


def _marked(page: Any) -> list[int]:
    """The rows (by segment id, in order) that are still the nodes marked earlier."""
    ids: list[int] = page.evaluate(
        "[...document.querySelectorAll('#timeline .segment')]"
        ".filter((row) => row.marked).map((row) => Number(row.dataset.id))")
    return ids


def _mark(page: Any) -> None:
    page.evaluate("document.querySelectorAll('#timeline .segment')"
                  ".forEach((row) => { row.marked = true; })")


def _saved(server: LiveServer, pid: int) -> list[dict[str, Any]]:
    detail = httpx.get(f"{server.url}/api/projects/{pid}/").json()
    segments: list[dict[str, Any]] = detail["segment_list"]
    return segments


def test_typing_and_moving_in_a_long_project_keep_the_other_rows(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "A long story", "width": 320, "height": 180,
        "segments": [{"text": f"Segment {n} speaks. Then it ends, ünïcödé 字 ✓."}
                     for n in range(1, COUNT + 1)]})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    ids = [s["id"] for s in created.json()["segment_list"]]
    page.goto(f"{server.url}/#/project/{pid}")
    wait_until(page, f"document.querySelectorAll('#timeline .segment').length === {COUNT}")
    _mark(page)
    middle = ids[COUNT // 2]
    page.click(f"#segment-{middle} .seg-text")
    page.keyboard.press("End")
    page.keyboard.type(" Typed here, 🙂.")
    page.click("#title")  # leaving the field saves it
    wait_until(page, f"""fetch('/api/projects/{pid}/').then((r) => r.json()).then((p) =>
        p.segment_list.find((s) => s.id === {middle}).text.endsWith('Typed here, 🙂.'))""")
    assert _marked(page) == ids  # no row was built again, the edited one included
    assert page.input_value(f"#segment-{middle} .seg-text").endswith("Typed here, 🙂.")
    # Moving a row down (Alt+↓) reorders the story: only the two rows whose number changed
    # are built again; every other row is the same node, in its new order.
    moved = ids[3]
    page.focus(f"#segment-{moved}")
    page.keyboard.press("Alt+ArrowDown")
    order = [*ids[:3], ids[4], ids[3], *ids[5:]]
    shown = ",".join(map(str, order))
    wait_until(page, "[...document.querySelectorAll('#timeline .segment')]"
                     f".map((row) => Number(row.dataset.id)).join() === '{shown}'")
    wait_until(page, f"""fetch('/api/projects/{pid}/').then((r) => r.json())
        .then((p) => p.segment_list[4].id === {moved})""")
    assert [s["id"] for s in _saved(server, pid)] == order
    assert _marked(page) == [i for i in order if i not in (ids[3], ids[4])]
    numbers = page.eval_on_selector_all("#timeline .segment .seg-number",
                                        "nodes => nodes.map((n) => Number(n.textContent))")
    assert numbers == list(range(1, COUNT + 1))
