"""An intro whose sound runs far past its picture: the render reads only what it shows."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from test_features import FPS, RATE, decode_audio_mono, render_features, rms_db

from media import SegmentSpec, write_sound_clip
from storyreel.media.clip import probe_clip

RED = (220, 40, 40)


def test_an_intro_with_ten_minutes_of_sound_renders_in_little_memory(tmp_path: Path) -> None:
    # One second of picture, ten minutes of sound: 230 MB of 48 kHz stereo float whole.
    intro = write_sound_clip(tmp_path / "intro.mov", onset=0.0, seconds=600.0, frames=30,
                             rate=8_000)
    info = probe_clip(intro)
    assert info.duration == 1 and info.audio_duration is not None
    assert info.audio_duration > 590
    specs = [SegmentSpec(seconds=0.6, colour=RED, extra={"direction": "none"})]
    tracemalloc.start()
    try:
        result = render_features(tmp_path, specs, {"intro": str(intro), "gap": 0.0,
                                                   "transitions": {"crossfade": 0.0}})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64_000_000
    assert abs(result.duration - 1.6) <= 1 / FPS
    sound = decode_audio_mono(result.path).mean(axis=0)
    intro_part, segment_part = sound[RATE // 10: RATE * 9 // 10], sound[RATE * 11 // 10:]
    assert rms_db(intro_part) > -30
    # The intro's 440 Hz plays with its picture; then only the narration's 300 Hz.
    assert dominant_hz(intro_part) == 440
    assert dominant_hz(segment_part) == 300


def dominant_hz(samples: NDArray[np.float64]) -> int:
    """The loudest frequency of ``samples``, to the nearest 10 Hz."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return round(float(np.fft.rfftfreq(len(samples), 1 / RATE)[np.argmax(spectrum)]), -1)
