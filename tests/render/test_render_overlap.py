"""Encoding while the narrations are aligned: same output, same errors, no thread left.

With recorded narrations and burned-in captions, a render starts encoding once the
timeline's timing is known and aligns the narrations to their text meanwhile. These
tests render the same projects with and without that overlap and compare what a
decoder reads back, cancel in the middle of it, and break a recording while it runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mp4probe import audio_track, luma_frames

import storyreel
from media import write_corrupt_wav, write_exif_rotated_jpeg, write_manifest, write_textured
from media import write_wav as write_wav_file
from storyreel.errors import RenderCancelled, ValidationFailed
from storyreel.frames.pictures import PreparedStills
from storyreel.render import ahead as ahead_module
from storyreel.render import analysis as analysis_module
from storyreel.render.analysis import PendingWords
from storyreel.render.job import Job, JobOutcome
from storyreel.render.priority import FirstFrame
from storyreel.render.progress import Progress, ProgressReporter
from storyreel.voice.hibari import HibariEngine
from storyreel.voice.speaker import resample_to

TEXTS = ("The boat left the harbour at dawn.",
         "By noon the island was a grey line on the sea.",
         "We reached the lighthouse before dark.")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Spoken narrations stored as recordings at 22.05 kHz (not the render's 48 kHz)."""
    folder = tmp_path_factory.mktemp("recordings")
    engine = HibariEngine()
    paths = []
    for i, text in enumerate(TEXTS):
        speech = engine.synthesise(text, "heart", 1.0)
        samples = resample_to(speech.samples, speech.rate, 22_050)
        paths.append(write_wav_file(folder / f"{i}.wav", samples.astype(np.float64) * 0.8,
                                    22_050))
    return paths


def _project(folder: Path, recordings: list[Path]) -> Path:
    segments = []
    for i, (text, recording) in enumerate(zip(TEXTS, recordings, strict=True)):
        audio = folder / f"narration-{i}.wav"
        audio.write_bytes(recording.read_bytes())
        image = folder / f"photo-{i}.jpg"
        if i == 1:  # a phone photograph, stored sideways
            write_exif_rotated_jpeg(image, (120, 200), (200, 80, 40), (30, 60, 200))
        else:
            write_textured(image, (400, 300), seed=i)
        segments.append({"image": image.name, "audio": audio.name, "text": text})
    return write_manifest(folder, segments, title="Recorded", width=160, height=90, fps=12,
                          settings={"preset": "ultrafast", "gap": 0.3,
                                    "transitions": {"crossfade": 0.25},
                                    "subtitles": {"enabled": True, "sidecar": False},
                                    "loudness": {"enabled": True}})


def _render(manifest: Path, target: Path, *, overlap: bool,
            on_progress: Callable[[Progress], None] | None = None,
            cancel: threading.Event | None = None) -> JobOutcome:
    project = storyreel.load_project(manifest)
    return Job(project, target, ProgressReporter(on_progress, interval=0), cancel,
               overlap=overlap).run()


def _storyreel_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("storyreel")}


def test_only_the_words_are_left_for_later(project_dir: Path, out_dir: Path,
                                           recordings: list[Path]) -> None:
    project = storyreel.load_project(_project(project_dir, recordings))
    ahead = Job(project, out_dir / "a.mp4", ProgressReporter(None), None)
    story = ahead.analyse()
    assert ahead.analysis is not None
    assert [p.segment for p in ahead.analysis.pending] == [0, 1, 2]
    assert all(not w.words for w in ahead.analysis.words)
    assert ahead.analysis.speech == [[], [], []]
    first = Job(project, out_dir / "b.mp4", ProgressReporter(None), None, overlap=False)
    complete = first.analyse()
    assert first.analysis is not None and first.analysis.pending == []
    assert story.plan == complete.plan  # the timing needs no words
    assert first.analysis.narration_samples == ahead.analysis.narration_samples
    assert all(first.analysis.speech)


