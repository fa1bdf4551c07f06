"""A draft's loudness gain comes from its narrations, each measured once; the final render
keeps measuring the whole mix."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyloudnorm
import pytest

import storyreel
from media import SegmentSpec, bursts, write_project, write_wav
from storyreel.audio.loudness import LoudnessMeter, gated_loudness
from storyreel.render.draftgain import DRAFT_LOUDNESS_TOLERANCE, draft_gain
from storyreel.render.keys import FileDigests

RATE = 48_000


class _Facts:
    """A fact store in a dict, counting what was looked up and what was kept."""

    def __init__(self) -> None:
        self.kept: dict[str, dict[str, Any]] = {}
        self.remembered = 0

    def recall(self, key: str) -> dict[str, Any] | None:
        return self.kept.get(key)

    def remember(self, key: str, facts: dict[str, Any]) -> None:
        self.remembered += 1
        self.kept[key] = facts


def _voices() -> list[np.ndarray]:
    return [bursts([(0.1, 0.9), (1.1, 1.8)], 2.0, amplitude=0.1),
            bursts([(0.0, 1.6)], 2.0, amplitude=0.5, freq=310.0),
            bursts([(0.2, 0.7), (0.9, 1.9)], 2.0, amplitude=0.3, freq=180.0)]


def _project(folder: Path, voices: list[np.ndarray], **settings: Any) -> storyreel.Project:
    manifest = write_project(folder, [SegmentSpec(seconds=2.0, extra={"direction": "none"})
                                      for _ in voices],
                             settings={"loudness": {"enabled": True, "target": -16.0},
                                       **settings}, width=192, height=108)
    for i, samples in enumerate(voices):
        write_wav(folder / "audio" / f"{i + 1:03d}.wav", samples, RATE)
    return storyreel.load_project(manifest)


def _decoded(path: Path) -> np.ndarray:
    """The file's sound track as ``(samples, channels)``, decoded by FFmpeg."""
    with av.open(str(path)) as container:
        chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1).astype(np.float64).T


def test_joined_blocks_measure_the_sounds_played_one_after_another() -> None:
    """Computed another way: one meter over the sounds with silence between them."""
    voices = [voice.ravel() for voice in _voices()]
    apart = []
    edge = np.zeros(round(0.3 * RATE))
    for voice in voices:
        meter = LoudnessMeter(true_peak=False)
        padded = np.concatenate([edge, voice, edge])
        meter.add(np.stack([padded, padded]))
        apart.append(meter.block_powers())
    whole = LoudnessMeter()
    silence = np.zeros(RATE)
    joined = np.concatenate([part for v in voices for part in (v, silence)])
    whole.add(np.stack([joined, joined]))
    assert gated_loudness(np.concatenate(apart)) == pytest.approx(whole.integrated_lufs(),
                                                                   abs=0.1)


def test_only_a_changed_narration_is_measured_again(tmp_path: Path) -> None:
    voices = _voices()
    project = _project(tmp_path, voices)
    facts = _Facts()
    first = draft_gain(project, facts, FileDigests())
    assert (first.measured, first.recalled) == (3, 0)
    assert first.gain_db == pytest.approx(-16.0 - first.lufs)
    again = draft_gain(project, facts, FileDigests())
    assert (again.measured, again.recalled) == (0, 3)
    assert again.gain_db == first.gain_db

    write_wav(tmp_path / "audio" / "002.wav", voices[1] * 0.25, RATE)  # 12 dB quieter
    edited = draft_gain(project, facts, FileDigests())
    assert (edited.measured, edited.recalled) == (1, 2)
    assert edited.gain_db > first.gain_db
    alone = draft_gain(project, None, FileDigests())  # nothing kept: all measured
    assert alone.measured == 3 and alone.gain_db == pytest.approx(edited.gain_db)


def test_unreadable_kept_blocks_are_measured_again(tmp_path: Path) -> None:
    project = _project(tmp_path, _voices())
    facts = _Facts()
    draft_gain(project, facts, FileDigests())
    for key in facts.kept:
        facts.kept[key] = {"blocks": ["loud", None]}
    assert draft_gain(project, facts, FileDigests()).measured == 3


def test_a_draft_is_near_the_target_and_the_final_render_on_it(tmp_path: Path) -> None:
    """Music under the voice: the draft's estimate leaves it out, the final measures it."""
    t = np.arange(8 * RATE) / RATE
    write_wav(tmp_path / "music.wav", (0.3 * np.sin(2 * math.pi * 440 * t))[:, None], RATE)
    project = _project(tmp_path, _voices(),
                       music={"path": str(tmp_path / "music.wav"), "volume": -20})
    cache = storyreel.PartCache(tmp_path / "cache")
    draft = storyreel.render(project, tmp_path / "out" / "draft.mp4", draft=True, cache=cache)
    final = storyreel.render(project, tmp_path / "out" / "final.mp4", cache=cache)

    meter = pyloudnorm.Meter(RATE)
    drafted = meter.integrated_loudness(_decoded(draft.path))
    finished = meter.integrated_loudness(_decoded(final.path))
    assert abs(finished + 16.0) <= 0.5
    assert abs(drafted + 16.0) <= DRAFT_LOUDNESS_TOLERANCE
    assert draft.loudness is None  # a draft's sound track is not measured again
    assert final.loudness is not None and abs(final.loudness + 16.0) <= 0.5
    steps = {"narrate", "analyse", "loudness", "sound", "parts", "assemble", "verify"}
    assert steps <= set(draft.timings) and steps <= set(final.timings)
