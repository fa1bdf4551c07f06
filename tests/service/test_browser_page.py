"""The studio page driven as a creator drives it, in Chromium: reordering with the real mouse,
dialogs, the keyboard, undo, and axe-core's accessibility rules.

Needs what ``test_browser`` needs (Debian's ``chromium`` and ``playwright``); the
accessibility test also needs axe-core, installed by ``npm ci`` in ``tests/service/axe``
(``./run tests`` does it when npm is there). A missing piece skips, except on CI.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from studiokit import LiveServer, png_bytes
from test_browser import page, wait_until  # the Chromium page fixture and the CSP-safe poll

__all__ = ["page"]  # a fixture: imported to be used by name

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def _project(server: LiveServer, texts: list[str], pictures: bool = False) -> dict[str, Any]:
    """A project made through the API, its segments holding ``texts`` (and a picture each)."""
    created = httpx.post(server.url + "/api/projects/", json={
        "title": "Reorder me", "width": 320, "height": 180,
        "segments": [{"text": text} for text in texts]})
    assert created.status_code == 201, created.text
    project: dict[str, Any] = created.json()
    if pictures:
        for number, segment in enumerate(project["segment_list"]):
            url = f"{server.url}/api/projects/{project['id']}/segments/{segment['id']}/image/"
            picture = png_bytes((320, 180), (60 * number % 256, 90, 200))
            answer = httpx.post(url, files={"file": (f"{number}.png", picture, "image/png")})
            assert answer.status_code == 200, answer.text
    return project


def _saved(server: LiveServer, project_id: int) -> dict[str, Any]:
    detail: dict[str, Any] = httpx.get(f"{server.url}/api/projects/{project_id}/").json()
    return detail


def _saved_texts(server: LiveServer, project_id: int) -> list[str]:
    return [s["text"] for s in _saved(server, project_id)["segment_list"]]


def _shown_texts(page: Any) -> list[str]:
    return [str(t) for t in page.eval_on_selector_all(
        "#timeline .segment:not([hidden]) .seg-text", "nodes => nodes.map((n) => n.value)")]


def _open(page: Any, server: LiveServer, project_id: int) -> None:
    page.goto(f"{server.url}/#/project/{project_id}")
    page.wait_for_selector("#editor:not([hidden]) .segment")


def _drag(page: Any, source: int, target: int, share: float) -> None:
    """Press on row ``source``'s handle and release over row ``target``, ``share`` of its
    height down from its top, moving the real mouse in steps as a hand would."""
    handle = page.locator("#timeline .segment .seg-handle").nth(source).bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    row = page.locator("#timeline .segment").nth(target).bounding_box()
    page.mouse.move(row["x"] + 40, row["y"] + row["height"] * share, steps=12)
    page.mouse.up()


def _settled(page: Any, server: LiveServer, project_id: int, expected: list[str]) -> None:
    """The page shows ``expected``, says it is saved, and the studio holds the same order."""
    wait_until(page, "document.querySelector('#save-state').className === 'save-state ok'")
    shown = json.dumps(json.dumps(expected, separators=(",", ":")))
    wait_until(page, "JSON.stringify([...document.querySelectorAll('#timeline .seg-text')]"
                     f".map((n) => n.value)) === {shown}")
    assert _saved_texts(server, project_id) == expected


def test_a_dragged_row_is_saved_wherever_it_is_released(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = _project(server, ["One.", "Two.", "Three.", "Four."])
    _open(page, server, project["id"])

    # Row 1 onto row 2: the row moves under the pointer, which is released over the moved
    # row itself (no drop event fires there).
    _drag(page, 0, 1, 0.75)
    _settled(page, server, project["id"], ["Two.", "One.", "Three.", "Four."])
    # The last row onto the first one's top half: it becomes the first.
    _drag(page, 3, 0, 0.2)
    _settled(page, server, project["id"], ["Four.", "Two.", "One.", "Three."])
    # The first row onto the last one's bottom half: it becomes the last.
    _drag(page, 0, 3, 0.8)
    _settled(page, server, project["id"], ["Two.", "One.", "Three.", "Four."])
    # Pressed and released on the same row: nothing moves, nothing is sent.
    _drag(page, 2, 2, 0.5)
    _settled(page, server, project["id"], ["Two.", "One.", "Three.", "Four."])
    # Moved over the rows, then released outside the timeline: the saved order comes back.
    handle = page.locator("#timeline .segment .seg-handle").first.bounding_box()
    page.mouse.move(handle["x"] + 4, handle["y"] + 4)
    page.mouse.down()
    row = page.locator("#timeline .segment").nth(2).bounding_box()
    page.mouse.move(row["x"] + 40, row["y"] + row["height"] * 0.8, steps=8)
    stage = page.locator("#stage").bounding_box()
    page.mouse.move(stage["x"] + 30, stage["y"] + 30, steps=8)
    page.mouse.up()
    _settled(page, server, project["id"], ["Two.", "One.", "Three.", "Four."])

    page.reload()
    page.wait_for_selector("#editor:not([hidden]) .segment")
    assert _shown_texts(page) == ["Two.", "One.", "Three.", "Four."]


def test_a_refused_reorder_says_so_and_shows_the_saved_order(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = _project(server, ["One.", "Two.", "Three."])
    _open(page, server, project["id"])
    # Another client deletes a segment: the page's order no longer names every segment.
    third = project["segment_list"][2]["id"]
    assert httpx.delete(f"{server.url}/api/projects/{project['id']}/segments/{third}/"
                        ).status_code == 204
    _drag(page, 0, 1, 0.75)
    page.wait_for_selector(".toast.error")  # says the order was not saved, and why
    wait_until(page, "document.querySelectorAll('#timeline .segment').length === 2")
    assert _shown_texts(page) == ["One.", "Two."] == _saved_texts(server, project["id"])


def test_enter_creates_the_project_and_escape_cancels(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    page.goto(server.url + "/")
    page.wait_for_selector("#welcome:not([hidden])")
    page.focus("#new-project")
    page.keyboard.press("Enter")
    page.wait_for_selector("#dialog[open]")
    assert page.evaluate("document.activeElement.id") == "dialog-input"
    page.keyboard.press("Escape")
    page.wait_for_selector("#dialog:not([open])", state="attached")
    assert page.evaluate("document.activeElement.id") == "new-project"  # focus came back
    assert httpx.get(server.url + "/api/projects/").json() == []

    page.keyboard.press("Enter")
    page.wait_for_selector("#dialog[open]")
    page.keyboard.type("Mañana, 東京")
    page.keyboard.press("Enter")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    projects = httpx.get(server.url + "/api/projects/").json()
    assert [p["title"] for p in projects] == ["Mañana, 東京"]
    assert page.input_value("#title") == "Mañana, 東京"


def test_a_confirmation_takes_enter_for_its_main_button(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = _project(server, ["One."])
    _open(page, server, project["id"])
    page.click("#delete-project")
    page.wait_for_selector("#dialog[open]")
    assert page.evaluate("document.activeElement.id") == "dialog-ok"
    page.keyboard.press("Enter")
    page.wait_for_selector("#welcome:not([hidden])")
    assert httpx.get(server.url + "/api/projects/").json() == []


def test_tabs_follow_the_keyboard_and_keep_focus(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = _project(server, ["One."])
    _open(page, server, project["id"])
    tabs = page.locator("#panel-tabs [role=tab]")
    count = tabs.count()
    assert count >= 4
    tabs.nth(1).click()
    selected = "[...document.querySelectorAll('#panel-tabs [role=tab]')]" \
               ".map((t) => [t.getAttribute('aria-selected'), t.tabIndex])"
    active = "document.activeElement.dataset.panel"
    assert page.evaluate(active) == tabs.nth(1).get_attribute("data-panel")
    assert page.evaluate(selected) == [["false", -1], ["true", 0]] + [["false", -1]] * (count - 2)
    page.keyboard.press("ArrowRight")
    assert page.evaluate(active) == tabs.nth(2).get_attribute("data-panel")
    assert page.get_attribute("#panel-body", "aria-labelledby") == tabs.nth(2).get_attribute("id")
    page.keyboard.press("End")
    assert page.evaluate(active) == "videos"
    page.keyboard.press("ArrowRight")  # round to the first
    assert page.evaluate(active) == "segment"
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(active) == "videos"
    page.keyboard.press("Home")
    assert page.evaluate(active) == "segment"
    assert page.evaluate(selected)[0] == ["true", 0]
    page.focus("#stage-tab-frame")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "stage-tab-video"
    assert page.is_hidden("#stage-frame") and page.is_visible("#stage-video")


def _undo_count(page: Any) -> int:
    return int(page.evaluate("async () => { await undoLog.queue; return undoLog.done.length; }"))


def _pixel(server: LiveServer, project_id: int, number: int) -> tuple[int, ...]:
    segment = _saved(server, project_id)["segment_list"][number - 1]
    data = httpx.get(server.url + segment["image"]["url"]).content
    return tuple(Image.open(io.BytesIO(data)).convert("RGB").getpixel((5, 5)))


def test_undo_and_redo_cover_text_moves_options_and_deletes(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = _project(server, ["One.", "Two.", "Three."], pictures=True)
    pid = project["id"]
    first_pixel = _pixel(server, pid, 1)
    _open(page, server, pid)

    # Typing, saved once it pauses; the browser's own undo applies inside the field.
    text = page.locator("#timeline .seg-text").first
    text.click()
    text.press("End")
    page.keyboard.type(" Changed")
    page.locator("#timeline .segment").first.focus()  # leaving the field saves at once
    wait_until(page, "document.querySelector('#save-state').className === 'save-state ok'")
    assert _saved_texts(server, pid)[0] == "One. Changed"
    assert _undo_count(page) == 1  # the typing is one step

    page.locator("#timeline .segment").first.focus()
    page.keyboard.press("Alt+ArrowDown")
    wait_until(page, "document.querySelector('#timeline .segment:nth-child(2) .seg-text')"
                     ".value.startsWith('One.')")
    page.click("#panel-tabs [data-panel=quality]")
    page.select_option("[data-path='settings.preset']", "ultrafast")
    wait_until(page, "undoLog.done.length === 3")
    assert _saved(server, pid)["options"]["settings"]["preset"] == "ultrafast"

    # Deleting the middle row ("One. Changed", moved there): focus goes to the row after
    # it, and Undo is one Shift+Tab back.
    second = page.locator("#timeline .segment").nth(1)
    second_id = second.get_attribute("data-id")
    second.locator(".remove").click()
    wait_until(page, "document.querySelectorAll('#timeline .segment').length === 2")
    assert _saved_texts(server, pid) == ["Two.", "Three."]
    assert page.evaluate("document.activeElement.id") == "segment-" + str(
        _saved(server, pid)["segment_list"][1]["id"])
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.textContent") == "Undo"
    assert page.evaluate("document.activeElement.closest('li').textContent").startswith(
        "Segment 2 deleted")

    # Undo, step by step, from the focused row: each one reaches the studio.
    page.locator("#timeline .segment").first.focus()
    page.keyboard.press("Control+z")
    assert _undo_count(page) == 3
    assert _saved_texts(server, pid) == ["Two.", "One. Changed", "Three."]
    restored = _saved(server, pid)["segment_list"][1]
    assert str(restored["id"]) != second_id and restored["image"] is not None
    assert _pixel(server, pid, 2) == first_pixel  # its picture came back with it
    page.keyboard.press("Control+z")
    assert _undo_count(page) == 2
    assert _saved(server, pid)["options"]["settings"]["preset"] != "ultrafast"
    page.keyboard.press("Control+z")
    assert _undo_count(page) == 1
    assert _saved_texts(server, pid) == ["One. Changed", "Two.", "Three."]
    page.keyboard.press("Control+z")
    assert _undo_count(page) == 0
    assert _saved_texts(server, pid) == ["One.", "Two.", "Three."]
    wait_until(page, "document.querySelector('#timeline .seg-text').value === 'One.'")

    # Redo, with Ctrl+Shift+Z and with the button.
    page.keyboard.press("Control+Shift+z")
    assert _undo_count(page) == 1
    assert _saved_texts(server, pid) == ["One. Changed", "Two.", "Three."]
    page.click("#redo")
    assert _undo_count(page) == 2
    assert _saved_texts(server, pid) == ["Two.", "One. Changed", "Three."]
    page.reload()
    page.wait_for_selector("#editor:not([hidden]) .segment")
    assert _shown_texts(page) == ["Two.", "One. Changed", "Three."]

    # Inside a text field, Ctrl+Z is the browser's own undo: the studio's stays out of it.
    order = [s["id"] for s in _saved(server, pid)["segment_list"]]
    page.evaluate("window.taken = []; window.addEventListener('keydown', "
                  "(e) => taken.push(e.defaultPrevented))")
    page.focus("#timeline .seg-chapter")
    page.keyboard.press("Control+z")
    assert page.evaluate("taken") == [False, False]  # Control, then Z: neither handled
    page.locator("#timeline .segment").first.focus()
    wait_until(page, "document.querySelector('#save-state').className === 'save-state ok'")
    assert [s["id"] for s in _saved(server, pid)["segment_list"]] == order


def test_axe_finds_nothing_critical_or_serious(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    if not AXE.is_file():
        message = f"axe-core is not installed at {AXE} (cd tests/service/axe && npm ci)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = live_server()
    source = AXE.read_text(encoding="utf-8")

    def check(where: str) -> None:
        page.evaluate(source)  # evaluated by the driver: the page's CSP allows no injection
        found = page.evaluate("""async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.filter((v) => ["critical", "serious"].includes(v.impact))
              .map((v) => `${v.impact} ${v.id}: ${v.help} at ` +
                          v.nodes.map((n) => n.target.join(" ")).join(", "));
        }""")
        assert found == [], f"{where}: {found}"

    page.goto(server.url + "/")
    page.wait_for_selector("#welcome:not([hidden])")
    check("welcome page")
    page.click("#new-project")
    page.wait_for_selector("#dialog[open]")
    check("new project dialog")
    page.keyboard.press("Escape")
    project = _project(server, ["One.", "Two.", "Three."], pictures=True)
    _open(page, server, project["id"])
    wait_until(page, "document.querySelectorAll('.seg-image.filled').length === 3")
    for panel in ("segment", "format", "captions", "sound", "videos"):
        page.click(f"#panel-tabs [data-panel={panel}]")
        page.locator("#main").hover()
        check(f"open project, {panel} panel")
    page.locator("#render-final").hover()
    check("Make video hovered")


def test_the_picture_chooser_takes_several_files(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    project = _project(server, ["One.", "Two."])
    _open(page, server, project["id"])
    files = []
    for name, colour in (("02.png", (20, 40, 220)), ("01.png", (230, 120, 20))):
        (tmp_path / name).write_bytes(png_bytes((320, 180), colour))
        files.append(str(tmp_path / name))
    page.set_input_files("#timeline .segment:first-child .seg-image input[type=file]", files)
    wait_until(page, "document.querySelectorAll('#timeline .seg-image.filled').length === 2")
    assert _pixel(server, project["id"], 1) == (230, 120, 20)  # 01.png to the first row
    assert _pixel(server, project["id"], 2) == (20, 40, 220)


def test_a_refused_upload_leaves_nothing_unsaved(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    project = _project(server, ["One."])
    _open(page, server, project["id"])
    fake = tmp_path / "photo.png"
    fake.write_text("not a picture at all", encoding="utf-8")
    page.set_input_files("#timeline .seg-image input[type=file]", str(fake))
    page.wait_for_selector(".toast.error")
    assert "not an image" in page.inner_text(".toast.error")
    wait_until(page, "!document.querySelector('.seg-image').classList.contains('busy')")
    assert page.get_attribute("#save-state", "class") == "save-state ok"


def test_a_pasted_story_can_become_segments(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = _project(server, ["Before.", "After."])
    _open(page, server, project["id"])
    story = "The keeper climbed.\n\nThe light went out.\n\nShips drifted — 東京丸 too."
    page.evaluate("""(story) => {
        const field = document.querySelector('#timeline .seg-text');
        field.focus();
        field.value = story;  // what the paste puts in the field
        field.dispatchEvent(new Event('input', { bubbles: true }));
        const data = new DataTransfer();
        data.setData('text/plain', story);
        field.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }));
    }""", story)
    page.wait_for_selector("#dialog[open]")
    assert page.inner_text("#dialog-title") == "Split into 3 segments?"
    page.keyboard.press("Enter")
    wait_until(page, "document.querySelectorAll('#timeline .segment').length === 4")
    assert _saved_texts(server, project["id"]) == [
        "The keeper climbed.", "The light went out.", "Ships drifted — 東京丸 too.", "After."]
    assert _shown_texts(page) == _saved_texts(server, project["id"])


def test_a_long_timeline_shows_every_segment(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = _project(server, [f"Segment {n} speaks." for n in range(1, 121)])
    _open(page, server, project["id"])
    assert page.locator("#overview .ov-block").count() == 120
    last = page.locator("#overview .ov-block").last
    last.scroll_into_view_if_needed()
    strip, block = page.locator("#overview").bounding_box(), last.bounding_box()
    assert strip["x"] <= block["x"]
    assert block["x"] + block["width"] <= strip["x"] + strip["width"] + 1
    assert block["width"] >= 6
    for index in (0, 98, 119):  # numbers 1, 99 and 120 fit beside the handle
        row = page.locator("#timeline .segment").nth(index)
        handle, number = row.locator(".seg-handle").bounding_box(), row.locator(".seg-number")
        box = number.bounding_box()
        assert box["x"] >= handle["x"] + handle["width"]
        assert number.evaluate("(n) => n.scrollWidth <= n.clientWidth")
    # text_content: rows out of view are not rendered (content-visibility), so innerText is ""
    last_number = page.locator("#timeline .segment").nth(119).locator(".seg-number")
    assert last_number.text_content() == "120"


def test_a_deleted_segment_leaves_no_broken_picture_on_the_stage(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = _project(server, ["One.", "Two."], pictures=True)
    _open(page, server, project["id"])
    page.locator("#timeline .segment").nth(1).click()
    shown = "(() => { const i = document.querySelector('#frame-start');" \
            " return !i.hidden && i.complete && i.naturalWidth > 0; })()"
    wait_until(page, shown)
    page.locator("#timeline .segment").nth(1).locator(".remove").click()
    wait_until(page, "document.querySelectorAll('#timeline .segment').length === 1")
    wait_until(page, shown)  # the remaining segment's frame, drawn
    assert page.evaluate("[...document.querySelectorAll('.screen img')].every((i) => "
                         "i.hidden || (i.complete && i.naturalWidth > 0))")


def test_a_title_change_undoes_and_each_project_has_its_own_history(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    first = _project(server, ["One."])
    other = _project(server, ["Other."])
    _open(page, server, first["id"])
    page.fill("#title", "Mañana, 東京")
    page.locator("#timeline .segment").first.focus()
    wait_until(page, "undoLog.done.length === 1")
    assert _saved(server, first["id"])["title"] == "Mañana, 東京"

    _open(page, server, other["id"])  # another project: nothing of the first to undo
    wait_until(page, "document.querySelector('#undo').disabled")
    page.locator("#timeline .segment").first.focus()
    page.keyboard.press("Control+z")
    assert _undo_count(page) == 0
    assert _saved(server, first["id"])["title"] == "Mañana, 東京"

    _open(page, server, first["id"])  # back: its history is still there
    wait_until(page, "!document.querySelector('#undo').disabled")
    page.locator("#timeline .segment").first.focus()
    page.keyboard.press("Control+z")
    assert _undo_count(page) == 0
    assert _saved(server, first["id"])["title"] == "Reorder me"
    assert page.input_value("#title") == "Reorder me"
    assert page.inner_text("#project-heading") == "Reorder me"
    page.keyboard.press("Control+y")
    assert _undo_count(page) == 1
    assert _saved(server, first["id"])["title"] == "Mañana, 東京"


def test_the_save_state_shows_at_phone_width(live_server: Callable[..., LiveServer],
                                             page: Any) -> None:
    """At phone width the save state is one sign beside the title, and says the words to a
    screen reader: saving, saved, or not saved."""
    server = live_server()
    project = _project(server, ["A first line."])
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/#/project/{project['id']}")
    page.wait_for_selector("#editor:not([hidden]) .segment")
    page.fill(".seg-text", "A first line, changed on a phone.")
    page.locator(".seg-text").blur()
    wait_until(page, "document.querySelector('#save-state').classList.contains('ok')")
    sign = "getComputedStyle(document.querySelector('#save-state'), '::before').content"
    assert page.evaluate(sign) == '"✓"'
    box = page.locator("#save-state").bounding_box()
    assert box is not None and box["width"] > 4 and box["height"] > 4
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and 0 <= box["y"] < 60
    title = page.locator("#title").bounding_box()
    assert title is not None and title["width"] > 80  # the title keeps its room
    assert page.text_content("#save-state") == "All changes saved"
    # A save that fails shows its own sign (the studio answering 500 to it).
    page.route("**/api/projects/*/segments/*/", lambda route: route.fulfill(
        status=500, content_type="application/json", body='{"detail": "disk full"}')
        if route.request.method == "PATCH" else route.continue_())
    page.fill(".seg-text", "Typed while the studio cannot save.")
    page.locator(".seg-text").blur()
    wait_until(page, "document.querySelector('#save-state').classList.contains('bad')")
    assert page.evaluate(sign) == '"!"'
    assert page.text_content("#save-state") == "Not saved"