@pytest.mark.parametrize("held", [True, False], ids=["decoded-once", "decoded-again"])
def test_overlapped_render_matches_the_sequential_one(project_dir: Path, out_dir: Path,
                                                      recordings: list[Path], held: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The narrations decoded by the analysis are kept for the alignment thread within a
    budget; beyond it they are decoded again. Either way the output is the same."""
    if not held:
        monkeypatch.setattr(analysis_module, "_HOLD_BYTES", 0)
    manifest = _project(project_dir, recordings)
    phases: list[str] = []
    overlapped = _render(manifest, out_dir / "overlapped.mp4", overlap=True,
                         on_progress=lambda p: phases.append(p.phase))
    sequential = _render(manifest, out_dir / "sequential.mp4", overlap=False)
    assert phases.index("export") > phases.index("analyse")
    assert {w.source for w in overlapped.words} == {"aligned"}
    assert overlapped.words == sequential.words
    assert overlapped.story == sequential.story
    assert overlapped.story.captions  # captions are drawn, from the aligned words
    assert overlapped.parts_encoded == sequential.parts_encoded > 1
    a_path, b_path = out_dir / "overlapped.mp4", out_dir / "sequential.mp4"
    frames_a, frames_b = luma_frames(a_path), luma_frames(b_path)
    assert len(frames_a) == len(frames_b) == overlapped.story.plan.total_frames
    for a, b in zip(frames_a, frames_b, strict=True):
        np.testing.assert_array_equal(a, b)
    sound_a, rate_a = audio_track(a_path)
    sound_b, rate_b = audio_track(b_path)
    assert rate_a == rate_b == 48_000
    np.testing.assert_array_equal(sound_a, sound_b)
    assert overlapped.loudness == sequential.loudness
    assert a_path.read_bytes() == b_path.read_bytes()


@pytest.mark.parametrize("frames", [0, 3], ids=["before-the-first-frame", "mid-way"])
def test_cancel_during_the_overlap_leaves_no_thread(project_dir: Path, out_dir: Path,
                                                    recordings: list[Path], frames: int) -> None:
    """Cancelled while the helpers are held for the first frame, or while they work."""
    manifest = _project(project_dir, recordings)
    before = _storyreel_threads()
    cancel = threading.Event()

    def on_progress(progress: Progress) -> None:
        if progress.phase == "export" and progress.done >= frames:
            cancel.set()

    with pytest.raises(RenderCancelled):
        _render(manifest, out_dir / "cancelled.mp4", overlap=True, on_progress=on_progress,
                cancel=cancel)
    assert _storyreel_threads() <= before
    assert not (out_dir / "cancelled.mp4").exists()
    assert [p.name for p in out_dir.iterdir()] == []


def test_a_recording_broken_during_the_overlap_is_named(project_dir: Path, out_dir: Path,
                                                        recordings: list[Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The narration decoded when the render started breaks before it is decoded again
    for its words (none is kept from the analysis here): the same one-line error as when
    it is broken from the start, and nothing published."""
    monkeypatch.setattr(analysis_module, "_HOLD_BYTES", 0)
    manifest = _project(project_dir, recordings)
    broken = project_dir / "narration-2.wav"
    before = _storyreel_threads()

    def on_progress(progress: Progress) -> None:
        if progress.phase == "analyse" and progress.done == len(TEXTS):
            write_corrupt_wav(broken)  # analysed, not yet aligned

    with pytest.raises(ValidationFailed) as during:
        _render(manifest, out_dir / "broken.mp4", overlap=True, on_progress=on_progress)
    assert _storyreel_threads() <= before
    assert not (out_dir / "broken.mp4").exists()
    with pytest.raises(ValidationFailed) as upfront:
        _render(manifest, out_dir / "broken.mp4", overlap=False)
    assert str(during.value) == str(upfront.value)
    assert "\n" not in str(during.value)
    problem = during.value.problems[0]
    assert (problem.segment, problem.path, problem.field) == (3, broken, "audio")


def test_prepared_stills_are_shared_between_threads(project_dir: Path,
                                                    recordings: list[Path]) -> None:
    """A still asked for on two threads at once is prepared once, and both get it."""
    from storyreel.model.visual import Still

    project = storyreel.load_project(_project(project_dir, recordings))
    stills = PreparedStills()
    still = project.segments[0].visual
    assert isinstance(still, Still)
    got: list[object] = []
    start = threading.Barrier(4)

    def take() -> None:
        start.wait()
        got.append(stills.get(still, 0, 184, 104))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 4 and all(planes is got[0] for planes in got)


def test_every_platforms_video_gets_the_aligned_captions(project_dir: Path, out_dir: Path,
                                                         recordings: list[Path]) -> None:
    """The first video finds the words; the others are drawn from its complete story."""
    manifest = _project(project_dir, recordings)
    data = manifest.read_text(encoding="utf-8").replace(
        '"sidecar": false', '"sidecar": true').replace(
        '"preset": "ultrafast"', '"preset": "ultrafast", "platforms": ["youtube", "square"]')
    manifest.write_text(data, encoding="utf-8")
    result = storyreel.render(storyreel.load_project(manifest), out_dir / "story.mp4",
                              cache=False)
    assert [v.platform for v in result.videos] == ["youtube", "square"]
    assert {w.source for w in result.words} == {"aligned"}
    captions = [v.path.with_suffix(".srt").read_text(encoding="utf-8") for v in result.videos]
    assert captions[0] == captions[1]


def test_the_helpers_wait_for_the_first_frame(project_dir: Path, out_dir: Path,
                                              recordings: list[Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the first frame is with the encoder, only what the first part needs is done:
    its narrations' words and its still; the other narrations' words, any later part's
    still prepared ahead and the sound track come after it."""
    events: list[tuple[str, int]] = []
    lock = threading.Lock()
    first: list[frozenset[int]] = []

    def log(event: str, segment: int = -1) -> None:
        with lock:
            events.append((event, segment))

    real_words, real_still = ahead_module.find_words, PreparedStills.get
    real_reached, real_sound = FirstFrame.reached, Job._make_sound
    real_init = ahead_module.WordsAhead.__init__

    def find_words(pending: PendingWords, *args: object) -> object:
        log("words", pending.segment)
        return real_words(pending, *args)  # type: ignore[arg-type]

    def still(self: PreparedStills, visual: object, segment: int, *args: object) -> object:
        ahead = threading.current_thread().name.startswith("storyreel-still-ahead")
        log("still ahead" if ahead else "still", segment)
        return real_still(self, visual, segment, *args)  # type: ignore[arg-type]

    def reached(self: FirstFrame) -> None:
        log("first frame")
        real_reached(self)

    def sound(self: Job, *args: object, **kwargs: object) -> object:
        log("sound")
        return real_sound(self, *args, **kwargs)  # type: ignore[arg-type]

    def words_ahead(self: object, *args: object, **kwargs: Any) -> None:
        first.append(frozenset(kwargs.get("first", ())))
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ahead_module, "find_words", find_words)
    monkeypatch.setattr(PreparedStills, "get", still)
    monkeypatch.setattr(FirstFrame, "reached", reached)
    monkeypatch.setattr(Job, "_make_sound", sound)
    monkeypatch.setattr(ahead_module.WordsAhead, "__init__", words_ahead)
    outcome = _render(_project(project_dir, recordings), out_dir / "out.mp4", overlap=True)
    assert outcome.parts_encoded > 1
    cut = events.index(("first frame", -1))
    head, rest = events[:cut], events[cut:]
    needed = first[0]  # the segments the first part shows or can caption
    assert 0 in needed and set(range(len(TEXTS))) - needed  # else nothing could be held
    assert {s for e, s in head if e == "words"} == needed
    assert {s for e, s in rest if e == "words"} == set(range(len(TEXTS))) - needed
    assert {s for e, s in head if e == "still"} <= needed  # drawn by the first part
    assert {s for e, s in head if e == "still ahead"} <= {0}  # the first part's alone
    assert ("sound", -1) in rest


@pytest.mark.parametrize(("kind", "held"), [({}, True), ({"draft": True}, False),
                                             ({"workers": 2}, False)],
                         ids=["final", "draft", "workers"])
def test_what_holds_for_the_first_frame(project_dir: Path, out_dir: Path,
                                        recordings: list[Path], kind: dict[str, Any],
                                        held: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A final render encoded here holds its helpers for the first frame; a draft (whose
    sound track can take longer than its few frames) and a render whose parts other
    processes encode do not."""
    holds: list[bool] = []
    real = FirstFrame.__init__

    def record(self: FirstFrame, *, hold: bool = True) -> None:
        holds.append(hold)
        real(self, hold=hold)

    monkeypatch.setattr(FirstFrame, "__init__", record)
    project = storyreel.load_project(_project(project_dir, recordings))
    Job(project, out_dir / "out.mp4", ProgressReporter(None), None, **kind).run()
    assert holds[-1] is held


@pytest.mark.skipif(sys.platform != "linux", reason="a priority per thread is Linux's")
def test_the_helpers_give_way_to_the_encoder(project_dir: Path, out_dir: Path,
                                             recordings: list[Path]) -> None:
    """Drawing frames, the sound track and the words ahead run at nice 19 while the parts
    are encoded; the encoding thread (and with it libx264's threads) keeps its priority."""
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if base >= 19:
        pytest.skip("this test runs at the lowest priority already")
    seen: dict[str, int] = {}
    others: set[int] = set()  # the priorities of threads Python did not start (libx264's)

    def look(update: Progress) -> None:
        if update.phase != "export":
            return
        ours = {t.native_id for t in threading.enumerate()}
        for thread in threading.enumerate():
            if thread.name.startswith("storyreel") and thread.native_id is not None:
                name = thread.name.rstrip("_0123456789")
                seen[name] = os.getpriority(os.PRIO_PROCESS, thread.native_id)
        for task in os.listdir("/proc/self/task"):
            if int(task) not in ours:
                with contextlib.suppress(OSError):  # ended meanwhile
                    others.add(os.getpriority(os.PRIO_PROCESS, int(task)))

    outcome = _render(_project(project_dir, recordings), out_dir / "out.mp4", overlap=True,
                      on_progress=look)
    assert outcome.parts_encoded > 0
    assert {"storyreel-frames", "storyreel-sound"} <= set(seen), seen
    assert all(priority == 19 for priority in seen.values()), seen
    assert base in others  # libx264's threads, started by the encoding thread
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base
