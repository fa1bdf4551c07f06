"""Text cut into bounded pieces before a voice gets it: sentences, then clauses, then
words; emoji dropped, combining marks capped, overlong words cut."""

from __future__ import annotations

import itertools
import unicodedata

import pytest

from storyreel.voice.normalize import normalise
from storyreel.voice.pieces import (
    MARKS_PER_LETTER,
    PIECE_CHARS,
    WORD_CHARS,
    Cut,
    Piece,
    pieces,
    speakable,
)

_WORDS = ["the", "old", "river", "kept", "running", "past", "the", "quiet", "town", "and",
          "over", "the", "hills"]


def _run_on(size: int) -> str:
    return " ".join(_WORDS[i % len(_WORDS)] for i in range(size))[:size]


HOSTILE = {
    "run-on": _run_on(20_000),
    "one word": "x" * 20_000,
    "spread marks": "Say " + "a\u0301" * 10_000,
    "stacked marks": "Say a" + "\u0301" * 10_000 + " now.",
    "glued emoji": "Look " + "\U0001F600\U0001F3FD" * 5_000 + " there.",
    "spaced emoji": " ".join(f"{w} \U0001F600" for w in _WORDS * 300),
    "clauses": ", ".join(_run_on(150) for _ in range(100)),
    "hyphens": "-".join(["ab"] * 5_000),
}


def _marks_per_letter(text: str) -> int:
    most = run = 0
    for char in text:
        run = run + 1 if unicodedata.category(char).startswith("M") else 0
        most = max(most, run)
    return most


def _words_by_token(parts: list[Piece]) -> dict[int, str]:
    joined: dict[int, str] = {}
    for piece in parts:
        for word, token in zip(piece.text.split(), piece.tokens, strict=True):
            joined[token] = joined.get(token, "") + word
    return joined


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_piece_and_word_is_bounded(name: str) -> None:
    spoken = normalise(HOSTILE[name])
    parts = pieces(spoken)
    assert parts
    assert max(len(p.text) for p in parts) <= PIECE_CHARS
    assert max(len(w) for p in parts for w in p.text.split()) <= WORD_CHARS
    assert max(_marks_per_letter(p.text) for p in parts) <= MARKS_PER_LETTER
    # Nothing is lost or reordered: each token's words, joined, are the token made
    # speakable, and tokens come in order.
    tokens = spoken.split()
    expected = {i: speakable(t) for i, t in enumerate(tokens) if speakable(t)}
    assert _words_by_token(parts) == expected
    order = [t for p in parts for t in p.tokens]
    assert order == sorted(order)


def test_an_ordinary_text_is_one_piece_as_written() -> None:
    text = "The keeper climbed the stairs. Every night, for forty years, he lit the lamp!"
    (piece,) = pieces(text)
    assert piece.text == text
    assert piece.cut == Cut.SENTENCE


def test_sentences_are_kept_whole_when_they_fit() -> None:
    sentence = "The old river kept running past the quiet town and over the hills."
    parts = pieces(" ".join([sentence] * 40))
    assert len(parts) > 1
    for piece in parts:
        assert piece.text.endswith(".")
        assert piece.cut == Cut.SENTENCE
    fit = (PIECE_CHARS + 1) // (len(sentence) + 1)  # as many whole sentences as fit
    counts = [fit] * (40 // fit) + ([40 % fit] if 40 % fit else [])
    assert [p.text.count(".") for p in parts] == counts


def test_a_long_sentence_is_cut_at_clauses_then_words() -> None:
    clause = _run_on(120)
    parts = pieces(", ".join([clause] * 10) + ".")
    assert [p.cut for p in parts[:-1]] == [Cut.CLAUSE] * (len(parts) - 1)
    assert all(p.text.endswith(",") for p in parts[:-1])
    run_on = pieces(_run_on(2_000) + ".")
    assert [p.cut for p in run_on] == [Cut.WORD] * (len(run_on) - 1) + [Cut.SENTENCE]
    # Greedy: each piece but the last is as full as a whole next word allows.
    for piece, following in itertools.pairwise(run_on):
        assert len(piece.text) + 1 + len(following.text.split()[0]) > PIECE_CHARS


def test_a_word_longer_than_the_bound_is_cut() -> None:
    parts = pieces("a " + "y" * 100 + " b")
    words = [w for p in parts for w in p.text.split()]
    assert words == ["a", "y" * WORD_CHARS, "y" * WORD_CHARS, "y" * 20, "b"]
    assert [t for p in parts for t in p.tokens] == [0, 1, 1, 1, 2]


def test_legitimate_accents_are_kept_and_made_nfc() -> None:
    assert speakable("cafe\u0301") == "caf\u00e9"
    for word in ("na\u00efve", "Vi\u1ec7t", "\u1ea4n", "Z\u00fcrich", "se\u00f1or"):
        assert speakable(word) == unicodedata.normalize("NFC", word)
    assert speakable("e\u0323\u0302") == "\u1ec7"  # NFD with two marks: one letter


def test_runs_of_marks_are_capped_per_letter() -> None:
    capped = speakable("a" + "\u0301\u0300\u0302\u0303" * 2_500 + "b" + "\u0308" * 50)
    assert _marks_per_letter(capped) == MARKS_PER_LETTER
    assert [c for c in capped if not unicodedata.category(c).startswith("M")] == ["\u00e1", "b"]
    assert speakable("\u0301" * 100) == ""  # marks on nothing


def test_emoji_and_pictographs_are_not_spoken() -> None:
    text = ("hi\U0001F600 there \U0001F44D\U0001F3FD ok \U0001F1EB\U0001F1F7 1\ufe0f\u20e3 "
            "\U0001F468\u200d\U0001F469\u200d\U0001F467 \u2764\ufe0f end\u2605")
    assert [speakable(t) for t in text.split()] == ["hi", "there", "", "ok", "", "1", "", "",
                                                    "end"]
    assert pieces("\U0001F600 \U0001F600\U0001F600 \u2764\ufe0f") == []
    assert speakable("30\u00b0") == "30\u00b0"  # symbols a voice reads stay


def test_unspoken_tokens_belong_to_no_piece() -> None:
    (piece,) = pieces("one \U0001F600 two")
    assert piece.text == "one two"
    assert piece.tokens == (0, 2)
