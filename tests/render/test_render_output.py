"""Real renders read back with PyAV: codecs, tags, rates, exact frame counts, A/V sync."""

from __future__ import annotations

import logging
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mp4probe import (
    audio_track,
    classify_frames,
    expected_boundaries,
    expected_frames,
    probe,
    sample_of_frame,
)

import storyreel
from media import PALETTE, ProjectFactory, all_files, write_project
from storyreel.model import project_from_dict

RATE = 48_000


def narration_samples(seconds: list[float]) -> list[int]:
    return [round(s * RATE) for s in seconds]


def check_timing(path: Path, seconds: list[float], gap: float, fps: Fraction) -> None:
    """Frame count, durations and A/V end against the narrations, read back from the file."""
    info = probe(path)
    narrations = narration_samples(seconds)
    gap_samples = round(gap * RATE)
    ideal = sum(narrations) + gap_samples * len(narrations)
    frames = expected_frames(ideal, fps)
    frame = 1 / fps
    assert info.frames == frames
    assert info.average_rate == fps
    assert info.frame_times == [Fraction(i) / fps for i in range(frames)], "constant frame rate"
    assert abs(info.video_duration - Fraction(frames) / fps) < Fraction(1, 1000)
    assert abs(info.video_duration - Fraction(ideal, RATE)) <= frame, "duration vs narration"
    assert abs(info.audio_duration - info.video_duration) <= frame, "A/V end within one frame"
    assert info.audio_samples >= ideal - RATE // 100


def test_upload_ready_format(make_project: ProjectFactory, out_dir: Path) -> None:
    project = make_project([0.6, 0.4], width=160, height=90, settings={"preset": "ultrafast"})
    result = storyreel.render(project, out_dir / "story.mp4")
    info = probe(result.path)
    assert (info.video_streams, info.audio_streams) == (1, 1)
    assert info.video_codec == "h264"
    assert info.profile == "High"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (160, 90)
    assert (info.color_primaries, info.color_trc, info.colorspace) == (1, 1, 1), "BT.709 tags"
    assert info.frame_colorspaces == {1}
    assert info.audio_codec == "aac"
    assert info.audio_profile == "LC"
    assert (info.audio_rate, info.audio_channels) == (48_000, 2)
    boxes = info.boxes
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat"), f"faststart: {boxes}"
    # libx264 writes its settings into the stream: ABR at 8000 kbit/s.
    data = result.path.read_bytes()
    assert b"x264 - core" in data
    assert b"rc=abr" in data and b"bitrate=8000 " in data
    assert all_files(out_dir) == {"story.mp4"}


def test_result_describes_the_published_file(make_project: ProjectFactory, out_dir: Path) -> None:
    project = make_project([0.5, 0.5], fps=25, settings={"gap": 0.2})
    target = out_dir / "story.mp4"
    result = storyreel.render(project, target)
    assert result.path == target.absolute()
    assert result.size == target.stat().st_size > 0
    assert result.fps == Fraction(25)
    assert result.frames == 35
    assert result.duration == pytest.approx(1.4)
    assert result.warnings == []


@pytest.mark.parametrize(
    "fps",
    [24, 25, 30, "30000/1001", 29.97, 23.976, 60, 50],
)
def test_frame_rates_and_exact_timing(make_project: ProjectFactory, out_dir: Path,
                                      fps: object) -> None:
    seconds = [0.437, 0.2913, 0.61]
    project = make_project(seconds, fps=fps, settings={"gap": 0.13})
    result = storyreel.render(project, out_dir / "story.mp4")
    assert result.fps == project.fps
    check_timing(result.path, seconds, 0.13, project.fps)


def test_every_frame_shows_its_segment(make_project: ProjectFactory, out_dir: Path) -> None:
    # A one-frame segment between longer ones, at 24 fps (41.7 ms per frame), no gap.
    seconds = [0.5, 0.02, 0.3, 0.25]
    project = make_project(seconds, fps=24, settings={"gap": 0.0})
    result = storyreel.render(project, out_dir / "story.mp4")
    bounds = expected_boundaries(narration_samples(seconds), 0, Fraction(24))
    assert bounds[2] - bounds[1] == 1, "the short narration gets exactly one frame"
    expected = [i for i in range(len(seconds)) for _ in range(bounds[i + 1] - bounds[i])]
    assert classify_frames(result.path, list(PALETTE[:4])) == expected


