"""Word boundaries in scripts written without spaces: Chinese, Japanese, Thai, Lao, Khmer,
Burmese.

ICU's dictionary-based word break iterator (through PyICU; the ``pyicu-wheels`` wheel
carries ICU and its dictionaries) cuts a run of such text into words. The language tag
chooses the ICU locale; the dictionaries themselves are picked by script, so a Japanese
quote inside a Chinese text still breaks as Japanese.
"""

from __future__ import annotations

import functools
import threading

import icu

__all__ = ["is_spaceless", "word_breaks"]

# Blocks of the scripts written without spaces between words.
_SPACELESS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x303F),  # CJK punctuation
    (0x3040, 0x30FF),  # kana
    (0x31F0, 0x31FF),  # katakana extension
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width and half-width forms
    (0x20000, 0x3134F),  # CJK extensions B-G
)
_LOCK = threading.Lock()  # an ICU break iterator holds its text: one user at a time


def is_spaceless(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    code = ord(char)
    return any(low <= code <= high for low, high in _SPACELESS)


@functools.lru_cache(maxsize=16)
def _iterator(language: str) -> icu.BreakIterator:
    return icu.BreakIterator.createWordInstance(icu.Locale(language.replace("-", "_")))


@functools.lru_cache(maxsize=4096)
def word_breaks(run: str, language: str = "en") -> tuple[str, ...]:
    """``run`` (text without spaces) cut into its words and the marks between them.

    Joined, the pieces give ``run`` back exactly.
    """
    with _LOCK:
        breaker = _iterator(language)
        breaker.setText(run)
        # ICU counts in UTF-16 code units: astral characters (CJK extension B) take two.
        units = run.encode("utf-16-le")
        pieces = []
        start = breaker.first()
        for end in breaker:
            pieces.append(units[2 * start : 2 * end].decode("utf-16-le"))
            start = end
    return tuple(piece for piece in pieces if piece)
