"""The narration step: segments without a recording are spoken, through the cache."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from media import write_solid, write_tone_wav
from storyreel import Project
from storyreel.errors import RenderCancelled, ValidationFailed
from storyreel.model.load import project_from_dict
from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.fake import FakeEngine
from storyreel.voice.narrate import Narrator, narrate_project


def _project(folder: Path, segments: list[dict[str, Any]], **settings: Any) -> Project:
    for i, segment in enumerate(segments):
        segment.setdefault("image", write_solid(folder / f"{i}.png", (64, 36), (9, 9, 9)).name)
    return project_from_dict({"segments": segments, "settings": settings}, base_dir=folder)


def _narrator(folder: Path, engine: FakeEngine) -> Narrator:
    return Narrator(NarrationCache(folder / "cache"), engines=lambda voice: engine)


def test_only_segments_without_a_recording_are_spoken(tmp_path: Path) -> None:
    recorded = write_tone_wav(tmp_path / "rec.wav", 0.5)
    project = _project(tmp_path, [{"text": "First words here."},
                                  {"audio": recorded.name, "text": "Recorded one."},
                                  {"text": "Third and last."}])
    engine = FakeEngine()
    with narrate_project(project, _narrator(tmp_path, engine)) as narrated:
        segments = narrated.project.segments
        assert narrated.synthesised == [0, 2]
        assert segments[1].audio == recorded.resolve()
        assert segments[0].audio is not None and segments[0].audio.is_file()
        assert segments[2].audio is not None and segments[2].audio.is_file()
        held = segments[0].audio
        assert sorted(narrated.words) == [0, 2]
        words = narrated.words[0]
        assert words.source == "engine"
        assert [w.text for w in words.words] == ["First", "words", "here."]
    assert engine.calls == 2
    assert not held.exists()  # the render's hold ends with the block


def test_edits_to_one_segment_never_resynthesise_another(tmp_path: Path) -> None:
    engine = FakeEngine()
    narrator = _narrator(tmp_path, engine)
    first = _project(tmp_path, [{"text": "Alpha story."}, {"text": "Beta story."}])
    with narrate_project(first, narrator):
        pass
    edited = _project(tmp_path, [{"text": "Alpha story."}, {"text": "Beta story, edited."}])
    with narrate_project(edited, narrator):
        pass
    assert engine.calls == 3


def test_per_segment_voice_override_is_used(tmp_path: Path) -> None:
    seen: list[Voice] = []
    engine = FakeEngine()

    def engines(voice: Voice) -> FakeEngine:
        seen.append(voice)
        return engine

    project = _project(tmp_path, [{"text": "One.", "voice": {"voice": "hum", "speed": 1.5}},
                                  {"text": "Two."}], voice={"voice": "buzz"})
    with narrate_project(project, Narrator(NarrationCache(tmp_path), engines=engines)):
        pass
    assert {(v.voice, v.speed) for v in seen} == {("hum", 1.5), ("buzz", 1.0)}


def test_every_segment_that_cannot_be_spoken_is_named(tmp_path: Path) -> None:
    project = _project(tmp_path, [{"text": "Fine words."}, {"text": "   "},
                                  {"text": "This has BOOM inside."}])
    engine = FakeEngine(fail_on="BOOM")
    with pytest.raises(ValidationFailed) as info, \
            narrate_project(project, _narrator(tmp_path, engine)):
        pass
    problems = info.value.problems
    assert [p.segment for p in problems] == [2, 3]
    assert "neither a recording nor text" in problems[0].message
    assert "BOOM" in problems[1].message


def test_cancel_mid_synthesis_leaves_no_wav(tmp_path: Path) -> None:
    cancel = threading.Event()
    engine = FakeEngine(on_synthesise=lambda text: cancel.set())
    project = _project(tmp_path, [{"text": "Never finished."}])

    def check() -> None:
        if cancel.is_set():
            raise RenderCancelled("render cancelled")

    narrator = _narrator(tmp_path, engine)
    with pytest.raises(RenderCancelled), narrate_project(project, narrator, cancel=check):
        pass
    assert engine.calls == 1
    leftovers = list((tmp_path / "cache").rglob("*"))
    assert [p for p in leftovers if p.is_file()] == []


def test_progress_counts_the_segments_spoken(tmp_path: Path) -> None:
    project = _project(tmp_path, [{"text": "One two."}, {"text": "Three four."}])
    started: list[int] = []
    done: list[int] = []
    with narrate_project(project, _narrator(tmp_path, FakeEngine()), on_start=started.append,
                         on_segment=done.append):
        pass
    assert started == [2]
    assert done == [1, 2]


def test_the_speaker_is_given_each_missing_text_once(tmp_path: Path) -> None:
    """The seam: the narrator hands what its cache lacks to its speaker, one job per key."""
    from collections.abc import Callable, Sequence

    from storyreel.voice.speaker import LocalSpeaker, OnSpoken, SpeechJob

    engine = FakeEngine()
    given: list[list[int | None]] = []

    class Recording(LocalSpeaker):
        def __call__(self, jobs: Sequence[SpeechJob], cache: NarrationCache,
                     cancel: Callable[[], None] | None, on_spoken: OnSpoken) -> None:
            given.append([job.segment for job in jobs])
            super().__call__(jobs, cache, cancel, on_spoken)

    narrator = Narrator(NarrationCache(tmp_path / "cache"),
                        speaker=Recording(lambda voice: engine), engines=lambda voice: engine)
    project = _project(tmp_path, [{"text": "Same words."}, {"text": "Other words."},
                                  {"text": "Same words."}])
    done: list[int] = []
    with narrate_project(project, narrator, on_segment=done.append) as narrated:
        assert narrated.synthesised == [0, 1, 2]
        assert narrated.project.segments[0].audio == narrated.project.segments[2].audio
    assert given == [[1, 2]]
    assert engine.calls == 2
    assert done == [1, 2, 3]
    with narrate_project(project, narrator):
        pass
    assert given == [[1, 2]]  # all cached: the speaker is not asked again
