"""Ken Burns motion seen in decoded frames: smooth sub-pixel zoom, variety, static on request."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from mp4probe import luma_frames
from numpy.typing import NDArray

import storyreel
from media import write_manifest, write_textured, write_tone_wav

Frames = list[NDArray[np.float32]]


def textured_project(folder: Path, seconds: list[float], *, segment_extra: list[dict[str, Any]]
                     | None = None, ken_burns: dict[str, Any] | None = None,
                     size: tuple[int, int] = (160, 90), cell: int = 6) -> storyreel.Project:
    image = write_textured(folder / "texture.png", (480, 270), seed=5, cell=cell)
    segments = []
    for i, s in enumerate(seconds):
        audio = write_tone_wav(folder / f"{i}.wav", s)
        extra = segment_extra[i] if segment_extra else {}
        segments.append({"image": image.name, "audio": audio.name, **extra})
    settings = {"preset": "ultrafast", "gap": 0.0, "transitions": {"crossfade": 0.0},
                "subtitles": {"enabled": False, "sidecar": False},
                "loudness": {"enabled": False}, "ken_burns": ken_burns or {}}
    manifest = write_manifest(folder, segments, width=size[0], height=size[1], fps=30,
                              settings=settings)
    return storyreel.load_project(manifest)


def steps(frames: Frames) -> NDArray[np.float64]:
    return np.array([float(np.abs(b - a).mean()) for a, b in itertools.pairwise(frames)])


def test_slow_zoom_is_smooth_sub_pixel_motion(project_dir: Path, out_dir: Path) -> None:
    # Zoom 1.0 -> 1.04 over 90 frames, linear: the picture edges move ~0.04 px per frame.
    project = textured_project(project_dir, [3.0], ken_burns={
        "zoom": 1.04, "direction": "in", "pan": False, "easing": "linear"})
    result = storyreel.render(project, out_dir / "zoom.mp4")
    frames = luma_frames(result.path)
    assert len(frames) == 90
    diffs = steps(frames)
    assert diffs.min() > 0.02, "a frame repeats its predecessor: the zoom freezes or steps"
    assert diffs.max() < 2.0, "consecutive frames jump"
    core = diffs[2:-2]
    assert core.max() / np.median(core) < 2.5, "uneven steps: the motion jitters"
    assert core.std() / core.mean() < 0.35, "mean difference should stay roughly constant"
    drift = np.array([float(np.abs(f - frames[0]).mean()) for f in frames])
    assert all(b > a - 0.1 for a, b in itertools.pairwise(drift)), "the zoom steps back"
    assert drift[-1] > 10 * diffs.mean()


def test_eased_zoom_starts_and_ends_gently(project_dir: Path, out_dir: Path) -> None:
    project = textured_project(project_dir, [3.0], ken_burns={
        "zoom": 1.2, "direction": "in", "pan": False, "easing": "ease-in-out"})
    frames = luma_frames(storyreel.render(project, out_dir / "eased.mp4").path)
    diffs = steps(frames)
    third = len(diffs) // 3
    assert diffs[:5].mean() < diffs[third : 2 * third].mean()
    assert diffs[-5:].mean() < diffs[third : 2 * third].mean()
    assert diffs[third : 2 * third].min() > 0


def test_neighbouring_segments_move_differently(project_dir: Path, out_dir: Path) -> None:
    # Every segment shows the same still: only the motion can tell them apart.
    count, length = 5, 30
    project = textured_project(project_dir, [1.0] * count)
    frames = luma_frames(storyreel.render(project, out_dir / "auto.mp4").path)
    assert len(frames) == count * length
    segments = [frames[i * length : (i + 1) * length] for i in range(count)]
    for segment in segments:
        assert np.abs(segment[-1] - segment[0]).mean() > 2, "a segment is static"
    for a, b in itertools.pairwise(segments):
        for k in (0, length // 2, length - 1):
            assert np.abs(a[k] - b[k]).mean() > 2, "neighbours move alike"


def test_static_segment_and_zoom_override(project_dir: Path, out_dir: Path) -> None:
    project = textured_project(project_dir, [1.0, 1.0, 1.0], segment_extra=[
        {"direction": "none"}, {"zoom": 1.05}, {"zoom": 1.5}], ken_burns={"pan": False}, cell=40)
    frames = luma_frames(storyreel.render(project, out_dir / "mixed.mp4").path)
    static, small, large = frames[:30], frames[30:60], frames[60:90]
    assert max(np.abs(f - static[0]).mean() for f in static) < 0.5
    small_move = np.abs(small[-1] - small[0]).mean()
    large_move = np.abs(large[-1] - large[0]).mean()
    assert small_move > 0.5
    assert large_move > 2 * small_move
