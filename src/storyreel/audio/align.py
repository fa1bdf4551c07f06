"""Word timings by forced alignment: where each word of a known text is spoken.

Two aligners, chosen by the text's language:

* English: pocketsphinx (its wheel ships an English acoustic model and dictionary) in
  text-alignment mode on the narration at 16 kHz; words the dictionary lacks get
  pronunciations from espeak-ng's letter-to-sound rules (:mod:`.pronounce`). When the
  whole text cannot be followed, each stretch of it is aligned on its own, in the
  window the second aligner found for it, and every stretch that aligns is kept.
* Every language (and the English stretches pocketsphinx could not follow): the
  recording warped onto the same text said by espeak-ng (:mod:`.dtw`). Where the warp
  alone would time a segment (every language but English, and English where
  pocketsphinx confirms no stretch), it is trusted when it follows the text far more
  closely than the same text reversed in time (:meth:`.dtw.Warp.follows_text`), or
  when the narration was synthesised from the text (``said``). Outside English, a warp
  that follows the text better than reversed but not by that much (a voice unlike
  espeak-ng's, such as a person's) still times the words, with a note that they could
  not be confirmed; English has pocketsphinx to confirm such voices.

Words are aligned in their spoken form (numbers and abbreviations as words, see
:mod:`storyreel.voice.normalize`) and mapped back onto the written tokens. Words no
aligner placed are timed between their placed neighbours; only when nothing can be
placed (a recording that is not speech of its text) does the caller fall back to
:func:`~storyreel.timeline.words.estimate_words`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.dsp import resample_poly
from storyreel.audio.dtw import Warp, WarpFailed, warp
from storyreel.audio.pronounce import cmu_phones
from storyreel.timeline.words import Word, WordSource, WordTimings, estimate_words
from storyreel.voice.normalize import speech_words, spoken_tokens

__all__ = ["Aligner", "AlignmentFailed", "Spans", "align_narration", "timings_from_spans"]

log = logging.getLogger("storyreel")

Spans = list[tuple[int, int] | None]
RATE = 48_000
_ALIGN_RATE = 16_000
_FRAME = RATE // 100  # pocketsphinx reports 10 ms frames
_STRETCH = 6  # tokens aligned together when the whole text cannot be followed
_MARGIN = RATE * 2 // 5  # around a stretch's window found by warping
_VARIANT = re.compile(r"\(\d+\)$")


class AlignmentFailed(Exception):
    """The aligner could not place the text (internal: callers fall back to estimates)."""


class Unconfirmed(AlignmentFailed):
    """The warp placed the words, but could not confirm that the recording says the text
    (internal: :func:`align_narration` uses ``spans`` and says so)."""

    def __init__(self, spans: Spans) -> None:
        super().__init__("the recording could not be confirmed to say its text")
        self.spans = spans


class Aligner:
    """pocketsphinx's English model in text-alignment mode, loaded on first use."""

    def __init__(self) -> None:
        self._decoder: Any = None
        self._lock = threading.Lock()

    def spans(self, tokens: Sequence[str], mono: NDArray[np.float32]) -> Spans:
        """Where each spoken token is said in ``mono`` (48 kHz), ``None`` where unknown.

        Raises:
            AlignmentFailed: Nothing could be aligned.
        """
        words = [speech_words(token) for token in tokens]
        with self._lock:
            decoder = self._load()
            known = [[w for w in group if _pronounced(decoder, w)] for group in words]
            flat = [w for group in known for w in group]
            if not flat:
                raise AlignmentFailed("no word of the text can be pronounced in English")
            segments = self._run(decoder, " ".join(flat), mono)
        if not segments:
            raise AlignmentFailed("the recording could not be matched to its text")
        if len(segments) != len(flat):
            raise AlignmentFailed("the aligner did not place every word")
        spans: Spans = []
        at = 0
        for group in known:
            placed = segments[at:at + len(group)]
            at += len(group)
            spans.append((placed[0][0], placed[-1][1]) if placed else None)
        return spans

    def place(self, tokens: Sequence[str], mono: NDArray[np.float32], language: str = "en",
              speech: Sequence[tuple[int, int]] = (), *, said: bool = False) -> Spans:
        """Where each spoken token is said in ``mono`` (48 kHz), by the aligner for
        ``language``; ``None`` for tokens neither aligner could place.

        ``said`` tells that ``mono`` is known to say the text (speech synthesised from
        it): the warp alone is then used without asking whether it follows the text.

        Raises:
            AlignmentFailed: Nothing could be placed.
        """
        english: Spans | AlignmentFailed | None = None  # pocketsphinx's answer, once asked
        if said and _is_english(language):
            # Speech made from the text: when pocketsphinx places every word, the warp
            # (there to find windows and to judge a recording) has nothing to add.
            english = self._spans_or_error(tokens, mono)
            if not isinstance(english, AlignmentFailed) and all(
                    span is not None or not speech_words(token)
                    for span, token in zip(english, tokens, strict=True)):
                return english
        found: Warp | None = None
        warped: Spans | None = None
        why = ""
        try:
            found = warp(tokens, mono, language)
            warped = found.placed()
        except WarpFailed as exc:
            why = str(exc)
        if not _is_english(language):
            if found is None or warped is None:
                raise AlignmentFailed(why)
            return _trusted(found, warped, speech, said, unsure=True)
        if warped is None and "does not sound like" in why:
            raise AlignmentFailed(why)
        if english is None:
            english = self._spans_or_error(tokens, mono)
        try:
            if isinstance(english, AlignmentFailed):
                raise english
            spans = english
            _check(spans, speech)
        except AlignmentFailed:
            if found is None or warped is None:
                raise
            return self._stretches(tokens, mono, found, warped, speech, said)
        return spans if warped is None else _merged(spans, warped)

    def _spans_or_error(self, tokens: Sequence[str],
                        mono: NDArray[np.float32]) -> Spans | AlignmentFailed:
        try:
            return self.spans(tokens, mono)
        except AlignmentFailed as exc:
            return exc

    def _stretches(self, tokens: Sequence[str], mono: NDArray[np.float32], warping: Warp,
                   warped: Spans, speech: Sequence[tuple[int, int]], said: bool) -> Spans:
        """Each stretch of :data:`_STRETCH` tokens aligned in the window warping gave it
        (a stretch that does not align is tried again in halves), then what is left
        from the end of the aligned word before it; what no stretch places keeps its
        warped span. When no stretch aligns, the warp alone, if it can be trusted."""
        sure: Spans = [None] * len(tokens)
        todo = [(first, min(len(tokens), first + _STRETCH))
                for first in range(0, len(tokens), _STRETCH)]
        while todo:
            first, last = todo.pop()
            window = _window(warped[first:last], mono.shape[0], _MARGIN)
            found = self._stretch(tokens[first:last], mono, window, speech)
            if found is not None:
                sure[first:last] = found
            elif last - first > 3:  # a word or two alone "aligns" anywhere: not tried
                middle = (first + last) // 2
                todo += [(first, middle), (middle, last)]
        self._after_placed(tokens, mono, warped, speech, sure)
        if all(span is None for span in sure):
            return _trusted(warping, warped, speech, said)
        return _merged(sure, warped)

    def _after_placed(self, tokens: Sequence[str], mono: NDArray[np.float32], warped: Spans,
                      speech: Sequence[tuple[int, int]], sure: Spans) -> None:
        """Runs left unplaced, aligned from the end of the placed word before them (the
        warp is least sure next to what could not be followed)."""
        index = 0
        while index < len(tokens):
            if sure[index] is not None:
                index += 1
                continue
            before = [s for s in sure[:index] if s is not None]
            last = min(len(tokens), index + _STRETCH // 2)
            if last - index < 2:
                break
            window = _window(warped[index:last], mono.shape[0], 3 * _MARGIN)
            if window is not None and before:
                window = (max(before[-1][1], min(window[0], before[-1][1] + _MARGIN)),
                          window[1])
            found = self._stretch(tokens[index:last], mono, window, speech)
            if found is not None:
                sure[index:last] = found
                index = last
            else:
                index += 1

    def _stretch(self, tokens: Sequence[str], mono: NDArray[np.float32],
                 window: tuple[int, int] | None, speech: Sequence[tuple[int, int]]
                 ) -> Spans | None:
        """``tokens`` aligned in ``window`` of ``mono``, or ``None``."""
        if window is None or window[1] - window[0] < RATE // 10:
            return None
        start, end = window
        try:
            found = self.spans(tokens, mono[start:end])
            shifted: Spans = [None if s is None else (s[0] + start, s[1] + start)
                              for s in found]
            _check(shifted, speech)
        except AlignmentFailed:
            return None
        return shifted

    def _load(self) -> Any:
        if self._decoder is None:
            try:
                from pocketsphinx import Decoder

                self._decoder = Decoder(lm=None, loglevel="FATAL", samprate=_ALIGN_RATE)
            except Exception as exc:  # missing wheel or model: timings are estimated
                raise AlignmentFailed(f"the aligner is not available ({exc})") from exc
        return self._decoder

    @staticmethod
    def _run(decoder: Any, text: str, mono: NDArray[np.float32]) -> list[tuple[int, int]]:
        pcm = (np.clip(resample_poly(mono, 1, RATE // _ALIGN_RATE), -1, 1) * 32767).astype("<i2")
        try:
            decoder.set_align_text(text)
            decoder.start_utt()
            decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
            decoder.end_utt()
            found = decoder.seg()
            segments = list(found) if found is not None else []
        except Exception as exc:  # pocketsphinx raises RuntimeError/ValueError alike
            raise AlignmentFailed(f"the aligner failed ({exc})") from exc
        return [(seg.start_frame * _FRAME, (seg.end_frame + 1) * _FRAME) for seg in segments
                if _VARIANT.sub("", seg.word) not in ("<s>", "</s>", "<sil>")
                and not seg.word.startswith("[")]


def align_narration(text: str, narration: NDArray[np.float32], speech: Sequence[tuple[int, int]],
                    aligner: Aligner, language: str = "en") -> tuple[WordTimings, str | None]:
    """Word timings of a recorded (or synthesised) narration of ``text``.

    Args:
        text: The segment's text as written.
        narration: Its samples at 48 kHz, shape ``(channels, n)`` or ``(n,)``.
        speech: Where the voice speaks (for the fallback and a plausibility check).
        aligner: A loaded :class:`Aligner` (shared across segments).
        language: The text's language (BCP 47): English is aligned by pocketsphinx
            first, every language by warping onto espeak-ng's speech.

    Returns:
        The timings and, when some or all of them had to be estimated, a note saying
        which and why (for a warning).
    """
    mono = narration.mean(axis=0) if narration.ndim == 2 else narration
    length = mono.shape[0]
    tokens = spoken_tokens(text, language)
    if not tokens:
        return WordTimings((), "estimated"), None
    note = None
    try:
        spans = aligner.place(tokens, mono.astype(np.float32, copy=False), language, speech)
    except Unconfirmed as exc:
        spans = exc.spans
        note = ("word timings follow the recording but could not be confirmed against the "
                "text: check that the recording says it")
    except AlignmentFailed as exc:
        return estimate_words(text, speech, length), f"word timings estimated ({exc})"
    unplaced = [word for word, span, spoken in zip(text.split(), spans, tokens, strict=True)
                if span is None and speech_words(spoken)]
    if unplaced and note is None:
        shown = ", ".join(unplaced[:5]) + (", ..." if len(unplaced) > 5 else "")
        note = f"words the aligner could not place are timed between their neighbours: {shown}"
    return timings_from_spans(text, spans, length, "aligned"), note


def _is_english(language: str) -> bool:
    return language.strip().lower().replace("_", "-").split("-")[0] == "en"


def _pronounced(decoder: Any, word: str) -> bool:
    """Whether the dictionary has ``word``, after adding espeak-ng's pronunciation if not."""
    if decoder.lookup_word(word) is not None:
        return True
    phones = cmu_phones(word)
    if phones is None:
        return False
    try:
        decoder.add_word(word, phones, True)
    except RuntimeError:  # a phone the model lacks
        return False
    return True


def _trusted(found: Warp, warped: Spans, speech: Sequence[tuple[int, int]],
             said: bool, *, unsure: bool = False) -> Spans:
    """``warped``, when the warp alone can be trusted to follow speech of the text (or
    the recording is known to say it).

    Raises:
        Unconfirmed: ``unsure`` allows a warp that follows the text only somewhat better
            than the text reversed; it carries the spans.
        AlignmentFailed: It cannot, or its words land outside the speech.
    """
    follows = "sure" if said else found.follows_text()
    if follows == "no" or (follows == "unsure" and not unsure):
        raise AlignmentFailed("the recording does not sound like its text")
    _check(warped, speech)
    if follows == "unsure":
        raise Unconfirmed(warped)
    return warped


def _window(spans: Spans, length: int, margin: int) -> tuple[int, int] | None:
    """From the first span's start to the last one's end, ``margin`` wider each side."""
    placed = [s for s in spans if s is not None]
    if not placed:
        return None
    return max(0, placed[0][0] - margin), min(length, placed[-1][1] + margin)


def _merged(spans: Spans, warped: Spans) -> Spans:
    """``spans``, with the warped span of each token they leave out."""
    return [s if s is not None else w for s, w in zip(spans, warped, strict=True)]


def _check(spans: Spans, speech: Sequence[tuple[int, int]]) -> None:
    placed = [s for s in spans if s is not None]
    if not placed:
        raise AlignmentFailed("no word of the text could be placed")
    if speech:  # forced alignment always "succeeds": words must land where the voice is
        inside = sum(_overlap(span, speech) for span in placed)
        if inside < 0.5 * sum(b - a for a, b in placed):
            raise AlignmentFailed("the recording does not sound like its text")


def _overlap(span: tuple[int, int], regions: Sequence[tuple[int, int]]) -> int:
    return sum(max(0, min(span[1], b) - max(span[0], a)) for a, b in regions)


def timings_from_spans(text: str, spans: Spans, length: int,
                       source: WordSource = "aligned") -> WordTimings:
    """Written-word timings from spans of the spoken tokens (one per written token).

    Tokens without a span are placed between their neighbours by their length.
    """
    tokens = text.split()
    if len(spans) != len(tokens):
        raise ValueError("one span per written token is needed")
    filled = _fill(tokens, [_clamp(s, length) for s in spans], length)
    words = []
    floor = 0
    for token, (start, end) in zip(tokens, filled, strict=True):
        start = max(start, floor)
        end = max(end, start + 1)
        words.append(Word(token, start, end))
        floor = end
    return WordTimings(tuple(words), source)


def _clamp(span: tuple[int, int] | None, length: int) -> tuple[int, int] | None:
    if span is None:
        return None
    start, end = max(0, min(span[0], length - 1)), max(0, min(span[1], length))
    return (start, end) if end > start else None


def _fill(tokens: Sequence[str], spans: Spans, length: int) -> list[tuple[int, int]]:
    """Give every token without a span a share of the time between its placed neighbours."""
    result: list[tuple[int, int]] = []
    index = 0
    while index < len(spans):
        span = spans[index]
        if span is not None:
            result.append(span)
            index += 1
            continue
        run_end = index
        while run_end < len(spans) and spans[run_end] is None:
            run_end += 1
        left = result[-1][1] if result else 0
        following = spans[run_end] if run_end < len(spans) else None
        right = following[0] if following is not None else length
        weights = [len(t) + 1 for t in tokens[index:run_end]]
        total, at = sum(weights), 0
        for weight in weights:
            a = left + (right - left) * at // total
            at += weight
            result.append((a, max(a + 1, left + (right - left) * at // total)))
        index = run_end
    return result
