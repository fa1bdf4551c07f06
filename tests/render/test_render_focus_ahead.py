"""A picture's focus searched while the first parts are encoded: the same frames.

A render that starts encoding once the timeline's timing is known leaves the search
for each picture's focus (a face search on a reduced copy, about a second for a
camera photograph) to the thread that aligns the narrations; a part waits only for
the focus of the pictures it shows. These tests compare such a render with one that
searches everything first, frame by frame, and check what the analysis leaves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mp4probe import luma_frames
from test_render_focus import rgb_frames, whole_box_inside, write_wide

import storyreel
from media import write_manifest, write_textured, write_tone_wav
from storyreel.media.focus import picture_focus
from storyreel.render.cache import PartCache
from storyreel.render.job import Job, JobOutcome
from storyreel.render.progress import ProgressReporter

_FPS = 15


def _project(folder: Path, *, captions: bool) -> storyreel.Project:
    """A vertical video of the wide picture with a face at its right, then a textured
    picture, then the wide picture again with a focus of its own."""
    write_wide(folder)
    write_textured(folder / "texture.jpg", (400, 300), seed=3)
    segments = []
    for i, extra in enumerate(({"image": "wide.png"}, {"image": "texture.jpg"},
                               {"image": "wide.png", "focus": [0.15, 0.6]})):
        audio = write_tone_wav(folder / f"n{i}.wav", 1.0, freq=300.0 + 100 * i)
        segments.append({"audio": audio.name, "text": f"Part {i + 1} of the walk.", **extra})
    settings = {"preset": "ultrafast", "gap": 0.0, "transitions": {"crossfade": 0.0},
                "subtitles": {"enabled": captions, "sidecar": False},
                "loudness": {"enabled": False},
                "ken_burns": {"zoom": 1.2, "direction": "in"}}
    manifest = write_manifest(folder, segments, width=180, height=320, fps=_FPS,
                              settings=settings)
    return storyreel.load_project(manifest)


def _render(project: storyreel.Project, target: Path, *, overlap: bool) -> JobOutcome:
    return Job(project, target, ProgressReporter(None), None, overlap=overlap).run()


def test_the_focus_search_is_left_for_later_with_the_words(project_dir: Path,
                                                           out_dir: Path) -> None:
    project = _project(project_dir, captions=True)
    ahead = Job(project, out_dir / "a.mp4", ProgressReporter(None), None)
    ahead.analyse()
    assert ahead.analysis is not None
    assert [p.segment for p in ahead.analysis.pending] == [0, 1, 2]
    # The third picture sets its own focus: nothing to search.
    assert ahead.analysis.pending_focus == [0, 1]
    assert ahead.analysis.focus == [None, None, None]
    found = picture_focus(project_dir / "wide.png")
    assert found is not None and found[0] > 0.6  # the face, at the right
    for captions, overlap in ((True, False), (False, True)):
        # Searched at once without the overlap, or with no words left for later.
        first = Job(_project(project_dir, captions=captions), out_dir / "b.mp4",
                    ProgressReporter(None), None, overlap=overlap)
        first.analyse()
        assert first.analysis is not None and first.analysis.pending_focus == []
        assert first.analysis.focus[0] == found


def test_a_kept_focus_is_not_searched_again(project_dir: Path, out_dir: Path) -> None:
    project = _project(project_dir, captions=True)
    cache = PartCache(project_dir / "cache")
    storyreel.render(project, out_dir / "first.mp4", cache=cache)
    again = Job(project, out_dir / "again.mp4", ProgressReporter(None), None, cache=cache)
    again.analyse()
    assert again.analysis is not None and again.analysis.pending_focus == []
    assert again.analysis.focus[0] == picture_focus(project_dir / "wide.png")


@pytest.mark.parametrize("captions", [False, True], ids=["pictures", "pictures-and-words"])
def test_focus_found_ahead_gives_the_same_video(project_dir: Path, out_dir: Path,
                                                captions: bool) -> None:
    project = _project(project_dir, captions=captions)
    overlapped = _render(project, out_dir / "overlapped.mp4", overlap=True)
    sequential = _render(project, out_dir / "sequential.mp4", overlap=False)
    assert overlapped.story == sequential.story  # every picture framed on its focus
    assert overlapped.story.items[0].visual.focus == picture_focus(project_dir / "wide.png")
    assert overlapped.parts_encoded == sequential.parts_encoded > 1
    a_path, b_path = out_dir / "overlapped.mp4", out_dir / "sequential.mp4"
    frames_a, frames_b = luma_frames(a_path), luma_frames(b_path)
    assert len(frames_a) == len(frames_b) == overlapped.story.plan.total_frames
    for a, b in zip(frames_a, frames_b, strict=True):
        np.testing.assert_array_equal(a, b)
    # The first segment's frames keep the face (and the red box round it) in view.
    first = overlapped.story.plan.spans[0]
    shown = rgb_frames(a_path)[first.visible_start : first.end_frame]
    assert shown and all(whole_box_inside(frame) for frame in shown)
    assert a_path.read_bytes() == b_path.read_bytes()
