"""Real renders in scripts other than Latin: the spoken word's highlight, read back from the
decoded video, moves right to left in Arabic and word by word through Chinese."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

import storyreel
from media import bursts, write_manifest, write_solid, write_wav
from storyreel.frames import text as text_module

SETTINGS = {
    "preset": "ultrafast", "gap": 0.0, "transitions": {"crossfade": 0.0},
    "loudness": {"enabled": False},
    "subtitles": {"style": "word", "size": 0.16, "outline": 0.0, "color": "#FFFFFF",
                  "highlight_color": "#FF0000", "min_words": 2, "max_words": 4,
                  "sidecar": False},
}


def _frames(path: Path) -> list[NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _lit_centres(frames: list[NDArray[np.uint8]]) -> list[list[float]]:
    """Per caption shown (its ink's extent unchanged), the lit word's centre in each frame
    where one is lit, in time order."""
    captions: list[list[float]] = []
    extent: tuple[int, int] | None = None
    for rgb in frames:
        pixels = rgb.astype(int)
        red = (pixels[:, :, 0] > 170) & (pixels[:, :, 1] < 90) & (pixels[:, :, 2] < 90)
        ink = red | (pixels.min(axis=2) > 200)
        columns = ink.any(axis=0).nonzero()[0]
        if columns.size == 0 or not red.any():
            extent = None
            continue
        here = (int(columns.min()) // 4, int(columns.max()) // 4)
        if here != extent:
            captions.append([])
            extent = here
        centre = float(red.nonzero()[1].mean())
        if not captions[-1] or abs(captions[-1][-1] - centre) > 2:
            captions[-1].append(centre)
    return captions


@pytest.mark.parametrize(("language", "text", "leftward"), [
    ("ar", "مرحبا بكم في المدينة القديمة", True),
    ("zh-Hans", "我们今天去公园散步。", False),
])
def test_the_highlight_follows_the_words_in_reading_order(
        tmp_path: Path, language: str, text: str, leftward: bool) -> None:
    if not text_module._shaped() and language == "ar":
        pytest.skip(text_module.UNSHAPED)
    image = write_solid(tmp_path / "dark.png", (320, 180), (30, 30, 40))
    spans = [(0.1 + 0.5 * k, 0.45 + 0.5 * k) for k in range(5)]
    audio = write_wav(tmp_path / "voice.wav", bursts(spans, 2.7), 48_000)
    manifest = write_manifest(tmp_path, [{"image": image.name, "audio": audio.name,
                                          "text": text}],
                              width=320, height=180, fps=25,
                              settings={**SETTINGS, "language": language})
    result = storyreel.render(storyreel.load_project(manifest), tmp_path / "out.mp4")
    assert not any("no available font" in w for w in result.warnings)
    captions = [c for c in _lit_centres(_frames(result.path)) if c]
    assert sum(len(c) for c in captions) >= 4  # word by word, not a whole chunk at once
    for centres in captions:
        steps = np.diff(centres)
        assert (steps < 0).all() if leftward else (steps > 0).all(), centres
