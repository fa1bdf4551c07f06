"""Single frames drawn on their own (render/moment.py): the same in any order, and closed
pictures are opened again when asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import storyreel
from media import write_manifest, write_textured, write_tone_wav
from storyreel.render.moment import KeptMoments, Moments, plan_moments
from storyreel.render.preview import StillCache


def _project(folder: Path) -> storyreel.Project:
    segments = []
    for i, text in enumerate(["One quiet morning by the sea.", "Two boats drift home.",
                              "Three gulls call over the pier."]):
        image = write_textured(folder / f"{i}.png", (320, 180), seed=i)
        audio = write_tone_wav(folder / f"{i}.wav", 1.2)
        segments.append({"image": image.name, "audio": audio.name, "text": text})
    settings = {"preset": "ultrafast", "transitions": {"crossfade": 0.4, "fade_in": 0.2},
                "subtitles": {"style": "karaoke"}, "loudness": {"enabled": False}}
    manifest = write_manifest(folder, segments, width=160, height=90, fps=25,
                              settings=settings)
    return storyreel.load_project(manifest)


def test_a_frame_is_the_same_whatever_was_drawn_before(tmp_path: Path) -> None:
    timeline = plan_moments(_project(tmp_path))
    total = timeline.total_frames
    captions = list(timeline.story.captions)
    assert captions and timeline.story.plan.spans[1].crossfade > 0
    # Back and forth across captions, a crossfade and the fade in.
    order = [total - 1, 2, captions[-1].start, 0, total // 2, captions[0].start + 1, 2,
             timeline.story.plan.spans[1].visible_start + 1, total - 1]
    walked = Moments(timeline, StillCache())
    try:
        for index in order:
            fresh = Moments(timeline, StillCache())
            try:
                assert np.array_equal(walked.frame(index), fresh.frame(index)), index
            finally:
                fresh.close()
    finally:
        walked.close()


def test_kept_moments_close_what_they_drop_and_closed_ones_still_draw(tmp_path: Path) -> None:
    timeline = plan_moments(_project(tmp_path))
    kept = KeptMoments(size=1)
    first = kept.keep("a", Moments(timeline, StillCache()))
    before = first.frame(10)
    assert kept.keep("a", Moments(timeline, StillCache())) is first  # the first kept wins
    second = kept.keep("b", Moments(timeline, StillCache()))
    assert kept.get("a") is None and kept.get("b") is second
    assert np.array_equal(first.frame(10), before)  # closed: opens, draws, lets go again
    kept.close()
    assert kept.get("b") is None
