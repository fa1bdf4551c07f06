"""In Chromium: a render says the text as the page shows it, and a recording never replaces
a narration without asking. Needs Debian's ``chromium`` (see ``test_browser``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from soundkit import decoded_sound, fresh_speech, likeness
from studiokit import TINY, LiveServer, png_bytes, wav_bytes
from test_browser import Watch, _shoot, page, screenshot_folder, wait_until

__all__ = ["page"]  # the Chromium page fixture, imported to be used here

OLD = "The keeper lit the lamp at dusk."
NEW = "The keeper lit the lantern at dusk."  # one word changed
NARRATIONS = "[...document.querySelectorAll('.seg-narration')].map((n) => n.textContent)"


def _project(server: LiveServer) -> dict[str, Any]:
    """A project of two pictured segments, made through the API."""
    body = {"title": "Keeper", **TINY,
            "segments": [{"text": "Night fell on the island."}, {"text": OLD}]}
    project: dict[str, Any] = httpx.post(f"{server.url}/api/projects/", json=body).json()
    for segment in project["segment_list"]:
        url = f"{server.url}/api/projects/{project['id']}/segments/{segment['id']}/image/"
        sent = httpx.post(url, files={"file": ("a.png", png_bytes(), "image/png")})
        assert sent.status_code == 200, sent.text
    return project


def _draft(page: Any, server: LiveServer, pid: int, folder: Path, name: str) -> Path:
    """Press "Draft", wait for the video the page then shows, and download it."""
    shown = page.evaluate("document.querySelector('#video').getAttribute('src') || ''")
    page.click("#render-draft")
    wait_until(page, "document.querySelector('#video-info .tag')?.textContent === 'Draft'"
               f" && (document.querySelector('#video').getAttribute('src') || '') !== '{shown}'",
               timeout=240)
    status = httpx.get(f"{server.url}/api/projects/{pid}/status/").json()
    assert status["status"] == "completed" and status["video_url"] != shown, status
    path = folder / name
    path.write_bytes(httpx.get(server.url + status["video_url"]).content)
    return path


def test_a_render_after_an_edit_speaks_the_new_word(live_server: Callable[..., LiveServer],
                                                    page: Any, tmp_path: Path) -> None:
    server = live_server()
    shots = screenshot_folder(tmp_path)
    watch = Watch(page)
    project = _project(server)
    pid = project["id"]
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#narrate-missing:not([hidden])")
    page.click("#narrate-missing")
    wait_until(page, f"{NARRATIONS}.every((t) => t === 'Spoken by the voice')", timeout=120)
    before = _draft(page, server, pid, tmp_path, "before.mp4")

    text = page.locator(".segment .seg-text").nth(1)
    text.fill(OLD.replace("dusk", "dawn"))
    wait_until(page, f"{NARRATIONS}[1].startsWith('Out of date')")
    page.wait_for_selector("#save-state.ok")
    _shoot(page, shots, "narration-01-out-of-date")
    text.fill(NEW)  # and "Draft" at once, before the pause that saves typing
    after = _draft(page, server, pid, tmp_path, "after.mp4")
    assert text.input_value() == NEW
    wait_until(page, f"{NARRATIONS}.every((t) => t === 'Spoken by the voice')")
    _shoot(page, shots, "narration-02-spoken-again")

    old_speech = fresh_speech(OLD, tmp_path / "voice")
    new_speech = fresh_speech(NEW, tmp_path / "voice")
    sound_before, sound_after = decoded_sound(before), decoded_sound(after)
    assert len(sound_before) != len(sound_after) or not (sound_before == sound_after).all()
    assert likeness(sound_before, old_speech) > 0.8
    assert likeness(sound_after, new_speech) > 0.8
    assert likeness(sound_after, old_speech) < 0.6
    assert watch.problems == []


def test_a_recording_asks_before_it_replaces_a_narration(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    shots = screenshot_folder(tmp_path)
    watch = Watch(page)
    project = _project(server)
    pid, first = project["id"], project["segment_list"][0]["id"]
    page.goto(f"{server.url}/#/project/{pid}")
    page.wait_for_selector("#narrate-missing:not([hidden])")
    page.click("#narrate-missing")
    wait_until(page, f"{NARRATIONS}.every((t) => t === 'Spoken by the voice')", timeout=120)
    spoken = httpx.get(f"{server.url}/api/projects/{pid}/").json()["segment_list"][0]
    recording = tmp_path / "mine.wav"
    recording.write_bytes(wav_bytes(tmp_path, 2.0, seed=5))
    audio_input = f"#segment-{first} .seg-audio input[type=file]"

    page.set_input_files(audio_input, str(recording))
    page.wait_for_selector("#dialog[open]")
    assert page.inner_text("#dialog-title") == "Replace the narration?"
    assert "spoken by the voice" in page.inner_text("#dialog-text")
    _shoot(page, shots, "narration-03-replace-asked")
    page.click("#dialog-cancel")
    page.wait_for_selector("#dialog:not([open])", state="attached")
    kept = httpx.get(f"{server.url}/api/projects/{pid}/").json()["segment_list"][0]
    assert kept == spoken  # declined: nothing was sent
    assert page.inner_text("#save-state") == "All changes saved"

    page.set_input_files(audio_input, str(recording))
    page.wait_for_selector("#dialog[open]")
    page.click("#dialog-ok")
    wait_until(page, f"document.querySelector('#segment-{first} .audio-state')"
               ".textContent.includes('2.0 s')")
    replaced = httpx.get(f"{server.url}/api/projects/{pid}/").json()["segment_list"][0]
    assert replaced["narration"] == "recorded" and replaced["audio"]["duration"] == 2.0

    page.locator(f"#segment-{first} .seg-text").fill("Night fell on the whole island.")
    label = f"#segment-{first} .seg-narration"
    wait_until(page, f"document.querySelector('{label}').textContent.startsWith('Your recording')")
    assert "text changed" in page.inner_text(label)
    assert "warn" in (page.get_attribute(label, "class") or "")
    _shoot(page, shots, "narration-07-recording-kept")
    assert watch.problems == []


def _planned_seconds(server: LiveServer, project: int, above: float) -> float:
    """The video's length as the studio plans it, once it is over ``above`` seconds."""
    deadline = time.monotonic() + 30
    while True:
        seconds = float(httpx.get(f"{server.url}/api/projects/{project}/frames/")
                        .json()["seconds"])
        if seconds > above or time.monotonic() > deadline:
            return seconds
        time.sleep(0.1)


