"""A narration that grows moves every later segment: their parts are taken from the cache,
not encoded again, captions with word timings included."""

from __future__ import annotations

from pathlib import Path

from test_chunked import FPS, textured_project

import storyreel
from media import bursts, write_wav

RATE = 48_000


def test_a_longer_narration_reencodes_only_the_parts_that_show_its_segment(
        project_dir: Path, out_dir: Path) -> None:
    manifest = textured_project(project_dir, subtitles={"enabled": True, "style": "word"})
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    # Whole frames longer, so every later segment moves by exactly 16 frames.
    samples = round(1.2 * RATE) + 16 * RATE // FPS
    write_wav(project_dir / "audio" / "003.wav",
              bursts([(0.1, 1.0), (1.1, 1.6)], samples / RATE, amplitude=0.3), RATE)
    edited = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4")
    assert edited.frames == first.frames + 16
    # Segment 3's part and the crossfade into it at the end of segment 2's part; the
    # parts of segments 4 and 5 only moved.
    assert (edited.chunks_encoded, edited.chunks_reused) == (2, first.chunks_encoded - 2)
