"""What a re-render reuses besides parts: narration facts, and the sound track's thread.

A narration's analysis (its length, where the voice speaks, when each word is said)
is kept in the cache by the hash of its contents and its text, so a re-render of
an unchanged narration neither decodes nor aligns it; the sound track is encoded on
a thread of its own while the parts are encoded, and stops and is joined with the
render.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

import storyreel
from media import SegmentSpec, all_files, write_project
from storyreel.errors import MediaError
from storyreel.render import analysis, job

TEXTS = ["The lighthouse keeper counted ships.", "Fog rolled over the harbour at dusk.",
         "A bell rang twice from the old chapel."]
NEW_TEXT = "Fog rolled in over the harbour."


def captioned(folder: Path, **settings: Any) -> Path:
    specs = [SegmentSpec(seconds=0.8, text=text) for text in TEXTS]
    return write_project(folder, specs, settings={"subtitles": {"enabled": True},
                                                  "loudness": {"enabled": True}, **settings},
                         width=160, height=90, fps=25)


def opened_files(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Path]:
    """Record the file each call of ``module.name`` opens (its first argument)."""
    opened: list[Path] = []
    real = getattr(module, name)

    def spy(path: Path, *args: Any, **kwargs: Any) -> Any:
        opened.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return opened


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every narration the analysis decodes."""
    return opened_files(monkeypatch, analysis, "_narration")


