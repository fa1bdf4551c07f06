"""Failures: every bad input named at once, and nothing left behind after any failure."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import av.error
import pytest

import storyreel
from media import (
    ProjectFactory,
    SegmentSpec,
    all_files,
    write_bomb_png,
    write_corrupt_wav,
    write_project,
    write_solid,
    write_tone_wav,
    write_wav,
    write_zero_length,
)
from storyreel import (
    DiskFullError,
    EncoderError,
    OutputError,
    Progress,
    ProjectError,
    RenderCancelled,
    ValidationFailed,
    VerificationError,
)
from storyreel.render.output import TEMP_SUFFIX

# --- every bad input at once -------------------------------------------------------------


def test_every_media_problem_is_listed_with_its_segment_and_path(
    project_dir: Path, out_dir: Path
) -> None:
    manifest = write_project(project_dir, [0.3] * 8)
    images, audio = project_dir / "images", project_dir / "audio"
    (images / "001.png").unlink()                                    # 1: image missing
    write_zero_length(audio / "002.wav")                             # 2: zero-length WAV
    write_corrupt_wav(audio / "003.wav")                             # 3: corrupt WAV
    (images / "004.png").write_text("not an image")                  # 4: not an image
    write_bomb_png(images / "005.png")                               # 5: decompression bomb
    (audio / "007.wav").unlink()                                     # 7: audio missing
    (images / "008.png").unlink()                                    # 8: both missing
    (audio / "008.wav").unlink()
    project = storyreel.load_project(manifest)
    target = out_dir / "story.mp4"
    with pytest.raises(ValidationFailed) as info:
        storyreel.render(project, target)
    found = {(p.segment, p.field, p.path) for p in info.value.problems}
    assert found == {
        (1, "image", images / "001.png"),
        (2, "audio", audio / "002.wav"),
        (3, "audio", audio / "003.wav"),
        (4, "image", images / "004.png"),
        (5, "image", images / "005.png"),
        (7, "audio", audio / "007.wav"),
        (8, "image", images / "008.png"),
        (8, "audio", audio / "008.wav"),
    }
    segments = [p.segment or 0 for p in info.value.problems]
    assert segments == sorted(segments), "problems come in segment order"
    for problem in info.value.problems:
        assert f"segment {problem.segment}" in str(problem)
        assert str(problem.path) in str(problem)
    assert "and 7 more" in str(info.value)
    assert all_files(out_dir) == set()
    assert storyreel.analyse_project(project).problems == info.value.problems


def _break(kind: str, folder: Path) -> tuple[str, Path]:
    image, audio = folder / "images" / "002.png", folder / "audio" / "002.wav"
    if kind == "missing image":
        image.unlink()
        return "image", image
    if kind == "missing audio":
        audio.unlink()
        return "audio", audio
    if kind == "zero-length WAV":
        return "audio", write_zero_length(audio)
    if kind == "corrupt WAV":
        return "audio", write_corrupt_wav(audio)
    if kind == "WAV without samples":
        import numpy as np

        return "audio", write_wav(audio, np.zeros((0, 2)), 44_100)
    if kind == "narration under 10 ms":
        return "audio", write_tone_wav(audio, samples=200, rate=48_000)
    if kind == "not an image":
        image.write_bytes(b"GIF89a? no, just text pretending")
        return "image", image
    if kind == "zero-length image":
        return "image", write_zero_length(image)
    if kind == "decompression bomb":
        return "image", write_bomb_png(image)
    if kind == "audio is an image":
        return "audio", write_solid(audio, (8, 8), (1, 2, 3), format="PNG")
    if kind == "image is a folder":
        image.unlink()
        image.mkdir()
        return "image", image
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "missing image", "missing audio", "zero-length WAV", "corrupt WAV", "WAV without samples",
    "narration under 10 ms", "not an image", "zero-length image", "decompression bomb",
    "audio is an image", "image is a folder",
])
def test_each_bad_input_is_a_clear_validation_failure(project_dir: Path, out_dir: Path,
                                                      kind: str) -> None:
    manifest = write_project(project_dir, [0.3, 0.3, 0.3])
    field, path = _break(kind, project_dir)
    project = storyreel.load_project(manifest)
    target = out_dir / "story.mp4"
    with pytest.raises(ValidationFailed) as info:
        storyreel.render(project, target)
    assert all_files(out_dir) == set()
    (problem,) = info.value.problems
    assert (problem.segment, problem.field, problem.path) == (2, field, path)
    assert problem.message
    assert all_files(out_dir) == set()


@pytest.mark.parametrize(("fields", "field"), [
    ({"width": 161}, "width"), ({"height": 91}, "height"), ({"fps": 0}, "fps"),
    ({"fps": "sixty"}, "fps"), ({"fps": 240}, "fps"),
])
def test_bad_project_fields_fail_before_any_output(make_project: ProjectFactory, out_dir: Path,
                                                   fields: dict[str, Any], field: str) -> None:
    project = make_project([0.3])
    with pytest.raises(ValidationFailed) as info:
        storyreel.render(project, out_dir / "story.mp4", **fields)
    assert [p.field for p in info.value.problems] == [field]
    assert all_files(out_dir) == set()


def test_no_segments_is_refused(project_dir: Path) -> None:
    manifest = project_dir / "story.json"
    manifest.write_text('{"title": "Empty", "segments": []}', encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        storyreel.load_project(manifest)
    assert "no segments" in str(info.value)


# --- failures during the render ------------------------------------------------------------


def test_truncated_image_fails_as_a_project_error_naming_it(project_dir: Path,
                                                            out_dir: Path) -> None:
    import numpy as np
    from PIL import Image

    manifest = write_project(project_dir, [0.3, 0.3, 0.3])
    noise = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    image = project_dir / "images" / "002.png"
    Image.fromarray(noise).save(image)
    image.write_bytes(image.read_bytes()[:20_000])
    with pytest.raises(ProjectError) as info:
        storyreel.render(storyreel.load_project(manifest), out_dir / "story.mp4")
    assert "segment 2" in str(info.value)
    assert str(image) in str(info.value)
    assert all_files(out_dir) == set()


@pytest.mark.parametrize("which", ["image", "audio"])
def test_media_removed_during_the_render(project_dir: Path, out_dir: Path, which: str) -> None:
    manifest = write_project(project_dir, [0.3] * 6)
    victim = project_dir / ("images/005.png" if which == "image" else "audio/005.wav")

    def on_progress(progress: Progress) -> None:
        if progress.phase == "export" and victim.exists():
            victim.unlink()

    with pytest.raises(ProjectError) as info:
        storyreel.render(storyreel.load_project(manifest), out_dir / "story.mp4",
                         on_progress=on_progress)
    assert "segment 5" in str(info.value)
    assert all_files(out_dir) == set()


def test_output_below_a_regular_file(make_project: ProjectFactory, tmp_path: Path) -> None:
    blocker = tmp_path / "report.txt"
    blocker.write_text("a file")
    with pytest.raises(OutputError):
        storyreel.render(make_project([0.3]), blocker / "videos" / "story.mp4")
    assert blocker.read_text() == "a file"
    assert all_files(tmp_path / "project").isdisjoint({"story.mp4"})


def test_output_path_is_a_folder(make_project: ProjectFactory, out_dir: Path) -> None:
    (out_dir / "story.mp4").mkdir()
    with pytest.raises(OutputError):
        storyreel.render(make_project([0.3]), out_dir / "story.mp4")
    assert all_files(out_dir) == set()


class FailingContainer:
    """Wraps a PyAV output container; ``mux`` fails on a chosen packet (or drops that video
    packet when ``error`` is None)."""

    def __init__(self, inner: Any, fail_at: int, error: Callable[[], BaseException] | None
                 ) -> None:
        self._inner = inner
        self._count = 0
        self._fail_at = fail_at
        self._error = error

    def mux(self, packet: Any) -> None:
        if self._error is None and packet.stream.type != "video":
            self._inner.mux(packet)
            return
        self._count += 1
        if self._count == self._fail_at:
            if self._error is None:
                return  # dropped: the file will miss a packet
            raise self._error()
        self._inner.mux(packet)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> FailingContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


def patch_writer(monkeypatch: pytest.MonkeyPatch, fail_at: int,
                 error: Callable[[], BaseException] | None) -> list[FailingContainer]:
    real_open: Callable[..., Any] = av.open
    made: list[FailingContainer] = []

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        container = real_open(file, mode, *args, **kwargs)
        if mode != "w" or not str(file).endswith(TEMP_SUFFIX):
            return container
        made.append(FailingContainer(container, fail_at, error))
        return made[-1]

    monkeypatch.setattr(av, "open", fake_open)
    return made


def test_encoder_failure(make_project: ProjectFactory, out_dir: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    target = out_dir / "story.mp4"
    target.write_bytes(b"the previous render")
    made = patch_writer(monkeypatch, 10, lambda: av.error.InvalidDataError(
        errno.EINVAL, "simulated muxer failure"))
    with pytest.raises(EncoderError) as info:
        storyreel.render(make_project([0.5, 0.5]), target)
    assert made, "the simulated failure was not reached"
    assert "simulated muxer failure" in str(info.value)
    assert target.read_bytes() == b"the previous render", "a failed render must not replace"
    assert all_files(out_dir) == {"story.mp4"}


def test_disk_full_says_so(make_project: ProjectFactory, out_dir: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    patch_writer(monkeypatch, 5, lambda: OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(DiskFullError) as info:
        storyreel.render(make_project([0.5, 0.5]), out_dir / "story.mp4")
    assert "disk full" in str(info.value).lower() or "no space" in str(info.value).lower()
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert all_files(out_dir) == set()


def test_broken_file_is_caught_by_verification(make_project: ProjectFactory, out_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    patch_writer(monkeypatch, 7, None)  # one video packet silently lost
    with pytest.raises(VerificationError):
        storyreel.render(make_project([0.5, 0.5]), out_dir / "story.mp4")
    assert all_files(out_dir) == set()


def test_keyboard_interrupt_leaves_nothing(make_project: ProjectFactory, out_dir: Path) -> None:
    def on_progress(progress: Progress) -> None:
        if progress.phase == "export" and progress.done > 0:
            raise KeyboardInterrupt

    before = threading.active_count()
    with pytest.raises((KeyboardInterrupt, RenderCancelled)):
        storyreel.render(make_project([3.0]), out_dir / "story.mp4", on_progress=on_progress)
    assert all_files(out_dir) == set()
    assert threading.active_count() == before


def test_error_in_the_progress_callback_leaves_nothing(make_project: ProjectFactory,
                                                      out_dir: Path) -> None:
    def on_progress(progress: Progress) -> None:
        if progress.phase == "export":
            raise ZeroDivisionError("callback bug")

    with pytest.raises(ZeroDivisionError):
        storyreel.render(make_project([0.5]), out_dir / "story.mp4", on_progress=on_progress)
    assert all_files(out_dir) == set()


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_mid_render_stops_before_the_end(make_project: ProjectFactory,
                                               out_dir: Path) -> None:
    # How soon it stops depends on the machine's load; here: that it stops, leaving nothing.
    # 60 s of narration: far more frames than are rendered before the cancel lands.
    project = make_project([60.0], width=160, height=90)
    cancel = threading.Event()
    seen: list[Progress] = []
    cancelled_at: list[int] = []

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        if progress.phase == "export" and progress.done >= 10 and not cancel.is_set():
            cancel.set()
            cancelled_at.append(progress.done)

    before = threading.active_count()
    with pytest.raises(RenderCancelled):
        storyreel.render(project, out_dir / "story.mp4", on_progress=on_progress, cancel=cancel)
    assert cancelled_at, "no export progress arrived mid-render"
    exported = max(p.done for p in seen if p.phase == "export")
    assert exported < seen[-1].total if seen[-1].phase == "export" else True
    assert exported < 1800, "the render ran to the end instead of stopping"
    assert all_files(out_dir) == set()
    assert threading.active_count() == before


def test_cancel_during_analysis(make_project: ProjectFactory, out_dir: Path) -> None:
    project = make_project([0.3] * 5)
    cancel = threading.Event()
    seen: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        if progress.phase == "analyse":
            cancel.set()

    with pytest.raises(RenderCancelled):
        storyreel.render(project, out_dir / "story.mp4", on_progress=on_progress, cancel=cancel)
    assert not [p for p in seen if p.phase == "export" and p.done > 0], "frames after cancel"
    assert all_files(out_dir) == set()


def test_an_analysis_stopped_midway_leaves_no_still_checks_running(
        make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stills are checked ahead on threads of the analysis's own: stopping it (a
    cancel raised by its progress) drops the checks not started and joins the rest."""
    project = make_project([0.1] * 40)
    analysis = sys.modules["storyreel.render.analysis"]
    checked: list[int | None] = []
    real = analysis.probe_image
    released = threading.Event()

    def held(path: Path, segment: int | None = None) -> tuple[int, int]:
        if segment is not None and segment > 2:  # waits until the pool is shutting down
            assert released.wait(30), "the analysis never shut its checks down"
        checked.append(segment)
        return real(path, segment)

    class Pool(ThreadPoolExecutor):
        """Lets the held checks go once the queued ones are dropped (the shutdown's
        own arguments are passed on as they come)."""

        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            super().shutdown(wait=False, cancel_futures=cancel_futures)
            released.set()
            super().shutdown(wait=wait)

    monkeypatch.setattr(analysis, "probe_image", held)
    monkeypatch.setattr(analysis, "ThreadPoolExecutor", Pool)

    def stop(done: int) -> None:
        if done == 2:
            raise RenderCancelled("render cancelled")

    with pytest.raises(RenderCancelled):
        storyreel.analyse_project(project, stop)
    assert not [t for t in threading.enumerate() if t.name.startswith("storyreel-probe")]
    # 1 and 2 were waited for; at most the two checks running then (3, 4) ran after.
    assert {1, 2} <= set(checked) <= {1, 2, 3, 4}, checked


