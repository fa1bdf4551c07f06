"""A draft after one narration changed: the segments after it keep their frame counts, so
only the parts that show the changed segment are encoded again, and the result is the
draft a render from scratch makes."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import storyreel
from media import SegmentSpec, write_clip, write_project, write_solid, write_tone_wav

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


def test_crossfade_parts_between_clips_draw_the_frames_of_one_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crossfade part starts inside the clip that fades out: its frames are the ones a
    draft cut only at holds shows (counted frames of the clip, read back)."""
    clip = write_clip(tmp_path / "story" / "count.mp4", frames=90, fps=Fraction(30),
                      size=(160, 90))
    manifest = write_project(tmp_path / "story", [SegmentSpec(seconds=1.2) for _ in range(3)],
                             settings={"transitions": {"crossfade": 0.3}},
                             width=160, height=90)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    for segment in data["segments"][:2]:
        segment["video"] = str(clip.relative_to(tmp_path / "story"))
        del segment["image"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    apart = storyreel.render(storyreel.load_project(manifest), tmp_path / "apart.mp4",
                             draft=True, cache=storyreel.PartCache(tmp_path / "c1"))
    cutting = sys.modules["storyreel.render.job"].plan_chunks
    monkeypatch.setattr(sys.modules["storyreel.render.job"], "plan_chunks",
                        lambda plan, **kw: cutting(plan, **{**kw, "apart": False}))
    together = storyreel.render(storyreel.load_project(manifest), tmp_path / "together.mp4",
                                draft=True, cache=storyreel.PartCache(tmp_path / "c2"))
    assert apart.chunks_encoded > together.chunks_encoded
    a, b = _pictures(apart.path), _pictures(together.path)
    assert a.shape == b.shape
    # The same pictures; only the encoder's choices at the part boundaries differ.
    assert np.abs(a.astype(int) - b.astype(int)).mean(axis=(1, 2)).max() < 3


def test_a_draft_prepares_no_still_the_previous_draft_prepared(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stills are kept by file across drafts: a narration edit prepares none again, a
    changed image file is prepared anew (and shows)."""
    pictures = sys.modules["storyreel.frames.pictures"]
    prepared: list[Path] = []
    loading = pictures.load_framed

    def counted(path: Path, *args: object, **kwargs: object) -> object:
        prepared.append(Path(path))
        return loading(path, *args, **kwargs)

    monkeypatch.setattr(pictures, "load_framed", counted)
    folder = tmp_path / "story"
    manifest = _write(folder)
    cache = storyreel.PartCache(tmp_path / "cache")
    storyreel.render(storyreel.load_project(manifest), tmp_path / "d1.mp4", draft=True,
                     cache=cache)
    assert len(set(prepared)) == len(_SECONDS)
    prepared.clear()
    _lengthen_second(folder)
    storyreel.render(storyreel.load_project(manifest), tmp_path / "d2.mp4", draft=True,
                     cache=cache)
    assert prepared == []

    write_solid(folder / "images" / "002.png", (192, 108), (250, 250, 250))
    redone = storyreel.render(storyreel.load_project(manifest), tmp_path / "d3.mp4",
                              draft=True, cache=cache)
    assert prepared and all(p.name == "002.png" for p in prepared)
    second = _pictures(redone.path)[70]  # inside the second segment's hold
    assert second.mean() > 200