def test_segment_boundaries_at_ntsc_rate(make_project: ProjectFactory, out_dir: Path) -> None:
    seconds = [0.3337, 0.251, 0.4049, 0.2221, 0.3]
    fps = Fraction(30000, 1001)
    project = make_project(seconds, fps="29.97", settings={"gap": 0.07})
    result = storyreel.render(project, out_dir / "story.mp4")
    bounds = expected_boundaries(narration_samples(seconds), round(0.07 * RATE), fps)
    expected = [i % len(PALETTE) for i in range(len(seconds))
                for _ in range(bounds[i + 1] - bounds[i])]
    assert classify_frames(result.path, list(PALETTE)) == expected
    check_timing(result.path, seconds, 0.07, fps)


def test_narration_starts_with_its_segment_and_gaps_are_silent(make_project: ProjectFactory,
                                                               out_dir: Path) -> None:
    seconds = [0.4, 0.3, 0.35]
    gap = 0.15
    fps = Fraction(25)
    project = make_project(seconds, fps=25, settings={"gap": gap})
    result = storyreel.render(project, out_dir / "story.mp4")
    audio, rate = audio_track(result.path)
    assert rate == RATE
    np.testing.assert_allclose(audio[0], audio[1], atol=1e-3)  # mono narration on both sides
    bounds = expected_boundaries(narration_samples(seconds), round(gap * RATE), fps)
    ms = RATE // 1000

    def rms(lo: int, hi: int) -> float:
        return float(np.sqrt(np.mean(audio[:, lo:hi] ** 2)))

    for i, length in enumerate(narration_samples(seconds)):
        start = sample_of_frame(bounds[i], fps)
        end = start + length
        body = rms(start + 2 * ms, end - 2 * ms)
        assert body > 0.2, f"narration {i + 1} is missing"
        assert rms(start + ms, start + 8 * ms) > 0.6 * body, f"narration {i + 1} starts late"
        assert rms(end + 10 * ms, sample_of_frame(bounds[i + 1], fps) - 10 * ms) < 0.02, (
            f"gap after narration {i + 1} is not silent")
        if i:
            assert rms(start - 12 * ms, start - 4 * ms) < 0.05, f"narration {i + 1} starts early"


def test_thirty_short_segments_at_29_97(make_project: ProjectFactory, out_dir: Path) -> None:
    rng = np.random.default_rng(7)
    seconds = [float(s) for s in np.round(rng.uniform(0.05, 0.23, 30), 4)]
    project = make_project(seconds, fps="30000/1001", settings={"gap": 0.0333})
    result = storyreel.render(project, out_dir / "story.mp4")
    fps = Fraction(30000, 1001)
    check_timing(result.path, seconds, 0.0333, fps)
    bounds = expected_boundaries(narration_samples(seconds), round(0.0333 * RATE), fps)
    expected = [i % len(PALETTE) for i in range(30) for _ in range(bounds[i + 1] - bounds[i])]
    assert classify_frames(result.path, list(PALETTE)) == expected


def test_long_segment(make_project: ProjectFactory, out_dir: Path) -> None:
    project = make_project([6.0], fps=24, settings={"gap": 0.0})
    result = storyreel.render(project, out_dir / "long.mp4")
    assert result.frames == 144
    check_timing(result.path, [6.0], 0.0, Fraction(24))


def test_default_output_is_beside_the_manifest(make_project: ProjectFactory,
                                               project_dir: Path) -> None:
    project = make_project([0.3], title="The Lost City of Aurelia!")
    result = storyreel.render(project)
    assert result.path == project_dir.resolve() / "output" / "the-lost-city-of-aurelia.mp4"
    assert result.path.is_file()


def test_overrides_change_only_this_render(make_project: ProjectFactory, out_dir: Path) -> None:
    project = make_project([0.5])
    result = storyreel.render(project, out_dir / "a.mp4", fps="30000/1001", width=96, height=64,
                              gap=0.0)
    info = probe(result.path)
    assert (info.width, info.height) == (96, 64)
    assert info.average_rate == Fraction(30000, 1001)
    assert project.fps == 30 and project.width == 128
    check_timing(result.path, [0.5], 0.0, Fraction(30000, 1001))