def test_unchanged_narrations_are_not_decoded_again(project_dir: Path, out_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = captioned(project_dir)
    decoded = count_decodes(monkeypatch)
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    assert len(decoded) == len(TEXTS)
    decoded.clear()
    again = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4")
    assert decoded == []
    assert again.words == first.words and again.frames == first.frames
    assert all(len(w.words) == len(t.split()) for w, t in zip(again.words, TEXTS, strict=True))

    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["segments"][1]["text"] = NEW_TEXT
    manifest.write_text(json.dumps(data), encoding="utf-8")
    edited = storyreel.render(storyreel.load_project(manifest), out_dir / "c.mp4")
    assert decoded == [project_dir / "audio" / "002.wav"]  # its words are placed anew
    assert [w.text for w in edited.words[1].words] == NEW_TEXT.split()
    assert edited.words[0] == first.words[0] and edited.words[2] == first.words[2]


def test_a_changed_recording_is_analysed_again(project_dir: Path, out_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = captioned(project_dir)
    storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    longer = [SegmentSpec(seconds=0.8, text=t) for t in TEXTS]
    longer[0] = SegmentSpec(seconds=1.6, text=TEXTS[0])
    other = write_project(project_dir / "other", longer, width=160, height=90, fps=25)
    (project_dir / "audio" / "001.wav").write_bytes(
        (other.parent / "audio" / "001.wav").read_bytes())
    decoded = count_decodes(monkeypatch)
    result = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4")
    assert decoded == [project_dir / "audio" / "001.wav"]
    assert result.narration_starts[1] > 1.6 * 48_000


def test_damaged_facts_are_found_again(project_dir: Path, out_dir: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = captioned(project_dir)
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    kept = sorted((project_dir / ".storyreel-cache").glob("facts/*/*.facts"))
    facts = [f for f in kept if '"length"' in f.read_text(encoding="utf-8")]  # narrations'
    assert len(facts) == len(TEXTS)
    facts[0].write_text("{not json", encoding="utf-8")
    facts[1].write_text(json.dumps({"length": "many", "words": 3}), encoding="utf-8")
    decoded = count_decodes(monkeypatch)
    again = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4")
    assert len(decoded) == 2
    assert again.words == first.words


def test_no_cache_keeps_no_facts(project_dir: Path, out_dir: Path) -> None:
    manifest = captioned(project_dir)
    storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4", cache=False)
    assert not (project_dir / ".storyreel-cache").exists()


def sound_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the thread each sound track is made on."""
    names: list[str] = []
    real = job.Job.make_sound

    def spy(self: job.Job, *args: Any, **kwargs: Any) -> Any:
        names.append(threading.current_thread().name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(job.Job, "make_sound", spy)
    return names


def test_sound_is_made_beside_the_parts_and_alone_when_they_are_reused(
        project_dir: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = captioned(project_dir)
    names = sound_threads(monkeypatch)
    seen: list[storyreel.Progress] = []
    storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4",
                     on_progress=seen.append)
    assert names == ["storyreel-sound_0"]
    assert "loudness" not in {p.phase for p in seen}  # measured meanwhile, on its thread
    # Only the sound changed: every part is reused, the track is made in the open.
    seen.clear()
    result = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4",
                              loudness={"target": -18.0}, on_progress=seen.append)
    assert names[1] == threading.current_thread().name
    assert result.chunks_encoded == 0
    assert "loudness" in {p.phase for p in seen}
    assert result.loudness is not None and abs(result.loudness + 18) < 1.5


def test_a_failing_sound_track_fails_the_render_and_leaves_nothing(
        project_dir: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = captioned(project_dir)
    storyreel.render(storyreel.load_project(captioned(project_dir / "warm")),
                     out_dir / "warm-up.mp4")
    threads = threading.active_count()

    def broken(self: job.Job, *args: Any, **kwargs: Any) -> Any:
        raise MediaError("narration does not decode", path=project_dir / "audio" / "002.wav",
                         segment=2)

    monkeypatch.setattr(job.Job, "make_sound", broken)
    with pytest.raises(MediaError, match="does not decode"):
        storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    assert all_files(out_dir) == {"warm-up.mp4"}
    assert threading.active_count() == threads, threading.enumerate()
    assert not any(t.name.startswith("storyreel-sound") for t in threading.enumerate())


def test_cancelling_stops_the_sound_track_too(project_dir: Path, out_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [SegmentSpec(seconds=6.0, text=t) for t in TEXTS]
    manifest = write_project(project_dir, specs, settings={"loudness": {"enabled": True}},
                             width=160, height=90, fps=25)
    cancel = threading.Event()
    stopped: list[str] = []
    real = job.Job.make_sound

    def held(self: job.Job, *args: Any, **kwargs: Any) -> Any:
        cancel.wait(30)  # the track is still to make when the user cancels
        try:
            return real(self, *args, **kwargs)
        except storyreel.RenderCancelled:
            stopped.append(threading.current_thread().name)
            raise

    monkeypatch.setattr(job.Job, "make_sound", held)

    def on_progress(progress: storyreel.Progress) -> None:
        if progress.phase == "export" and progress.done > 0:
            cancel.set()

    with pytest.raises(storyreel.RenderCancelled):
        storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4", cancel=cancel,
                         on_progress=on_progress, cache=False)
    assert stopped == ["storyreel-sound_0"]
    assert all_files(out_dir) == set()
    assert not any(t.name.startswith("storyreel-sound") for t in threading.enumerate())


def test_each_still_is_prepared_once_though_two_parts_show_it(
        project_dir: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from storyreel.frames import pictures

    specs = [SegmentSpec(seconds=1.2, text=t) for t in TEXTS]
    manifest = write_project(project_dir, specs, settings={"transitions": {"crossfade": 0.3}},
                             width=160, height=90, fps=25)
    loaded = opened_files(monkeypatch, pictures, "load_framed")
    result = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4", cache=False)
    assert result.chunks_encoded == len(TEXTS)  # the crossfades end parts 1 and 2
    assert sorted(loaded) == sorted(project_dir / "images" / f"{i:03d}.png"
                                    for i in range(1, len(TEXTS) + 1))


def test_a_cancel_mid_render_keeps_only_whole_parts(
        project_dir: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import av

    from storyreel.render import parts

    specs = [SegmentSpec(seconds=1.0, text=t) for t in TEXTS]
    manifest = write_project(project_dir, specs, width=160, height=90, fps=25)
    cancel = threading.Event()
    real = parts.encode_part
    started: list[int] = []

    def cancelled_in_the_second(job: Any, *args: Any, **kwargs: Any) -> Any:
        started.append(job.chunk.index)
        if len(started) == 2:
            cancel.set()  # the user cancels as the second part starts
        return real(job, *args, **kwargs)

    monkeypatch.setattr(parts, "encode_part", cancelled_in_the_second)
    with pytest.raises(storyreel.RenderCancelled):
        storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4", cancel=cancel)
    assert started == [0, 1]
    assert all_files(out_dir) == set()
    kept = sorted((project_dir / ".storyreel-cache").glob("parts/*/*.mp4"))
    assert len(kept) == 1
    with av.open(str(kept[0])) as container:  # the whole first part, nothing cut short
        assert sum(1 for _ in container.decode(video=0)) == container.streams.video[0].frames
    assert not list((project_dir / ".storyreel-cache").glob("work/*"))
    monkeypatch.setattr(parts, "encode_part", real)
    again = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4")
    assert (again.chunks_reused, again.chunks_encoded) == (1, len(TEXTS) - 1)
