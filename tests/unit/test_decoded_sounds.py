"""Sounds kept decoded for the next draft: the same samples as streaming them, decoded
anew when their file changes, and never more than the budget."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

import storyreel
from media import SegmentSpec, write_project, write_tone_wav, write_wav
from storyreel import MediaError
from storyreel.audio.soundtrack import story_mix
from storyreel.media.audio import DecodedSounds, decode_audio
from storyreel.render.analysis import analyse_project
from storyreel.timeline.story import build_story

RATE = 48_000


def _whole(project: storyreel.Project, sounds: DecodedSounds | None) -> np.ndarray:
    story = build_story(project, analyse_project(project, lambda done: None))
    total = story.plan.total_samples
    with story_mix(project, story, -3.0, limit=True, sounds=sounds) as mix:
        # Odd blocks, as the encoder reads them: the result must not depend on them.
        return np.concatenate([mix.read_until(min(end, total))
                               for end in range(7_919, total + 7_919, 7_919)], axis=1)


@pytest.mark.parametrize("loop", [True, False])
def test_a_mix_from_kept_sounds_is_the_streamed_mix(tmp_path: Path, loop: bool) -> None:
    t = np.arange(round(1.3 * 44_100)) / 44_100  # shorter than the story: it loops
    write_wav(tmp_path / "music.wav", (0.4 * np.sin(2 * math.pi * 330 * t))[:, None], 44_100)
    specs = [SegmentSpec(seconds=s, rate=r) for s, r in ((0.8, 22_050), (1.1, 48_000),
                                                          (0.6, 44_100))]
    project = storyreel.load_project(write_project(tmp_path, specs, settings={
        "music": {"path": str(tmp_path / "music.wav"), "volume": -6, "loop": loop},
        "transitions": {"crossfade": 0.2, "fade_in": 0.3, "fade_out": 0.5}}))
    sounds = DecodedSounds(2**24)
    streamed = _whole(project, None)
    kept = _whole(project, sounds)
    assert sounds.size > 0
    again = _whole(project, sounds)  # now read from memory
    assert np.array_equal(kept, streamed)
    assert np.array_equal(again, streamed)
    assert np.abs(streamed).max() > 0.05


def test_a_file_written_anew_is_decoded_anew(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "voice.wav", 0.5, freq=300.0)
    sounds = DecodedSounds(2**24)
    first = sounds.samples(path)
    assert first is not None and np.array_equal(first, decode_audio(path))
    assert sounds.samples(path) is first
    write_tone_wav(path, 0.7, freq=500.0)
    os.utime(path, ns=(1, 1))  # even with an old time stamp: the size differs
    second = sounds.samples(path)
    assert second is not None and second.shape[1] == round(0.7 * RATE)
    assert np.array_equal(second, decode_audio(path))
    with pytest.raises(ValueError, match="read-only"):
        second[0, 0] = 1.0  # shared between renders: nobody may change it


def test_the_budget_holds(tmp_path: Path) -> None:
    one_second = RATE * 2 * 4
    sounds = DecodedSounds(6 * one_second)
    paths = [write_tone_wav(tmp_path / f"{n}.wav", 1.0, freq=200.0 + n) for n in range(9)]
    for path in paths:
        assert sounds.samples(path) is not None
        assert sounds.size <= 6 * one_second
    long = write_tone_wav(tmp_path / "long.wav", 2.0)  # over a quarter of the budget
    assert sounds.samples(long) is None
    assert sounds.size <= 6 * one_second


def test_a_bad_file_fails_as_when_streamed(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(MediaError):
        DecodedSounds(2**20).samples(tmp_path / "bad.wav", segment=2)
    with pytest.raises(MediaError):
        DecodedSounds(2**20).samples(tmp_path / "missing.wav")