def test_bad_override_is_refused(make_project: ProjectFactory, out_dir: Path) -> None:
    project = make_project([0.3])
    with pytest.raises(storyreel.ValidationFailed):
        storyreel.render(project, out_dir / "a.mp4", width=97)
    with pytest.raises(TypeError):
        storyreel.render(project, out_dir / "a.mp4", colour="red")
    assert all_files(out_dir) == set()


def test_draft_is_small_and_fast(make_project: ProjectFactory, out_dir: Path) -> None:
    project = make_project([0.4], width=1280, height=720, settings={"preset": "medium"})
    result = storyreel.render(project, out_dir / "draft.mp4", draft=True)
    info = probe(result.path)
    assert info.height <= 480 and info.width % 2 == 0
    assert info.width / info.height == pytest.approx(16 / 9, rel=0.02)


def test_library_prints_nothing_and_logs_a_summary(make_project: ProjectFactory, out_dir: Path,
                                                   capfd: pytest.CaptureFixture[str],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    project = make_project([0.3, 0.3])
    with caplog.at_level(logging.INFO, logger="storyreel"):
        result = storyreel.render(project, out_dir / "quiet.mp4")
    out, err = capfd.readouterr()
    assert out == "" and err == "", "the library must not print (x264/FFmpeg logs included)"
    summary = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("storyreel"))
    assert str(result.path) in summary
    assert "MB" in summary
    assert f"{result.duration:.2f}" in summary or f"{result.duration:.1f}" in summary


def test_rerender_replaces_the_previous_file(make_project: ProjectFactory, out_dir: Path) -> None:
    target = out_dir / "story.mp4"
    target.write_bytes(b"an older render")
    project = make_project([0.3])
    storyreel.render(project, target)
    assert probe(target).frames == expected_frames(round(0.6 * RATE), Fraction(30))
    assert all_files(out_dir) == {"story.mp4"}


def test_long_file_name(make_project: ProjectFactory, out_dir: Path) -> None:
    # Any name the file system accepts must work, although the temp name adds a suffix.
    name = "a" * 240 + ".mp4"
    result = storyreel.render(make_project([0.2]), out_dir / name)
    assert result.path.name == name
    assert all_files(out_dir) == {name}


def test_relative_output_path(make_project: ProjectFactory, out_dir: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(out_dir)
    result = storyreel.render(make_project([0.2]), "nested/story.mp4")
    assert result.path == out_dir / "nested" / "story.mp4"
    assert result.path.is_absolute() and result.path.is_file()


def test_two_renders_to_the_same_target_at_once(make_project: ProjectFactory,
                                                out_dir: Path) -> None:
    project = make_project([0.5, 0.4])
    target = out_dir / "story.mp4"
    outcomes: list[object] = []

    def run() -> None:
        try:
            outcomes.append(storyreel.render(project, target))
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(o, storyreel.RenderResult) for o in outcomes), outcomes
    assert probe(target).frames == outcomes[0].frames  # type: ignore[attr-defined]
    assert all_files(out_dir) == {"story.mp4"}


def test_any_object_with_is_set_cancels(make_project: ProjectFactory, out_dir: Path) -> None:
    class Flag:
        def __init__(self) -> None:
            self.calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            return self.calls > 3

    with pytest.raises(storyreel.RenderCancelled):
        storyreel.render(make_project([2.0]), out_dir / "story.mp4", cancel=Flag())
    assert all_files(out_dir) == set()


@pytest.mark.parametrize(("preset", "marks"), [
    (None, (b"subme=7", b"rc_lookahead=40", b"ref=3")),   # medium, the default
    ("veryfast", (b"subme=2", b"rc_lookahead=10", b"ref=1")),
])
def test_encoder_preset(project_dir: Path, out_dir: Path, preset: str | None,
                        marks: tuple[bytes, ...]) -> None:
    settings: dict[str, Any] = {} if preset is None else {"preset": preset}
    manifest = write_project(project_dir, [0.2], settings=settings)
    data = storyreel.load_project(manifest).model_dump(mode="json")
    if preset is None:
        del data["settings"]["preset"]
    project = project_from_dict(data, base_dir=project_dir)
    assert project.settings.preset == (preset or "medium")
    result = storyreel.render(project, out_dir / "p.mp4")
    encoded = result.path.read_bytes()
    for mark in marks:
        assert mark in encoded, mark
