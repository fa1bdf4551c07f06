"""Two windows on one project in Chromium: a stale save gets a 412, the page offers the choice,
and nothing typed is lost (see ``test_browser`` for the browser it needs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from browserkit import hold_answer
from studiokit import LiveServer
from test_browser import SCREENS, page, screenshot_folder, wait_until

__all__ = ["page"]  # the fixture, imported to be used here

TEXT = ".segment:nth-child(1) .seg-text"
CHAPTER = ".segment:nth-child(1) .seg-chapter"


def _open(tab: Any, server: LiveServer, project_id: int) -> None:
    tab.goto(f"{server.url}/#/project/{project_id}")
    tab.wait_for_selector("#editor:not([hidden]) .segment")


def _type(tab: Any, selector: str, text: str) -> None:
    """Type into a field and leave it, which saves at once."""
    tab.fill(selector, text)
    tab.locator(selector).blur()


def _shoot_dialog(tab: Any, folder: Path, name: str) -> None:
    """Photograph the open conflict dialog at the desktop and the phone size; it must fit."""
    for screen, size in SCREENS.items():
        tab.set_viewport_size(size)
        tab.wait_for_timeout(150)  # let the layout settle after the resize
        tab.screenshot(path=str(folder / f"{name}-{screen}.png"))
        box = tab.locator("#conflict").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
        assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"]
        assert tab.locator("#conflict-keep-mine").is_visible()
    tab.set_viewport_size(SCREENS["desktop"])


def _saved(server: LiveServer, project_id: int) -> dict[str, Any]:
    return dict(httpx.get(f"{server.url}/api/projects/{project_id}/").json())


def test_two_windows_editing_one_segment_end_with_a_choice_and_nothing_lost(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    project = httpx.post(f"{server.url}/api/projects/", json={
        "title": "Two windows", "segments": [{"text": "The original words."},
                                             {"text": "A second segment."}]}).json()
    pid = project["id"]
    first, second = page, page.context.new_page()
    statuses: list[tuple[str, int]] = []
    for tab, name in ((first, "first"), (second, "second")):
        tab.on("response", lambda r, name=name: statuses.append((name, r.status))
               if r.request.method == "PATCH" else None)
        _open(tab, server, pid)

    # The first window saves its edit; the second still shows the original words.
    _type(first, TEXT, "The first window's words.")
    wait_until(first, "document.querySelector('#save-state').classList.contains('ok')")
    assert _saved(server, pid)["segment_list"][0]["text"] == "The first window's words."
    assert second.input_value(TEXT) == "The original words."

    # The second window types over the old words: the server refuses the stale save
    # and the page asks, keeping what was typed.
    _type(second, TEXT, "The second window's words, typed over the old ones.")
    second.wait_for_selector("#conflict[open]")
    assert ("second", 412) in statuses
    assert second.inner_text("#conflict-theirs") == "The first window's words."
    assert second.inner_text("#conflict-mine") == \
        "The second window's words, typed over the old ones."
    assert second.input_value(TEXT) == "The second window's words, typed over the old ones."
    assert _saved(server, pid)["segment_list"][0]["text"] == "The first window's words."
    _shoot_dialog(second, screenshot_folder(tmp_path), "conflict-text")

    # Keep mine: sent again with the new version; a reload shows it.
    second.click("#conflict-keep-mine")
    wait_until(second, "document.querySelector('#save-state').classList.contains('ok')")
    assert _saved(server, pid)["segment_list"][0]["text"] == \
        "The second window's words, typed over the old ones."
    first.reload()
    first.wait_for_selector("#editor:not([hidden]) .segment")
    assert first.input_value(TEXT) == "The second window's words, typed over the old ones."

    # Another field changed elsewhere does not stop a save, nor is it undone: the
    # second window's save goes through and then shows the first window's chapter.
    statuses.clear()
    _type(first, CHAPTER, "Part one")
    wait_until(first, "document.querySelector('#save-state').classList.contains('ok')")
    _type(second, TEXT, "Third words.")
    wait_until(second, "document.querySelector('#save-state').classList.contains('ok')")
    saved = _saved(server, pid)["segment_list"][0]
    assert (saved["text"], saved["chapter"]) == ("Third words.", "Part one")
    assert ("second", 412) in statuses and not second.is_visible("#conflict")
    wait_until(second, f"document.querySelector('{CHAPTER}').value === 'Part one'")

    # Now the first window is the stale one; it takes the second window's version.
    _type(first, TEXT, "First thoughts.")
    first.wait_for_selector("#conflict[open]")
    assert first.inner_text("#conflict-theirs") == "Third words."
    assert first.inner_text("#conflict-mine") == "First thoughts."
    first.click("#conflict-take-theirs")
    wait_until(first, "!document.querySelector('#conflict').open")
    wait_until(first, f"document.querySelector('{TEXT}').value === 'Third words.'")
    wait_until(first, "document.querySelector('#save-state').classList.contains('ok')")
    assert _saved(server, pid)["segment_list"][0]["text"] == "Third words."
    first.reload()
    first.wait_for_selector("#editor:not([hidden]) .segment")
    assert first.input_value(TEXT) == "Third words."
    assert first.input_value(CHAPTER) == "Part one"
    assert first.input_value(".segment:nth-child(2) .seg-text") == "A second segment."


def test_escape_keeps_what_was_typed_unsaved(live_server: Callable[..., LiveServer],
                                            page: Any) -> None:
    server = live_server()
    project = httpx.post(f"{server.url}/api/projects/", json={
        "title": "Later", "segments": [{"text": "Start."}]}).json()
    pid = project["id"]
    _open(page, server, pid)
    sid = project["segment_list"][0]["id"]
    httpx.patch(f"{server.url}/api/projects/{pid}/segments/{sid}/", json={"text": "Elsewhere."})
    _type(page, TEXT, "Typed here.")
    page.wait_for_selector("#conflict[open]")
    page.keyboard.press("Escape")
    wait_until(page, "!document.querySelector('#conflict').open")
    wait_until(page, "document.querySelector('#save-state').classList.contains('bad')")
    assert page.input_value(TEXT) == "Typed here."
    assert _saved(server, pid)["segment_list"][0]["text"] == "Elsewhere."


def test_two_windows_changing_the_title_and_a_setting(live_server: Callable[..., LiveServer],
                                                      page: Any, tmp_path: Path) -> None:
    server = live_server()
    project = httpx.post(f"{server.url}/api/projects/", json={
        "title": "First name", "segments": [{"text": "Words."}]}).json()
    pid = project["id"]
    first, second = page, page.context.new_page()
    for tab in (first, second):
        _open(tab, server, pid)

    _type(first, "#title", "Renamed in the first window")
    wait_until(first, "document.querySelector('#save-state').classList.contains('ok')")
    _type(second, "#title", "Renamed in the second window")
    second.wait_for_selector("#conflict[open]")
    assert second.inner_text("#conflict-title") == "The title was changed in another window"
    assert second.inner_text("#conflict-theirs") == "Renamed in the first window"
    assert second.inner_text("#conflict-mine") == "Renamed in the second window"
    _shoot_dialog(second, screenshot_folder(tmp_path), "conflict-title")
    second.click("#conflict-keep-mine")
    wait_until(second, "document.querySelector('#save-state').classList.contains('ok')")
    assert _saved(server, pid)["title"] == "Renamed in the second window"

    # The first window, now stale, changes a setting: the title did not change there, so
    # the save goes through without asking, and the page then shows the new title.
    first.click('#panel-tabs [data-panel="motion"]')
    zoom = '#panel-body [data-path="settings.ken_burns.zoom"]'
    first.wait_for_selector(zoom)
    _type(first, zoom, "1.45")
    wait_until(first, "document.querySelector('#save-state').classList.contains('ok')")
    saved = _saved(server, pid)
    assert saved["title"] == "Renamed in the second window"
    assert saved["options"]["settings"]["ken_burns"]["zoom"] == 1.45
    assert not first.is_visible("#conflict")
    wait_until(first, "document.querySelector('#title').value === "
                      "'Renamed in the second window'")


def _rows(tab: Any) -> list[int]:
    return [int(i) for i in tab.evaluate(
        "[...document.querySelectorAll('.segment')].map((row) => row.dataset.id)")]


def test_a_stale_window_never_undoes_an_order_or_deletes_unseen_words(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    server = live_server()
    project = httpx.post(f"{server.url}/api/projects/", json={
        "title": "Order", "segments": [{"text": t} for t in ("One.", "Two.", "Three.")]}).json()
    pid = project["id"]
    one, two, three = (s["id"] for s in project["segment_list"])
    api = f"{server.url}/api/projects/{pid}"
    _open(page, server, pid)

    # Only a setting changed elsewhere: the move is sent again and kept, and the setting
    # shows its new value.
    page.click('#panel-tabs [data-panel="motion"]')
    gap = '#panel-body [data-path="settings.gap"]'
    page.wait_for_selector(gap)
    httpx.patch(f"{api}/", json={"settings": {"gap": 0.8}})
    page.focus(f"#segment-{one}")
    page.keyboard.press("Alt+ArrowDown")
    wait_until(page, f"document.querySelector('.segment:nth-child(2)').id === 'segment-{one}'")
    wait_until(page, "document.querySelector('#save-state').classList.contains('ok')")
    assert [s["id"] for s in _saved(server, pid)["segment_list"]] == [two, one, three]
    assert abs(float(page.input_value(gap)) / float(page.get_attribute(gap, "data-scale") or 1)
               - 0.8) < 1e-9

    # The order changed elsewhere: the page says so and shows that order, undoing nothing.
    httpx.put(f"{api}/segments/order/", json={"order": [three, two, one]})
    page.focus(f"#segment-{one}")
    page.keyboard.press("Alt+ArrowUp")
    page.wait_for_selector(".toast.error")
    assert "changed in another window" in page.inner_text(".toast.error")
    wait_until(page, f"[...document.querySelectorAll('.segment')].map((r) => +r.dataset.id)"
                     f".join() === '{three},{two},{one}'")
    assert [s["id"] for s in _saved(server, pid)["segment_list"]] == [three, two, one]

    # A segment whose words changed elsewhere is not deleted without asking.
    httpx.patch(f"{api}/segments/{two}/", json={"text": "Two, rewritten elsewhere."})
    page.click(f"#segment-{two} .remove")
    page.wait_for_selector("#dialog[open]")
    assert "Two, rewritten elsewhere." in page.inner_text("#dialog-text")
    page.click("#dialog-cancel")
    wait_until(page, f"document.querySelector('#segment-{two} .seg-text')?.value === "
                     "'Two, rewritten elsewhere.'")
    assert len(_saved(server, pid)["segment_list"]) == 3
    assert _rows(page) == [three, two, one]


def test_a_late_read_of_the_project_left_changes_nothing_in_the_one_opened(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    """Another project is opened while a change to this one is saved: the read of this one
    that follows the save, answered before the other's, neither keeps the page on this one
    nor puts this one's versions in place of the other's."""
    server = live_server()
    first = httpx.post(f"{server.url}/api/projects/", json={
        "title": "Cards", "segments": [{"text": "A card."}]}).json()
    second = httpx.post(f"{server.url}/api/projects/", json={
        "title": "The other story", "segments": [{"text": "Its only line."}]}).json()
    card, line = first["segment_list"][0]["id"], second["segment_list"][0]["id"]
    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda r: sent.append((r.url, r.headers.get("if-match")))
            if r.method == "PATCH" else None)
    _open(page, server, first["id"])
    page.click(f"#segment-{card} .seg-number")
    page.wait_for_selector("#clip-card-title")
    # The card's save is answered 1 s late and the other project's read 1.5 s late, so
    # this project is read again (after the save) before the other one's read is back.
    hold_answer(page, "PATCH", f"/segments/{card}/", 1000)
    hold_answer(page, "GET", f"/api/projects/{second['id']}/", 1500)
    page.fill("#clip-card-title", "Chapter one")
    page.dispatch_event("#clip-card-title", "change")
    page.evaluate(f"location.hash = '#/project/{second['id']}'")
    wait_until(page, "window.held === 0")
    wait_until(page, f"document.querySelector('#segment-{line}') !== null")
    page.wait_for_timeout(300)  # anything still on its way
    assert page.input_value("#title") == "The other story"
    assert page.locator(f"#segment-{card}").count() == 0
    # The other project's save carries its own segment's version.
    _type(page, f"#segment-{line} .seg-text", "Its only line, changed.")
    wait_until(page, "document.querySelector('#save-state').classList.contains('ok')")
    tag = second["segment_list"][0]["etag"]
    assert (f"{server.url}/api/projects/{second['id']}/segments/{line}/", tag) in sent, sent
    assert _saved(server, second["id"])["segment_list"][0]["text"] == "Its only line, changed."
    assert _saved(server, first["id"])["segment_list"][0]["title"] == "Chapter one"


def test_a_late_read_of_the_project_keeps_the_newer_title(
        live_server: Callable[..., LiveServer], page: Any) -> None:
    """The read that follows a segment's save is answered after the title was changed
    and saved: the page keeps showing the newer title, and its next save of the project
    carries the project's newest version."""
    server = live_server()
    project = httpx.post(f"{server.url}/api/projects/", json={
        "title": "The first title", "segments": [{"text": "A card."}]}).json()
    pid, card = project["id"], project["segment_list"][0]["id"]
    sent: list[str | None] = []
    answers: list[int] = []
    page.on("request", lambda r: sent.append(r.headers.get("if-match"))
            if r.method == "PATCH" and r.url.endswith(f"/api/projects/{pid}/") else None)
    page.on("response", lambda r: answers.append(r.status)
            if r.request.method == "PATCH" and r.url.endswith(f"/api/projects/{pid}/")
            else None)
    _open(page, server, pid)
    page.click(f"#segment-{card} .seg-number")
    page.wait_for_selector("#clip-card-title")
    # Every read of the project from now on is answered 2 s late: those that follow the
    # card's save are all older than the title saved meanwhile.
    hold_answer(page, "GET", f"/api/projects/{pid}/", 2000, every=True)
    page.fill("#clip-card-title", "Chapter one")
    page.dispatch_event("#clip-card-title", "change")
    wait_until(page, "window.held >= 1")  # a read after the card's save is on its way
    # What the title field and the heading show, every 20 ms, from here on.
    page.evaluate("""() => {
        window.shown = [];
        const look = () => {
            const now = `${document.querySelector('#title').value}|` +
                document.querySelector('#project-heading').textContent;
            if (window.shown[window.shown.length - 1] !== now) window.shown.push(now);
        };
        look();
        window.watching = setInterval(look, 20);
    }""")
    _type(page, "#title", "A newer title")
    wait_until(page, "window.held === 0")
    page.wait_for_timeout(300)  # anything still on its way
    shown = page.evaluate("() => { clearInterval(window.watching); return window.shown; }")
    newer = shown.index("A newer title|A newer title")
    assert all("The first title" not in s for s in shown[newer:]), shown  # never went back
    assert page.input_value("#title") == "A newer title"
    assert page.inner_text("#project-heading") == "A newer title"
    assert _saved(server, pid)["title"] == "A newer title"
    newest = httpx.get(f"{server.url}/api/projects/{pid}/").headers["etag"]
    _type(page, "#title", "The newest title")
    wait_until(page, f"fetch('/api/projects/{pid}/').then((r) => r.json())"
                     ".then((p) => p.title === 'The newest title')")
    assert sent[-1] == newest, sent
    assert answers == [200, 200], answers  # each title saved at once, none refused (412)
    assert page.locator("#dialog[open]").count() == 0
