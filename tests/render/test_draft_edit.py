"""A draft after one narration changed: the segments after it keep their frame counts, so
only the parts that show the changed segment are encoded again, and the result is the
draft a render from scratch makes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

import storyreel
from media import SegmentSpec, write_project, write_tone_wav

#: Narration lengths chosen so that a frame and a half more in the second one moves the
#: cumulative grid's rounding of later segments (checked below with the final render's).
_SECONDS = (1.31, 1.27, 1.42, 1.36, 1.29, 1.33)
_SETTINGS = {"gap": 0.5, "transitions": {"crossfade": 0.2},
             "loudness": {"enabled": True, "target": -16.0}}


def _write(folder: Path) -> Path:
    specs = [SegmentSpec(seconds=s, text=f"Segment {n} says something.")
             for n, s in enumerate(_SECONDS, 1)]
    return write_project(folder, specs, settings=_SETTINGS, width=160, height=90)


def _lengthen_second(folder: Path) -> None:
    """The second narration, a frame and a half (at 30 fps) longer."""
    write_tone_wav(folder / "audio" / "002.wav", samples=round(_SECONDS[1] * 48_000) + 2_400,
                   freq=340.0)


def _pictures(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])


def _sound(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


def test_an_edit_encodes_only_the_parts_that_show_the_edited_segment(tmp_path: Path) -> None:
    folder = tmp_path / "story"
    manifest = _write(folder)
    cache = storyreel.PartCache(tmp_path / "cache")
    first = storyreel.render(storyreel.load_project(manifest), tmp_path / "d1.mp4",
                             draft=True, cache=cache)
    total = first.chunks_encoded
    assert total == 11 and first.chunks_reused == 0  # 6 holds, 5 crossfades

    _lengthen_second(folder)
    edited = storyreel.render(storyreel.load_project(manifest), tmp_path / "d2.mp4",
                              draft=True, cache=cache)
    # The second segment's hold and the crossfades into and out of it.
    assert edited.chunks_encoded == 3
    assert edited.chunks_reused == total - edited.chunks_encoded
    assert edited.frames > first.frames

    fresh = storyreel.render(storyreel.load_project(manifest), tmp_path / "d3.mp4", draft=True,
                             cache=storyreel.PartCache(tmp_path / "fresh"))
    assert fresh.chunks_reused == 0
    reused, scratch = _pictures(edited.path), _pictures(fresh.path)
    assert reused.shape == scratch.shape
    assert np.abs(reused.astype(int) - scratch.astype(int)).max() <= 2
    assert np.array_equal(_sound(edited.path), _sound(fresh.path))


def test_the_final_render_keeps_its_grid(tmp_path: Path) -> None:
    """The same edit in final renders moves later segments' frame counts (the cumulative
    grid, unchanged), which is why a draft rounds each segment on its own."""
    folder = tmp_path / "story"
    manifest = _write(folder)
    project = storyreel.load_project(manifest)
    cache = storyreel.PartCache(tmp_path / "cache")
    storyreel.render(project, tmp_path / "f1.mp4", cache=cache, preset="ultrafast")
    _lengthen_second(folder)
    edited = storyreel.render(storyreel.load_project(manifest), tmp_path / "f2.mp4", cache=cache,
                              preset="ultrafast")
    assert edited.chunks_encoded > 2
