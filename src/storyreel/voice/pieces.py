"""Text cut into pieces a voice can say at once, each small enough to cost little.

A voice's memory and time grow with what it is given at once (a whole run-on sentence
of thousands of words, one "word" of thousands of letters, runs of combining marks,
strings of emoji). Before synthesis, each token of the spoken text is cleaned
(:func:`speakable`: NFC, emoji and other pictographs dropped, combining marks capped
per letter, overlong words cut), and the tokens are packed into pieces of at most
:data:`PIECE_CHARS` characters: whole sentences where they fit, else clauses, else
words. Each piece remembers which spoken token each of its words belongs to, so word
timings found per piece map back onto the text.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

__all__ = ["MARKS_PER_LETTER", "PIECE_CHARS", "WORD_CHARS", "Cut", "Piece", "pieces",
           "speakable"]

#: The longest piece given to a voice at once (characters of spoken text).
PIECE_CHARS = 300
#: The longest word given to a voice; a longer one is cut into words of this length.
WORD_CHARS = 40
#: Combining marks kept on one letter (after NFC; Vietnamese needs two).
MARKS_PER_LETTER = 2

_SENTENCE_END = frozenset(".!?\u2026")
_CLAUSE_END = frozenset(",;:\u2014\u2013")
_CLOSERS = "\"')]}\u201d\u2019\u00bb"
#: Symbols a voice may say ("30 degrees", "copyright"); other pictographs are dropped.
_SAID_SYMBOLS = frozenset("\u00a9\u00ae\u00b0\u2122")
_DROPPED = frozenset(("So", "Sk", "Cc", "Cf", "Co", "Cs", "Cn"))


class Cut(enum.IntEnum):
    """Where a piece ends, weakest first: the pause that belongs there."""

    WORD = 1
    CLAUSE = 2
    SENTENCE = 3


@dataclass(frozen=True)
class Piece:
    """Text given to a voice at once.

    Attributes:
        text: What the voice says (whitespace-separated words).
        tokens: For each word of ``text``, the index of the spoken token it belongs to
            (a token cut into several words appears several times).
        cut: What follows it: the end of a sentence, of a clause, or only a word.
    """

    text: str
    tokens: tuple[int, ...]
    cut: Cut


def speakable(token: str) -> str:
    """``token`` as a voice should get it: NFC, without emoji, pictographs, controls or
    variation selectors, and at most :data:`MARKS_PER_LETTER` combining marks per letter.
    """
    kept: list[str] = []
    marks = 0
    for char in unicodedata.normalize("NFC", token):
        category = unicodedata.category(char)
        if category in _DROPPED and char not in _SAID_SYMBOLS:
            continue
        if category.startswith("M"):
            if not kept or marks >= MARKS_PER_LETTER or _is_selector(char):
                continue
            marks += 1
        else:
            marks = 0
        kept.append(char)
    return "".join(kept)


def _is_selector(char: str) -> bool:
    """Variation selectors and emoji modifiers: marks that say nothing."""
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or code == 0x20E3


def _cut_after(word: str) -> Cut:
    end = word.rstrip(_CLOSERS)[-1:]
    if end in _SENTENCE_END:
        return Cut.SENTENCE
    if end in _CLAUSE_END:
        return Cut.CLAUSE
    return Cut.WORD


@dataclass(frozen=True)
class _Word:
    text: str
    token: int
    cut: Cut


def _words(spoken: str, word_chars: int) -> list[_Word]:
    words = []
    for index, token in enumerate(spoken.split()):
        clean = speakable(token)
        chunks = [clean[at:at + word_chars] for at in range(0, len(clean), word_chars)]
        words += [_Word(chunk, index, Cut.WORD) for chunk in chunks[:-1]]
        if chunks:
            words.append(_Word(chunks[-1], index, _cut_after(chunks[-1])))
    return words


def _span(words: list[_Word]) -> int:
    return sum(len(w.text) for w in words) + len(words) - 1


def _atoms(words: list[_Word], limit: int, level: Cut = Cut.SENTENCE) -> list[list[_Word]]:
    """Runs of words ending at ``level`` (or the end), cut at weaker levels where too long."""
    runs: list[list[_Word]] = [[]]
    for word in words:
        runs[-1].append(word)
        if word.cut >= level:
            runs.append([])
    atoms = []
    for run in runs:
        if not run:
            continue
        if _span(run) <= limit or level == Cut.WORD:
            atoms.append(run)
        else:
            atoms += _atoms(run, limit, Cut(level - 1))
    return atoms


def pieces(spoken: str, limit: int = PIECE_CHARS, word_chars: int = WORD_CHARS) -> list[Piece]:
    """``spoken`` (normalised text) as pieces of at most ``limit`` characters.

    Whole sentences are packed together while they fit; a longer sentence is cut at
    clause punctuation, a longer clause between words. Tokens with nothing to say
    (emoji alone) belong to no piece.

    Args:
        spoken: The text as the voice should say it (:func:`~storyreel.voice.normalize.normalise`).
        limit: The longest piece, in characters (at least ``word_chars``).
        word_chars: The longest word; longer ones are cut.

    Returns:
        The pieces in order; empty when nothing in the text can be said.
    """
    result: list[Piece] = []
    current: list[_Word] = []
    for atom in _atoms(_words(spoken, word_chars), limit):
        if current and _span(current) + 1 + _span(atom) > limit:
            result.append(_piece(current))
            current = []
        current += atom
    if current:
        result.append(_piece(current))
    return result


def _piece(words: list[_Word]) -> Piece:
    return Piece(" ".join(w.text for w in words), tuple(w.token for w in words), words[-1].cut)
