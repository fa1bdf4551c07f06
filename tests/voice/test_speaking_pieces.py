"""A long text is spoken in bounded pieces, joined with the pause each cut calls for,
its word timings kept across the pieces; what cannot be spoken is named in one line."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from storyreel.errors import RenderCancelled, VoiceError
from storyreel.media.audio import SAMPLE_RATE, decode_audio
from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.fake import FakeEngine
from storyreel.voice.joining import CLAUSE_PAUSE, SENTENCE_PAUSE, WORD_GAP
from storyreel.voice.narrate import Narration, Narrator
from storyreel.voice.pieces import PIECE_CHARS, speakable
from storyreel.voice.speaker import RATE

_WORDS = ["the", "old", "river", "kept", "running", "past", "the", "quiet", "town", "and",
          "over", "the", "hills"]
_SLACK = RATE // 500  # 2 ms: the fake's buzz fades in from its noise floor


def _speak(tmp_path: Path, text: str, rate: int = 22_050) -> tuple[Narration, list[str]]:
    heard: list[str] = []
    engine = FakeEngine(rate, on_synthesise=heard.append)
    narrator = Narrator(NarrationCache(tmp_path / "cache"), engines=lambda voice: engine)
    return narrator.speak(text, Voice()), heard


def _gaps(spans: list[tuple[int, int]]) -> list[float]:
    return [(b[0] - a[1]) / RATE for a, b in itertools.pairwise(spans)]


def _placed(narration: Narration) -> list[tuple[int, int]]:
    spans = narration.entry.spans
    assert all(s is not None for s in spans)
    return [s for s in spans if s is not None]


def test_word_timings_hold_across_sentence_pieces(tmp_path: Path) -> None:
    sentence = " ".join(_WORDS) + "."
    text = " ".join([sentence] * 30)
    narration, heard = _speak(tmp_path, text)
    assert len(heard) > 1 and max(map(len, heard)) <= PIECE_CHARS
    assert narration.entry.source == "engine"
    spans = _placed(narration)
    assert len(spans) == len(text.split())
    # Each word lasts what the fake engine makes of it, wherever its piece landed.
    for word, (start, end) in zip(text.split(), spans, strict=True):
        expected = int((0.12 + 0.05 * len(word)) * 22_050) * RATE // 22_050
        assert expected - _SLACK <= end - start <= expected + 1, word
    gaps = _gaps(spans)
    assert min(gaps) > 0
    joins = [g for g in gaps if g >= SENTENCE_PAUSE - 0.002]
    assert len(joins) == len(heard) - 1  # only where one piece meets the next
    # Read back with the real decoder: speech inside the words, silence at the joins.
    samples = decode_audio(narration.entry.wav)[0]
    assert samples.shape[0] == pytest.approx(narration.seconds * SAMPLE_RATE, abs=2)
    for (start, end), gap in zip(spans, [*gaps, 0.0], strict=True):
        assert np.abs(samples[start:end]).max() > 0.1
        if gap >= SENTENCE_PAUSE - 0.002:
            quiet = samples[end + _SLACK:end + int(gap * RATE) - _SLACK]
            assert np.abs(quiet).max() < 1e-3


def test_clause_and_word_cuts_get_short_pauses(tmp_path: Path) -> None:
    clause = " ".join(_WORDS * 2)
    clauses, heard = _speak(tmp_path / "a", ", ".join([clause] * 8) + ".")
    assert all(piece.endswith(",") for piece in heard[:-1])
    gaps = _gaps(_placed(clauses))
    inside = 0.08  # the fake's own pause after every word
    joins = [g for g in gaps if abs(g - inside) > 0.01]
    assert len(joins) == len(heard) - 1
    assert all(CLAUSE_PAUSE[0] - 0.002 <= g <= CLAUSE_PAUSE[1] + 0.002 for g in joins)
    run_on, heard = _speak(tmp_path / "b", " ".join(_WORDS * 60))
    gaps = _gaps(_placed(run_on))
    joins = [g for g in gaps if abs(g - inside) > 0.01]
    assert len(heard) > 1 and len(joins) == len(heard) - 1
    assert all(0 < g <= WORD_GAP + 0.002 for g in joins)  # mid-sentence: no pause


def test_the_engine_never_gets_emoji_marks_or_overlong_words(tmp_path: Path) -> None:
    text = ("Look \U0001F600\U0001F3FD there, " + "a" + "\u0301" * 3_000 + " and "
            + "z" * 500 + " end.")
    narration, heard = _speak(tmp_path, text)
    said = "".join(heard).replace(" ", "")
    assert said == "".join(speakable(t) for t in text.split())
    assert "\U0001F600" not in said and "\u0301" * 3 not in said
    assert max(len(w) for piece in heard for w in piece.split()) <= 40
    spans = narration.entry.spans
    assert spans[1] is None  # the emoji alone: nothing was said for it
    long_word = spans[5]  # cut into 13 words, spoken one after another: it spans them all
    chunks = [40] * 12 + [20]
    length = sum(int((0.12 + 0.05 * n) * 22_050) for n in chunks) + 12 * int(0.08 * 22_050)
    # Where a piece ends inside it, the fake's pause of 0.08 s becomes a word gap.
    cuts = sum(a.endswith("z") and b.startswith("z") for a, b in itertools.pairwise(heard))
    assert cuts >= 1
    expected = length * RATE / 22_050 - cuts * (0.08 - WORD_GAP) * RATE
    assert long_word is not None
    assert long_word[1] - long_word[0] == pytest.approx(expected, abs=_SLACK)


def test_a_text_with_nothing_to_say_gets_a_one_line_error(tmp_path: Path) -> None:
    engine = FakeEngine()
    narrator = Narrator(NarrationCache(tmp_path), engines=lambda voice: engine)
    with pytest.raises(VoiceError) as info:
        narrator.speak("\U0001F600 \u2764\ufe0f\n\U0001F44D\U0001F3FD " + "\u0301" * 50,
                       Voice(), segment=7)
    message = str(info.value)
    assert message.startswith("segment 7 voice: ")
    assert "nothing a voice can say" in message
    assert "\n" not in message
    assert engine.calls == 0


def test_cancel_between_pieces_publishes_nothing(tmp_path: Path) -> None:
    cancel = threading.Event()
    engine = FakeEngine(on_synthesise=lambda text: engine.calls == 3 and cancel.set())

    def check() -> None:
        if cancel.is_set():
            raise RenderCancelled("render cancelled")

    narrator = Narrator(NarrationCache(tmp_path), engines=lambda voice: engine)
    job = narrator.job(" ".join([" ".join(_WORDS) + "."] * 40), Voice())
    with pytest.raises(RenderCancelled):
        narrator.speak_jobs([job], check, lambda job, result: None)
    assert engine.calls == 3
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