def test_the_page_follows_typing_and_renders_without_a_reload(
        live_server: Callable[..., LiveServer], page: Any, tmp_path: Path) -> None:
    server = live_server()
    shots = screenshot_folder(tmp_path)
    watch = Watch(page)
    body = {"title": "Ready one", **TINY, "segments": [{"text": ""}]}
    ready = httpx.post(f"{server.url}/api/projects/", json=body).json()
    sid = ready["segment_list"][0]["id"]
    sent = httpx.post(f"{server.url}/api/projects/{ready['id']}/segments/{sid}/image/",
                      files={"file": ("a.png", png_bytes(), "image/png")})
    assert sent.status_code == 200
    httpx.post(f"{server.url}/api/projects/",
               json={"title": "Waiting one", **TINY, "segments": [{"text": "No picture."}]})
    page.goto(f"{server.url}/#/project/{ready['id']}")
    page.wait_for_selector(".segment")
    meta = "document.querySelector('#project-meta').textContent"
    # The page says how long the video will be, as planned (gaps and fades included).
    empty = _planned_seconds(server, ready["id"], above=-1.0)
    assert empty < 1.0  # no words, no narration: hardly a video
    wait_until(page, f"{meta}.includes('about {empty:.1f} s')")
    assert page.inner_text(".seg-missing") == "Needs a narration"
    assert page.is_hidden("#narrate-missing")

    page.locator(".seg-text").fill("One two three four five")  # five words: about 2 s
    planned = _planned_seconds(server, ready["id"], above=empty + 1.0)
    assert 2.0 <= planned < 4.0
    wait_until(page, f"{meta}.includes('about {planned:.1f} s')")
    wait_until(page, "document.querySelector('.seg-missing').textContent === ''")
    wait_until(page, "!document.querySelector('#narrate-missing').hidden")
    assert page.inner_text("#narrate-missing") == "Generate narration (1)"
    assert "The voice will speak the text" in page.inner_text("#panel-body")
    _shoot(page, shots, "narration-04-typed")

    page.click("#render-all")
    page.wait_for_selector(".toast:has-text('Not queued')")
    notice = page.inner_text(".toast:has-text('Not queued')")
    assert "1 render queued." in notice
    assert "“Waiting one”" in notice and "segment 1 needs an image" in notice
    _shoot(page, shots, "narration-05-render-all")
    wait_until(page, "document.querySelector('#video-info .tag')?.textContent === 'Final'",
               timeout=240)
    wait_until(page, "document.querySelector('#narrate-missing').hidden")
    wait_until(page, f"!{meta}.includes('about')")
    spoken = httpx.get(f"{server.url}/api/projects/{ready['id']}/").json()
    assert spoken["duration"] > 1.0
    listed = page.inner_text(f".project-item[data-id='{ready['id']}']")
    assert f"{spoken['duration']:.1f} s" in listed
    _shoot(page, shots, "narration-06-rendered")
    assert watch.problems == []
