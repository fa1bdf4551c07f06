"""Subtitle cues from narration text: readable chunks, timed to the voice.

:func:`split_chunks` cuts a segment's text into chunks of about 3-7 words with a
small dynamic programme: it prefers to break after sentence punctuation, then
after commas, never after an article or preposition, keeps chunks balanced and
never leaves a one-word chunk. Text without spaces (Chinese, Japanese, Thai) is cut
into words by ICU's dictionaries (:mod:`storyreel.timeline.wordbreak`) and the words
are marked with zero-width spaces (:data:`~storyreel.timeline.words.WORD_BREAK`), so
chunks, lines and the word highlight follow them; punctuation that may not start a
line (full stops, commas, closing brackets, the small kana: ``NO_LINE_START``) stays
with the word before it, an opening bracket with the word after it. Chunk length
counts display width: a wide (CJK) character is two columns.

:func:`time_chunks` places the chunks on the narration. A first guess puts each
chunk boundary where its share of the characters falls in the *speech* time
(pauses excluded); then the boundaries are aligned, in order, to the detected
pauses nearest their guesses (an alignment by dynamic programming, so two
boundaries never share a pause). A boundary with no pause nearby keeps its guess.
Cues never overlap, stay in order inside the speech, and last at least
``min_duration`` when the speech is long enough for that.

:func:`word_cues` times the chunks and their words from the narration's word timings
(a cue starts on its first word); :func:`frame_words` rounds the words once to the
frame grid, and :func:`caption_states` lists what a caption shows in each frame for
the ``phrase``, ``word``, ``karaoke`` and ``pop`` styles: a new state only where a
word starts (or a ``pop`` group scales in), so each is drawn once.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

from storyreel.timeline.plan import SAMPLE_RATE, sample_to_frame
from storyreel.timeline.wordbreak import is_spaceless, word_breaks
from storyreel.timeline.words import WORD_BREAK, Word, WordTimings, caption_words, estimate_words

__all__ = [
    "POP_STEPS",
    "CaptionState",
    "CaptionWord",
    "CueSpan",
    "caption_states",
    "caption_words",
    "count_words",
    "frame_words",
    "mark_words",
    "pop_groups",
    "split_chunks",
    "time_chunks",
    "word_cues",
]

_SENTENCE_END = set(
    ".!?\N{HORIZONTAL ELLIPSIS}\N{DOUBLE EXCLAMATION MARK}\N{DOUBLE QUESTION MARK}"
    "\N{QUESTION EXCLAMATION MARK}\N{EXCLAMATION QUESTION MARK}\N{IDEOGRAPHIC FULL STOP}"
    "\N{FULLWIDTH EXCLAMATION MARK}\N{FULLWIDTH QUESTION MARK}"
    "\N{HALFWIDTH IDEOGRAPHIC FULL STOP}"
)
_CLAUSE_END = set(
    ",;:\N{EM DASH}\N{EN DASH}\N{FULLWIDTH COMMA}\N{IDEOGRAPHIC COMMA}\N{FULLWIDTH SEMICOLON}"
    "\N{FULLWIDTH COLON}\N{HALFWIDTH IDEOGRAPHIC COMMA}"
)
_CLOSERS = set(
    "\"'\N{RIGHT DOUBLE QUOTATION MARK}\N{RIGHT SINGLE QUOTATION MARK}"
    "\N{RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK})]}\N{RIGHT CORNER BRACKET}"
    "\N{RIGHT WHITE CORNER BRACKET}\N{FULLWIDTH RIGHT PARENTHESIS}"
    "\N{RIGHT BLACK LENTICULAR BRACKET}\N{RIGHT TORTOISE SHELL BRACKET}\N{RIGHT ANGLE BRACKET}"
    "\N{RIGHT DOUBLE ANGLE BRACKET}\N{RIGHT WHITE LENTICULAR BRACKET}"
    "\N{RIGHT WHITE TORTOISE SHELL BRACKET}\N{RIGHT WHITE SQUARE BRACKET}"
    "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"
)
# Words a chunk should not end on: the reader would wait for what follows.
_CLINGING = frozenset([
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "by", "from", "into", "onto",
    "than", "and", "or", "but", "nor", "as", "if", "my", "your", "his", "her", "its", "our",
    "their", "this", "that", "these", "those", "no", "not", "very", "le", "la", "les", "un",
    "une", "des", "du", "de", "au", "aux", "et", "ou", "el", "los", "las", "una", "y", "der",
    "die", "das", "ein", "eine", "und",
])
_ABBREVIATIONS = frozenset([
    "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "mt.", "jr.", "sr.", "vs.", "e.g.", "i.e.",
    "etc.", "no.", "fig.", "approx.",
])
_CHUNK_CHARS = 42  # one comfortable subtitle line
_HOLD = 0.30  # seconds a cue stays up after its last word before a long pause
_LEAD = 0.20  # seconds a cue appears before its first word after a long pause


@dataclass(frozen=True)
class CueSpan:
    """One subtitle chunk on the narration's clock.

    Attributes:
        start: First sample, counted from the start of the segment's narration.
        end: Sample after the last one (exclusive).
        text: The chunk's text.
        words: Each whitespace-separated token of ``text`` with when it is spoken, on
            the same clock (empty when not asked for).
    """

    start: int
    end: int
    text: str
    words: tuple[Word, ...] = ()


# Kinsoku: what may not start a line (or a chunk) and what may not end one.
NO_LINE_START = frozenset(
    "、。，．・：；？！ー」』）］｝〕〉》】〙〗〟’”ゝゞヽヾ々〻ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ"  # noqa: RUF001
    "ㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ゠–〜～‼⁇⁈⁉,.!?:;)]}%"  # noqa: RUF001
)
NO_LINE_END = frozenset("「『（［｛〔〈《【〘〖〝‘“([{")  # noqa: RUF001
_GAPS = " " + WORD_BREAK


@dataclass(frozen=True)
class _Unit:
    text: str  # with its punctuation and the space (or word break) that follows it
    weight: float  # 1 for a word; a word of a spaceless script, its columns / 4
    brk: int  # break strength after it: 0 none, 1 likely phrase end, 2 clause, 3 sentence
    clings: bool  # a function word that should not end a chunk


def split_chunks(text: str, *, min_words: int = 3, max_words: int = 7,
                 language: str = "en") -> list[str]:
    """Cut ``text`` into short readable chunks.

    Args:
        text: The narration text of one segment.
        min_words: Fewest words a chunk should have (the whole text may have fewer).
        max_words: Most words a chunk should have (a single longer word is kept whole).
        language: The text's language (BCP 47): the locale of the word breaker.

    Returns:
        The chunks in order; empty for blank text. Joined with spaces (or nothing,
        for text without spaces) they give back the text with its whitespace normalised
        and :data:`~storyreel.timeline.words.WORD_BREAK` between the words of scripts
        written without spaces.
    """
    if not 1 <= min_words <= max_words:
        raise ValueError("need 1 <= min_words <= max_words")
    units = _units(text, language)
    if not units:  # blank, or only symbols (emoji, dashes): nothing to cut
        return [" ".join(text.split())] if text.strip() else []
    total = sum(u.weight for u in units)
    cuts = _best_cuts(units, min_words, max_words) if total >= 2 else [0, len(units)]
    return ["".join(u.text for u in units[a:b]).strip(_GAPS) for a, b in pairwise(cuts)]


def mark_words(text: str, language: str = "en") -> str:
    """``text`` with :data:`~storyreel.timeline.words.WORD_BREAK` between the words of its
    runs without spaces (a card's title, so its lines break between words too)."""
    return " ".join(
        "".join(u.text for u in _units(word, language)).strip(_GAPS)
        if any(is_spaceless(c) for c in word) else word for word in text.split(" "))


def count_words(text: str, language: str = "en") -> int:
    """How many words the captions show for ``text``: the pieces between spaces and, in
    scripts written without spaces, the words ICU finds (``今天我们去山里旅行`` is four)."""
    return len(caption_words(mark_words(text, language)))


def _units(text: str, language: str = "en") -> list[_Unit]:
    words = unicodedata.normalize("NFC", text).replace(WORD_BREAK, "").split()
    pieces: list[str] = []
    for word in words:
        pieces.extend(_split_spaceless(word, language) if any(is_spaceless(c) for c in word)
                      else [word + " "])
    units: list[_Unit] = []
    pending = ""  # opening brackets / lone symbols waiting for the next unit
    for piece in pieces:
        if not any(c.isalnum() for c in piece) or (units and piece[0] in NO_LINE_START
                                                     and not units[-1].text.endswith(" ")):
            closing, opening = _split_opening(piece)
            if units and closing:
                last = units[-1]
                joined = last.text.removesuffix(WORD_BREAK) + closing
                units[-1] = _Unit(joined, last.weight, _strength(joined), False)
            else:
                pending += closing.removesuffix(WORD_BREAK)
            pending += opening.removesuffix(WORD_BREAK)
            continue
        piece = pending + piece
        pending = ""
        letters = [c for c in piece if c.isalnum()]
        # A word of a spaceless script weighs its display width: four columns (two CJK
        # characters, about a short Latin word) count as one word.
        weight = max(0.5, _columns("".join(letters)) / 4) if any(
            is_spaceless(c) for c in letters) else 1.0
        strength = _strength(piece)
        if _abbreviation(piece):
            units.append(_Unit(piece, weight, 0, True))
            continue
        clings = "".join(letters).lower() in _CLINGING and strength == 0
        units.append(_Unit(piece, weight, strength, clings))
    if pending and units:
        last = units[-1]
        units[-1] = _Unit(last.text + pending, last.weight, last.brk, last.clings)
    return _mark_kana_breaks(units)


def _mark_kana_breaks(units: list[_Unit]) -> list[_Unit]:
    """Japanese: hiragana followed by kanji or katakana usually starts a new phrase."""
    out = list(units)
    for i in range(len(out) - 1):
        here = [c for c in out[i].text if c.isalnum()]
        after = [c for c in out[i + 1].text if c.isalnum()]
        if (out[i].brk == 0 and here and after and _hiragana(here[-1])
                and not _hiragana(after[0]) and _is_cjk(after[0])):
            out[i] = _Unit(out[i].text, out[i].weight, 1, False)
    return out


def _hiragana(char: str) -> bool:
    return 0x3040 <= ord(char) <= 0x309F


def _split_spaceless(word: str, language: str) -> list[str]:
    """A word with no spaces (a Chinese clause, a Thai phrase) cut into its dictionary
    words, each followed by a word break, the last by a space."""
    out = [piece + WORD_BREAK for piece in word_breaks(word, language)]
    out[-1] = out[-1].removesuffix(WORD_BREAK) + " "
    return out


def _columns(text: str) -> int:
    """Display width: two columns for a wide (CJK) character, none for a combining mark."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else
               0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Cf") else 1
               for c in text)


def _is_cjk(char: str) -> bool:
    code = ord(char[0])
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x3000 <= code <= 0x303F  # CJK punctuation
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x20000 <= code <= 0x3134F  # extensions B-G
    )


def _split_opening(piece: str) -> tuple[str, str]:
    """``piece`` cut before its first opening bracket or quote (「, (, “): what closes the
    word before it, and what opens the next one."""
    for at, char in enumerate(piece):
        if char in NO_LINE_END or unicodedata.category(char) in ("Ps", "Pi"):
            return (piece[:at], piece[at:]) if piece[:at].strip(_GAPS) else ("", piece)
    return piece, ""


def _abbreviation(piece: str) -> bool:
    """``Mr.``, ``Dr.``, ``e.g.``, an initial like ``J.``: a full stop that ends no sentence."""
    word = piece.strip()
    if word.lower() in _ABBREVIATIONS:
        return True
    return len(word) == 2 and word[0].isupper() and word[1] == "."


def _strength(piece: str) -> int:
    core = piece.strip(_GAPS + "\t\n").rstrip("".join(_CLOSERS))
    if not core:
        return 0
    if core[-1] in _SENTENCE_END:
        return 3
    return 2 if core[-1] in _CLAUSE_END else 0


def _best_cuts(units: list[_Unit], min_words: int, max_words: int) -> list[int]:
    """Chunk boundaries (unit indices, 0 and len included) of least total cost."""
    n = len(units)
    cum = [0.0]
    for unit in units:
        cum.append(cum[-1] + unit.weight)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        start = end - 1
        while start >= 0 and cum[end] - cum[start] <= 2 * max_words + 1:
            if best[start] < math.inf:
                cost = best[start] + _chunk_cost(units, start, end, cum, min_words, max_words)
                if cost < best[end]:
                    best[end], back[end] = cost, start
            start -= 1
    if best[n] == math.inf:
        return [0, n]
    cuts = [n]
    while cuts[-1] > 0:
        cuts.append(back[cuts[-1]])
    return cuts[::-1]


def _chunk_cost(
    units: list[_Unit], start: int, end: int, cum: list[float], min_words: int, max_words: int
) -> float:
    words = cum[end] - cum[start]
    whole = start == 0 and end == len(units)
    if words < 2 and not whole:
        return math.inf  # a one-word chunk: an orphan
    cost = 0.0
    if words > max_words:
        cost += 50.0 * (words - max_words)
    if words < min_words and not whole:
        cost += 20.0 * (min_words - words)
    chars = sum(_columns(u.text.strip(_GAPS)) for u in units[start:end])
    cost += max(0, chars + (end - start - 1) - _CHUNK_CHARS)
    cost += 0.5 * (words - (min_words + max_words) / 2) ** 2
    last = units[end - 1]
    if end < len(units):
        cost += {3: 0.0, 2: 2.0, 1: 3.5}.get(last.brk, 6.0) + (4.0 if last.clings else 0.0)
    for unit in units[start : end - 1]:
        cost += {3: 8.0, 2: 1.5}.get(unit.brk, 0.0)
    return cost


def time_chunks(
    chunks: Sequence[str],
    regions: Sequence[tuple[int, int]],
    narration_samples: int,
    *,
    sample_rate: int = SAMPLE_RATE,
    min_duration: float = 0.5,
) -> list[CueSpan]:
    """Time ``chunks`` on a narration so each shows while its words are spoken.

    Args:
        chunks: The chunks of the segment's text, in order (from :func:`split_chunks`).
        regions: Speech regions of the narration (from
            :func:`storyreel.audio.speech.narration_speech`); empty means "no clue",
            and the chunks are spread over the whole narration.
        narration_samples: Length of the narration in samples.
        sample_rate: Samples per second.
        min_duration: Shortest cue in seconds, honoured when the speech is long
            enough (otherwise every cue gets an equal share).

    Returns:
        One cue per non-blank chunk, in order, not overlapping, inside the speech.
    """
    texts = [c.strip() for c in chunks if c.strip()]
    spans = [(max(0, a), min(b, narration_samples)) for a, b in regions]
    spans = [(a, b) for a, b in spans if b > a] or [(0, narration_samples)]
    if not texts or narration_samples <= 0:
        return []
    weights = [max(1, sum(c.isalnum() for c in t)) for t in texts]
    guesses = _guesses(weights, spans)
    gaps = list(_pauses(spans))
    strong = [_strength(t) for t in texts[:-1]]
    matched = _align(guesses, gaps, strong, sample_rate, sum(b - a for a, b in spans))
    bounds = [spans[0][0]] + [
        (gaps[p][0] + gaps[p][1]) // 2 if p is not None else g
        for g, p in zip(guesses, matched, strict=True)
    ] + [spans[-1][1]]
    least = min(round(min_duration * sample_rate), (bounds[-1] - bounds[0]) // len(texts))
    bounds = _spread(bounds, least)
    return _cues(texts, bounds, [gaps[p] if p is not None else None for p in matched],
                 least, sample_rate)


def _guesses(weights: list[int], spans: list[tuple[int, int]]) -> list[int]:
    """Where each boundary falls if speech ran at an even rate over the speech time."""
    speech = sum(b - a for a, b in spans)
    total = sum(weights)
    out = []
    done = 0
    for weight in weights[:-1]:
        done += weight
        out.append(_speech_to_sample(done * speech // total, spans))
    return out


def _speech_to_sample(offset: int, spans: list[tuple[int, int]]) -> int:
    for start, end in spans:
        if offset <= end - start:
            return start + offset
        offset -= end - start
    return spans[-1][1]


def _align(
    guesses: list[int], gaps: list[tuple[int, int]], strong: list[int], rate: int, speech: int
) -> list[int | None]:
    """For each boundary, the index of the pause it moves to (or None), in increasing order."""
    nb, ng = len(guesses), len(gaps)
    # The guess is rough: its error grows with the speech each chunk covers.
    sigma = max(0.4 * rate, 0.25 * speech / (nb + 1))
    skip = 0.5 * 2.5**2  # keeping a guess costs as much as a move of 2.5 sigma

    def match(k: int, p: int) -> float:
        start, end = gaps[p]
        dist = max(start - guesses[k], guesses[k] - end, 0)
        # Phrases end in longer pauses than words do, above all after punctuation.
        longer = min(max(math.log((end - start) / (0.15 * rate)), 0.0), 2.0)
        return 0.5 * (dist / sigma) ** 2 - (1.0 if strong[k] else 0.4) * longer

    cost = [[math.inf] * (ng + 1) for _ in range(nb + 1)]
    step: list[list[tuple[int, int]]] = [[(0, 0)] * (ng + 1) for _ in range(nb + 1)]
    for p in range(ng + 1):
        cost[0][p] = 0.0
    for k in range(1, nb + 1):
        for p in range(ng + 1):
            options = [(cost[k - 1][p] + skip, (k - 1, p))]
            if p:
                options.append((cost[k][p - 1], (k, p - 1)))
                options.append((cost[k - 1][p - 1] + match(k - 1, p - 1), (k - 1, p - 1)))
            cost[k][p], step[k][p] = min(options, key=lambda o: o[0])
    out: list[int | None] = [None] * nb
    k, p = nb, ng
    while k > 0:
        pk, pp = step[k][p]
        if pk == k - 1 and pp == p - 1:
            out[k - 1] = p - 1
        k, p = pk, pp
    return out


def _spread(bounds: list[int], least: int) -> list[int]:
    """Boundaries moved as little as possible so every cue lasts at least ``least``."""
    out = list(bounds)
    last = len(out) - 1
    for i in range(1, last):
        out[i] = max(out[i], out[i - 1] + least)
    for i in range(last - 1, 0, -1):
        out[i] = min(out[i], out[i + 1] - least)
    for i in range(1, last):  # a second forward pass settles ties from the first two
        out[i] = max(out[i], out[i - 1] + least)
    return out


def _cues(
    texts: list[str],
    bounds: list[int],
    gaps: list[tuple[int, int] | None],
    least: int,
    rate: int,
) -> list[CueSpan]:
    """Cues between ``bounds``, leaving the middle of long pauses without a caption."""
    starts, ends = bounds[:-1], bounds[1:]
    for i, gap in enumerate(gaps):
        if gap is None:
            continue
        cut = bounds[i + 1]
        ends[i] = min(cut, max(gap[0] + round(_HOLD * rate), starts[i] + least))
        starts[i + 1] = max(cut, min(gap[1] - round(_LEAD * rate), ends[i + 1] - least))
    return [CueSpan(a, b, t) for a, b, t in zip(starts, ends, texts, strict=True)]


def _pauses(spans: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The pauses between consecutive speech regions, as ``(start, end)`` sample ranges."""
    return ((a_end, b_start) for (_, a_end), (b_start, _) in pairwise(spans))


def word_cues(
    chunks: Sequence[str],
    timings: WordTimings,
    regions: Sequence[tuple[int, int]],
    narration_samples: int,
    *,
    sample_rate: int = SAMPLE_RATE,
) -> list[CueSpan]:
    """Time ``chunks`` and each of their words on a narration.

    With word timings from the voice engine or from alignment, a cue starts on the
    sample its first word is spoken and stays up until the next cue starts, or
    ``_HOLD`` after its last word before a long pause. With estimated timings (or
    timings that do not match the text), the chunks are placed by :func:`time_chunks`
    (their edges aligned to the pauses) and the words share out the speech inside
    each cue.

    Args:
        chunks: The chunks of the segment's text, in order (from :func:`split_chunks`).
        timings: Word timings of the whole segment text.
        regions: Speech regions of the narration (used for estimated timings).
        narration_samples: Length of the narration in samples.
        sample_rate: Samples per second.

    Returns:
        One cue per non-blank chunk, each with one :class:`Word` per token of its text.
    """
    texts = [c.strip() for c in chunks if c.strip()]
    words = timings.words
    tokens = [w for t in texts for w in caption_words(t)]
    if (timings.source == "estimated" or not words
            or sum(len(w.text) for w in words) != sum(len(t) for t in tokens)):
        cues = time_chunks(texts, regions, narration_samples, sample_rate=sample_rate)
        return [_estimated_words(cue, regions) for cue in cues]
    groups = _share_words(texts, words)
    least = round(0.5 * sample_rate)
    out: list[CueSpan] = []
    for index, (text, group) in enumerate(zip(texts, groups, strict=True)):
        start = group[0].start
        following = groups[index + 1][0].start if index + 1 < len(groups) else None
        end = max(group[-1].end + round(_HOLD * sample_rate), start + least)
        end = min(end, following if following is not None else narration_samples)
        out.append(CueSpan(start, max(end, start + 1), text, group))
    return out


def _estimated_words(cue: CueSpan, regions: Sequence[tuple[int, int]]) -> CueSpan:
    """``cue`` with its words spread over the speech inside it."""
    inside = [(max(a, cue.start) - cue.start, min(b, cue.end) - cue.start)
              for a, b in regions if min(b, cue.end) > max(a, cue.start)]
    local = estimate_words(cue.text, inside, cue.end - cue.start).words
    words = tuple(Word(w.text, w.start + cue.start, w.end + cue.start) for w in local)
    return CueSpan(cue.start, cue.end, cue.text, words)


def _share_words(texts: list[str], words: Sequence[Word]) -> list[tuple[Word, ...]]:
    """The words of each chunk; a word a chunk edge cuts in two is shared by its letters."""
    letters = [(w, k) for w in words for k in range(len(w.text))]
    groups: list[tuple[Word, ...]] = []
    at = 0
    for text in texts:
        group = []
        for token in caption_words(text):
            (first, a), (last, b) = letters[at], letters[at + len(token) - 1]
            at += len(token)
            start = _letter_sample(first, a)
            end = _letter_sample(last, b + 1)
            group.append(Word(token, start, max(end, start + 1)))
        groups.append(tuple(group))
    return groups


def _letter_sample(word: Word, letter: int) -> int:
    """Where letter ``letter`` of ``word`` starts, sharing its time out by letters."""
    return word.start + (word.end - word.start) * letter // len(word.text)


@dataclass(frozen=True)
class CaptionWord:
    """One word of a caption on the frame grid.

    Attributes:
        text: The token as shown (a whitespace-separated piece of the caption's text).
        start: First frame in which it is spoken.
        end: Frame after the last one in which it is spoken.
    """

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class CaptionState:
    """What one caption shows in a frame: each distinct state is rasterised once.

    Attributes:
        first: Index of the first word shown.
        stop: One past the last word shown.
        mark: The spoken word (``word``, ``pop``; -1 before the first one) or how many
            words are filled (``karaoke``); -1 for ``phrase``.
        grow: Steps into the ``pop`` scale-in; ``POP_STEPS`` once settled (and always
            for the other styles).
    """

    first: int
    stop: int
    mark: int = -1
    grow: int = 0


def frame_words(
    words: Sequence[Word], audio_start: int, fps: Fraction, first: int, end: int,
    sample_rate: int = SAMPLE_RATE,
) -> tuple[CaptionWord, ...]:
    """``words`` (on a narration starting at sample ``audio_start``) rounded once to frames.

    Starts are kept inside the caption's frames ``[first, end)`` and never decrease.
    """
    out: list[CaptionWord] = []
    for word in words:
        start = sample_to_frame(audio_start + word.start, fps, sample_rate)
        start = min(max(start, first, out[-1].start if out else first), end - 1)
        stop = min(max(sample_to_frame(audio_start + word.end, fps, sample_rate), start + 1),
                   end)
        out.append(CaptionWord(word.text, start, stop))
    return tuple(out)


#: Frames a ``pop`` group takes to scale in (at any frame rate up to 60, about 0.1 s).
POP_STEPS = 3


def caption_states(
    words: Sequence[CaptionWord], start: int, end: int, look: str, *, group: int = 3,
) -> list[tuple[int, CaptionState]]:
    """The states of one caption shown from frame ``start`` to ``end``, in frame order.

    Args:
        words: The caption's words with their frames (one per token of its text).
        start: First frame of the caption.
        end: One past its last frame.
        look: ``phrase``, ``word``, ``karaoke`` or ``pop``.
        group: Most words shown at once by ``pop``.

    Returns:
        ``(frame, state)`` pairs: each state holds from its frame until the next pair's
        frame (or ``end``); consecutive states differ; the first pair is at ``start``.
    """
    count = len(words)
    if look == "phrase" or count == 0:
        return [(start, CaptionState(0, max(count, 1), -1, POP_STEPS))]
    starts = [min(max(w.start, start), end - 1) for w in words]
    groups = pop_groups([w.text for w in words], group) if look == "pop" else [(0, count)]
    shown_from = [start if g == 0 else starts[a] for g, (a, _) in enumerate(groups)]
    changes = sorted({start, *starts, *(f + k for f in shown_from for k in range(POP_STEPS + 1))})
    out: list[tuple[int, CaptionState]] = []
    for frame in (f for f in changes if start <= f < end):
        spoken = sum(1 for s in starts if s <= frame)
        g = max(i for i, f in enumerate(shown_from) if f <= frame)
        first, stop = groups[g]
        if look == "karaoke":
            state = CaptionState(first, stop, spoken, POP_STEPS)
        else:
            grow = min(POP_STEPS, frame - shown_from[g]) if look == "pop" else POP_STEPS
            state = CaptionState(first, stop, spoken - 1, grow)
        if not out or out[-1][1] != state:
            out.append((frame, state))
    return out


def pop_groups(texts: Sequence[str], most: int) -> list[tuple[int, int]]:
    """Word ranges shown together by ``pop``: up to ``most`` words, cut after punctuation.

    A stretch of words between clause or sentence punctuation is cut into as few
    groups as fit, of sizes as even as can be (so no word is left alone when two or
    more can share a group).
    """
    groups: list[tuple[int, int]] = []
    first = 0
    for index, text in enumerate(texts):
        if _strength(text) >= 2 or index == len(texts) - 1:
            size = index + 1 - first
            count = -(-size // most)
            edges = [first + size * k // count for k in range(count + 1)]
            groups += list(pairwise(edges))
            first = index + 1
    return groups