def _one_picture_for_all(project_dir: Path, count: int) -> Path:
    manifest = write_project(project_dir, [0.1] * count)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    for segment in data["segments"]:
        segment["image"] = "images/001.png"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return manifest


def test_a_picture_shown_by_many_segments_is_checked_once(
        project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = storyreel.load_project(_one_picture_for_all(project_dir, 12))
    analysis = sys.modules["storyreel.render.analysis"]
    checked: list[int | None] = []
    real = analysis.probe_image

    def counted(path: Path, segment: int | None = None) -> tuple[int, int]:
        checked.append(segment)
        return real(path, segment)

    monkeypatch.setattr(analysis, "probe_image", counted)
    assert storyreel.analyse_project(project).problems == []
    assert checked == [1]


def test_a_broken_picture_shown_by_many_segments_is_named_for_each(project_dir: Path) -> None:
    manifest = _one_picture_for_all(project_dir, 5)
    image = project_dir / "images" / "001.png"
    image.write_bytes(image.read_bytes()[:60])  # truncated
    problems = storyreel.analyse_project(storyreel.load_project(manifest)).problems
    assert [(p.segment, p.field, p.path) for p in problems] == [
        (n, "image", image) for n in range(1, 6)]
    assert len({p.message for p in problems}) == 1  # the one check's finding, for each


def test_cancel_set_before_the_render(make_project: ProjectFactory, out_dir: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RenderCancelled):
        storyreel.render(make_project([0.3]), out_dir / "story.mp4", cancel=cancel)
    assert all_files(out_dir) == set()


def test_cancel_from_another_thread(make_project: ProjectFactory, out_dir: Path) -> None:
    project = make_project([60.0], width=160, height=90)
    cancel = threading.Event()
    set_at: list[float] = []

    def fire() -> None:
        set_at.append(time.monotonic())
        cancel.set()

    timer = threading.Timer(0.3, fire)
    timer.start()
    try:
        with pytest.raises(RenderCancelled):
            storyreel.render(project, out_dir / "story.mp4", cancel=cancel)
        assert set_at, "the render ended before the cancel"
    finally:
        timer.cancel()
        timer.join()
    assert all_files(out_dir) == set()


# --- stale temps ------------------------------------------------------------------------------


def test_stale_temps_of_killed_renders_are_swept(make_project: ProjectFactory,
                                                 out_dir: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stale = out_dir / f".story.mp4.{child.pid}-1a2b3c4d{TEMP_SUFFIX}"
    stale_other = out_dir / f".other.mp4.{child.pid}-99887766{TEMP_SUFFIX}"
    busy = out_dir / f".story.mp4.{os.getppid()}-0f0f0f0f{TEMP_SUFFIX}"
    for path in (stale, stale_other, busy):
        path.write_bytes(b"\x00" * 1000)
    keep = out_dir / "notes.txt"
    keep.write_text("mine")
    storyreel.render(make_project([0.3]), out_dir / "story.mp4")
    assert all_files(out_dir) == {"story.mp4", busy.name, "notes.txt"}


def test_killed_render_leaves_work_that_the_next_render_sweeps(project_dir: Path,
                                                               out_dir: Path) -> None:
    manifest = write_project(project_dir, [SegmentSpec(seconds=120.0)], width=320, height=180)
    script = (
        "import os, signal, sys, storyreel\n"
        "p = storyreel.load_project(sys.argv[1])\n"
        "sent = []\n"
        "def tick(progress):\n"
        "    if progress.phase == 'export' and progress.done > 5 and not sent:\n"
        "        sent.append(True)\n"
        "        print('exporting', flush=True)\n"
        "        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, surely mid-render\n"
        "storyreel.render(p, sys.argv[2], on_progress=tick)\n"
    )
    target = out_dir / "story.mp4"
    child = subprocess.Popen([sys.executable, "-c", script, str(manifest), str(target)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "exporting"
        child.kill()
    finally:
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert all_files(out_dir) == set()
    cache = project_dir / ".storyreel-cache"
    assert list(cache.glob("work/*/part-*.mp4")), "expected the killed render's work folder"
    assert not list(cache.glob("parts/*/*.mp4")), "a part being encoded was stored"
    storyreel.render(storyreel.load_project(write_project(project_dir, [0.3])), target)
    assert all_files(out_dir) == {"story.mp4"}
    assert not list(cache.glob("work/*")), "the killed render's work folder was not swept"


def test_ctrl_c_during_a_render_leaves_nothing(project_dir: Path, out_dir: Path) -> None:
    manifest = write_project(project_dir, [SegmentSpec(seconds=120.0)], width=320, height=180)
    # Python keeps SIGINT ignored when it starts with it ignored (as a job started in the
    # background does, and so may this test run): Ctrl-C reaches a program at a terminal,
    # so the child gets Python's own handler back, as it has there.
    script = (
        "import os, signal, sys, storyreel\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "p = storyreel.load_project(sys.argv[1])\n"
        "sent = []\n"
        "def tick(progress):\n"
        "    if progress.phase == 'export' and progress.done > 5 and not sent:\n"
        "        sent.append(True)\n"
        "        print('exporting', flush=True)\n"
        "        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, surely mid-render\n"
        "try:\n"
        "    storyreel.render(p, sys.argv[2], on_progress=tick)\n"
        "except (KeyboardInterrupt, storyreel.RenderCancelled) as exc:\n"
        "    print('stopped', type(exc).__name__, flush=True)\n"
        "    sys.exit(130)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(manifest),
                              str(out_dir / "story.mp4")], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "exporting"
        rest = child.stdout.read()
        assert child.wait(timeout=10) == 130
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert "stopped" in rest
    assert all_files(out_dir) == set(), "Ctrl-C left files behind"


DEFAULTS = {"preset": "ultrafast", "transitions": {"crossfade": 0.5, "fade_out": 0.3},
            "subtitles": {"enabled": True, "sidecar": True}, "loudness": {"enabled": True}}


def test_failures_with_every_feature_on_leave_nothing(project_dir: Path, out_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Captions, caption files, crossfades and loudness on: a failed or cancelled render still
    # leaves no video, no caption file and no temp.
    specs = [SegmentSpec(seconds=0.8, text="The first part of a story told in words."),
             SegmentSpec(seconds=0.6, text="And the second part, a little shorter.")]
    manifest = write_project(project_dir, specs, settings=DEFAULTS)
    project = storyreel.load_project(manifest)
    cancel = threading.Event()

    def on_progress(progress: Progress) -> None:
        if progress.phase == "export" and progress.done > 0:
            cancel.set()

    with pytest.raises(RenderCancelled):
        storyreel.render(project, out_dir / "story.mp4", on_progress=on_progress, cancel=cancel)
    assert all_files(out_dir) == set()
    patch_writer(monkeypatch, 8, lambda: av.error.InvalidDataError(errno.EINVAL, "boom"))
    with pytest.raises(EncoderError):
        storyreel.render(project, out_dir / "story.mp4")
    assert all_files(out_dir) == set()
