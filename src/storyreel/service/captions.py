"""Sidecar captions (SRT and WebVTT) timed on the render's exact timeline."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from storyreel.media.audio import SAMPLE_RATE
from storyreel.timeline.plan import Plan

__all__ = ["Cue", "cues_from_plan", "to_srt", "to_vtt", "write_captions"]

#: Longest caption shown at once: two lines of 42 characters.
MAX_CUE_CHARS = 84


@dataclass(frozen=True)
class Cue:
    """One caption: start and end in seconds and its text."""

    start: Fraction
    end: Fraction
    text: str


def _chunks(text: str) -> list[str]:
    sentences = [s for s in re.split(r"(?<=[.!?…])\s+", " ".join(text.split())) if s]
    chunks: list[str] = []
    for sentence in sentences:
        line = ""
        for word in sentence.split(" "):
            if line and len(line) + 1 + len(word) > MAX_CUE_CHARS:
                chunks.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            chunks.append(line)
    return chunks


def cues_from_plan(plan: Plan, texts: Sequence[str]) -> list[Cue]:
    """Caption each segment's text over its narration, split in readable pieces.

    Pieces share the narration in proportion to their length in characters.
    """
    cues: list[Cue] = []
    for span, text in zip(plan.spans, texts, strict=True):
        pieces = _chunks(text)
        if not pieces:
            continue
        start = Fraction(span.audio_start, SAMPLE_RATE)
        length = Fraction(max(span.narration, 1), SAMPLE_RATE)
        total = sum(len(piece) for piece in pieces)
        elapsed = 0
        for piece in pieces:
            begin = start + length * elapsed / total
            elapsed += len(piece)
            cues.append(Cue(begin, start + length * elapsed / total, piece))
    return cues


def _stamp(seconds: Fraction, sep: str) -> str:
    ms = int(seconds * 1000 + Fraction(1, 2))
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def _wrap(text: str) -> str:
    if len(text) <= MAX_CUE_CHARS // 2:
        return text
    middle = len(text) // 2
    left, right = text.rfind(" ", 0, middle + 1), text.find(" ", middle)
    candidates = [i for i in (left, right) if i > 0]
    if not candidates:
        return text
    cut = min(candidates, key=lambda i: abs(i - middle))
    return text[:cut] + "\n" + text[cut + 1:]


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip text of the cues."""
    blocks = [f"{n}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{_wrap(c.text)}\n"
              for n, c in enumerate(cues, start=1)]
    return "\n".join(blocks)


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text of the cues (for the browser's ``<track>``)."""
    blocks = [f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{_wrap(c.text)}\n"
              for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_captions(cues: Sequence[Cue], stem: Path) -> tuple[Path, Path]:
    """Write ``<stem>.srt`` and ``<stem>.vtt`` atomically; returns both paths."""
    written = []
    for suffix, text in ((".srt", to_srt(cues)), (".vtt", to_vtt(cues))):
        target = stem.with_suffix(suffix)
        temp = target.with_name(f".{target.name}.part")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
        written.append(target)
    return written[0], written[1]
