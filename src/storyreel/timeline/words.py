"""Word timings: when each written word of a segment's text is spoken.

A :class:`Word` is one token of the segment's text *as written* (punctuation attached,
the same tokens the caption splitter sees: the pieces between spaces and the zero-width
spaces it puts between the words of Chinese, Japanese or Thai text), placed on the
narration's own clock in samples at the render's audio rate (48 kHz): sample 0 is the
first sample of that segment's narration. Timings come from the voice engine when it
gives them, from forced alignment of the known text against the recording otherwise,
and from :func:`estimate_words` (each word's share of the characters in the detected
speech) when neither can place them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["WORD_BREAK", "Word", "WordSource", "WordTimings", "caption_words", "estimate_words"]

WordSource = Literal["engine", "aligned", "estimated"]
#: The mark between two words of a script written without spaces (ZERO WIDTH SPACE).
WORD_BREAK = "\N{ZERO WIDTH SPACE}"
_WORD = re.compile(f"[^\\s{WORD_BREAK}]+")


def caption_words(text: str) -> list[str]:
    """The words of ``text``: the pieces between spaces and :data:`WORD_BREAK` marks."""
    return _WORD.findall(text)


@dataclass(frozen=True)
class Word:
    """One written word on the narration's clock.

    Attributes:
        text: The token as written in the segment's text (punctuation attached).
        start: First sample where the word is spoken.
        end: Sample after the last one (exclusive); ``end > start``.
    """

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class WordTimings:
    """Every written word of one segment, in order, and where the times came from.

    Attributes:
        words: One entry per whitespace-separated token of the text, in order; starts
            never decrease and words never overlap.
        source: ``engine`` (the voice gave them), ``aligned`` (forced alignment) or
            ``estimated`` (shares of the speech; the fallback).
    """

    words: tuple[Word, ...]
    source: WordSource


def estimate_words(text: str, speech: Sequence[tuple[int, int]], length: int) -> WordTimings:
    """Place each written word by its share of the characters over the speech time.

    Args:
        text: The segment's text.
        speech: Sample ranges where the voice speaks (pauses excluded); when empty the
            whole narration counts as speech.
        length: The narration's length in samples.

    Returns:
        Timings marked ``estimated``; an empty tuple of words for empty text.
    """
    tokens = caption_words(text)
    regions = [(max(0, a), min(length, b)) for a, b in speech if min(length, b) > max(0, a)]
    if not regions:
        regions = [(0, length)] if length > 0 else []
    talk = sum(b - a for a, b in regions)
    if not tokens or talk <= 0:
        return WordTimings((), "estimated")
    weights = [len(token) + 1 for token in tokens]
    total = sum(weights)
    edges = [0]
    for weight in weights:
        edges.append(edges[-1] + weight)
    words = []
    for token, a, b in zip(tokens, edges, edges[1:], strict=False):
        start = _speech_to_sample(regions, a * talk // total, opening=True)
        end = _speech_to_sample(regions, max(a * talk // total + 1, b * talk // total))
        words.append(Word(token, start, max(start + 1, end)))
    return WordTimings(tuple(words), "estimated")


def _speech_to_sample(regions: Sequence[tuple[int, int]], offset: int, *,
                      opening: bool = False) -> int:
    """The narration sample ``offset`` samples into the speech.

    An ``opening`` (a word's start) at a region's end moves to the next region's start.
    """
    for a, b in regions:
        if offset < b - a or (offset == b - a and not opening):
            return a + offset
        offset -= b - a
    return regions[-1][1]
