"""Every spoken word of a render on the video's clock, as a JSON-ready document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storyreel.timeline.words import WordTimings

__all__ = ["words_document"]


def words_document(words: Sequence[WordTimings], starts: Sequence[int],
                   rate: int = 48_000) -> dict[str, Any]:
    """Word timings of each segment placed on the video's timeline.

    Args:
        words: Each segment's timings on its narration's clock.
        starts: Where each segment's narration starts in the video, in samples.
        rate: The sample rate of both.

    Returns:
        ``{"rate": 48000, "segments": [{"segment": 1, "source": "aligned", "words":
        [{"text": ..., "start": seconds, "end": seconds, "start_sample": ...,
        "end_sample": ...}]}]}`` with times in the video.
    """
    segments = []
    for number, (timings, start) in enumerate(zip(words, starts, strict=False), start=1):
        segments.append({"segment": number, "source": timings.source, "words": [
            {"text": w.text, "start": round((start + w.start) / rate, 3),
             "end": round((start + w.end) / rate, 3), "start_sample": start + w.start,
             "end_sample": start + w.end}
            for w in timings.words]})
    return {"rate": rate, "segments": segments}
