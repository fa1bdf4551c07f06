"""Caption chunks and their timing on the narration."""

from __future__ import annotations

import random
from itertools import pairwise

import numpy as np
import pytest
from numpy.typing import NDArray

from media import speech_regions
from storyreel.timeline.captions import CueSpan, split_chunks, time_chunks
from storyreel.timeline.wordbreak import word_breaks
from storyreel.timeline.words import WORD_BREAK

RATE = 48_000


def s(seconds: float) -> int:
    return round(seconds * RATE)


# --- split_chunks -------------------------------------------------------------------------


def test_breaks_at_punctuation() -> None:
    assert split_chunks(
        "Deep in the heart of the valley, the first light touched the ancient stones."
    ) == ["Deep in the heart of the valley,", "the first light touched the ancient stones."]
    assert split_chunks("When the stars came out, the city seemed to breathe again, just for "
                        "a moment.") == [
        "When the stars came out,", "the city seemed to breathe again,", "just for a moment."
    ]


def test_no_orphan_after_short_sentence() -> None:
    chunks = split_chunks("Yes. I think we should go now, before the storm comes.")
    assert chunks[0].startswith("Yes. I")
    assert all(len(c.split()) >= 2 for c in chunks)


def test_abbreviations_and_initials_do_not_end_a_chunk() -> None:
    text = "Then Mr. Smith and Dr. Jones met J. R. Tolkien at the old inn by the river."
    for chunk in split_chunks(text):
        assert not chunk.endswith(("Mr.", "Dr.", "J.", "R."))
    assert " ".join(split_chunks(text)) == text


def test_short_texts_stay_whole() -> None:
    assert split_chunks("One") == ["One"]
    assert split_chunks("Two words") == ["Two words"]
    assert split_chunks("Four little words here") == ["Four little words here"]


def test_empty_and_symbol_only() -> None:
    assert split_chunks("") == []
    assert split_chunks(" \n\t ") == []
    assert split_chunks("🎉  🎉") == ["🎉 🎉"]


def test_bad_limits() -> None:
    with pytest.raises(ValueError):
        split_chunks("a b c", min_words=5, max_words=3)


def test_chunk_does_not_end_on_an_article() -> None:
    for chunk in split_chunks(
        "The old keeper remembered the songs and he sang them every single night to the "
        "stars above the valley of the kings"
    )[:-1]:
        assert chunk.split()[-1].lower() not in {"the", "a", "of", "to", "and"}


def test_unicode_words_and_dashes_kept() -> None:
    text = "Café — naïve résumé, über alles! Él dijo: «¡hola, qué tal!»"
    chunks = split_chunks(text)
    assert chunks == ["Café — naïve résumé, über alles!", "Él dijo: «¡hola, qué tal!»"]
    decomposed = "Cafe\u0301 ole\u0301 and more words to read here now"
    assert "Café" in split_chunks(decomposed)[0]  # normalised to NFC


def _plain(chunks: list[str]) -> list[str]:
    return [c.replace(WORD_BREAK, "") for c in chunks]


def test_cjk_split_at_words_and_punctuation() -> None:
    chunks = split_chunks(
        "长江是中国最长的河流，全长约六千三百公里，流经十一个省市自治区，最后注入东海。",  # noqa: RUF001
        language="zh",
    )
    assert _plain(chunks) == [
        "长江是中国最长的河流，", "全长约六千三百公里，", "流经十一个省市自治区，",  # noqa: RUF001
        "最后注入东海。",
    ]
    assert chunks[0].split(WORD_BREAK)[:4] == ["长江", "是", "中国", "最长"]
    story = ("昔々、ある村に、おじいさんとおばあさんが住んでいました。"
             "ある日、おじいさんは山へ芝刈りに行きました。")
    japanese = _plain(split_chunks(story, language="ja"))
    assert "".join(japanese) == story
    assert all(4 <= len(c) <= 16 for c in japanese)
    words = {0}
    for piece in word_breaks(story, "ja"):
        words.add(max(words) + len(piece))
    cuts = {sum(len(c) for c in japanese[:k]) for k in range(len(japanese) + 1)}
    assert cuts <= words  # no cut inside a word ("おじいさん" stays whole)
    assert _plain(split_chunks("「こんにちは」と彼は言った。", language="ja")) == [
        "「こんにちは」と彼は言った。"]
    mixed = "我喜欢Python编程，因为它很简单。"  # noqa: RUF001
    assert "".join(_plain(split_chunks(mixed, language="zh"))) == mixed


def test_random_texts_keep_every_word_and_never_orphan() -> None:
    rng = random.Random(7)
    vocab = ["river", "the", "stone", "a", "light,", "night.", "of", "city", "sang", "old",
             "wind;", "keeper", "walls", "and", "moment!", "hills", "ancient", "to"]
    for _ in range(300):
        words = [rng.choice(vocab) for _ in range(rng.randint(1, 40))]
        chunks = split_chunks(" ".join(words), min_words=3, max_words=7)
        assert " ".join(chunks).split() == words
        if len(words) >= 2:
            assert all(len(c.split()) >= 2 for c in chunks), chunks
        assert all(len(c.split()) <= 8 for c in chunks), chunks


# --- time_chunks --------------------------------------------------------------------------

TWO = ["Deep in the heart of the valley,", "the first light touched the ancient stones."]


def _check(cues: list[CueSpan], regions: list[tuple[int, int]]) -> None:
    assert all(c.end > c.start for c in cues)
    assert all(a.end <= b.start for a, b in pairwise(cues))
    assert cues[0].start >= regions[0][0] and cues[-1].end <= regions[-1][1]


def test_boundary_lands_on_the_pause_between_phrases() -> None:
    regions = [(s(0.2), s(0.9)), (s(1.0), s(1.9)), (s(2.3), s(3.1)), (s(3.2), s(4.5))]
    cues = time_chunks(TWO, regions, s(5.0), sample_rate=RATE)
    _check(cues, regions)
    assert [c.text for c in cues] == TWO
    assert cues[0].start == s(0.2) and cues[1].end == s(4.5)
    assert s(1.9) <= cues[0].end <= s(2.3) and s(1.9) <= cues[1].start <= s(2.3)


def test_voice_slower_than_character_estimate() -> None:
    # The first phrase is drawn out: the proportional guess (~2.2 s) is nearer a short gap
    # between two words (1.5-1.62 s) than the pause after "valley," (3.0-3.35 s).
    regions = [(s(0.1), s(1.5)), (s(1.62), s(3.0)), (s(3.35), s(4.4)), (s(4.5), s(5.5))]
    cues = time_chunks(TWO, regions, s(6.0), sample_rate=RATE)
    _check(cues, regions)
    assert s(3.0) <= cues[0].end and cues[1].start <= s(3.35)


def test_long_pause_leaves_no_caption_in_its_middle() -> None:
    regions = [(s(0.2), s(2.0)), (s(4.0), s(6.0))]
    cues = time_chunks(TWO, regions, s(6.5), sample_rate=RATE)
    assert s(2.0) < cues[0].end < s(2.6)
    assert s(3.5) < cues[1].start < s(4.0)


def test_each_chunk_gets_its_own_pause_in_order() -> None:
    chunks = ["When the stars came out,", "the city seemed to breathe again,",
              "just for a moment."]
    regions = [(s(0.3), s(1.6)), (s(1.9), s(4.0)), (s(4.1), s(4.3)), (s(4.6), s(5.8))]
    cues = time_chunks(chunks, regions, s(6.0), sample_rate=RATE)
    _check(cues, regions)
    assert s(1.6) <= cues[0].end <= cues[1].start <= s(1.9)
    assert s(4.3) <= cues[1].end <= s(4.6) and s(4.3) <= cues[2].start <= s(4.6)


def test_proportional_fallback_without_pauses() -> None:
    chunks = ["aaaa bbbb", "cc dd", "eeee ffff gggg hhhh"]  # 8 / 4 / 16 letters
    regions = [(s(1.0), s(8.0))]
    cues = time_chunks(chunks, regions, s(9.0), sample_rate=RATE)
    _check(cues, regions)
    assert [c.end for c in cues[:2]] == [s(3.0), s(4.0)]
    assert [c.start for c in cues[1:]] == [s(3.0), s(4.0)]
    no_clue = time_chunks(chunks, [], s(7.0), sample_rate=RATE)
    assert no_clue[0].start == 0 and no_clue[-1].end == s(7.0)
    assert [c.end for c in no_clue[:2]] == [s(2.0), s(3.0)]


def test_minimum_duration_when_possible() -> None:
    chunks = ["one two three", "x y", "four five six seven eight nine ten eleven"]
    regions = [(0, s(6.0))]
    cues = time_chunks(chunks, regions, s(6.0), sample_rate=RATE)
    assert all(c.end - c.start >= s(0.5) for c in cues)
    crowded = time_chunks(["a b", "c d", "e f", "g h"], [(0, s(1.0))], s(1.0), sample_rate=RATE)
    lengths = [c.end - c.start for c in crowded]
    assert max(lengths) - min(lengths) <= 1 and sum(lengths) == s(1.0)


def test_more_chunks_than_pauses_and_many_pauses() -> None:
    rng = np.random.default_rng(5)
    for trial in range(200):
        n_chunks = int(rng.integers(1, 9))
        chunks = [" ".join(["word"] * int(rng.integers(2, 8))) for _ in range(n_chunks)]
        edges = np.sort(rng.choice(np.arange(1, 400), size=2 * int(rng.integers(1, 12)),
                                   replace=False)) * 480
        regions = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        cues = time_chunks(chunks, regions, 400 * 480, sample_rate=RATE)
        assert len(cues) == n_chunks, trial
        _check(cues, regions)


def test_empty_inputs() -> None:
    assert time_chunks([], [(0, 10)], 10) == []
    assert time_chunks(["a b"], [], 0) == []
    assert time_chunks([" ", ""], [(0, 10)], 10) == []


# --- end to end on audio ------------------------------------------------------------------


def _voice(phrases: list[tuple[float, float]], seconds: float) -> NDArray[np.float32]:
    rng = np.random.default_rng(2)
    n = s(seconds)
    t = np.arange(n) / RATE
    env = np.zeros(n)
    for a, b in phrases:
        env[s(a) : s(b)] = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 3.5 * t[s(a) : s(b)]))
    mono = 0.25 * env * np.sin(2 * np.pi * 160 * t) + 0.003 * rng.standard_normal(n)
    return np.stack([mono, mono]).astype(np.float32)


def narration_cues(text: str, samples: NDArray[np.float32], rate: int) -> list[CueSpan]:
    """Chunks of ``text`` timed to the speech found in ``samples``."""
    chunks = split_chunks(text)
    if not chunks:
        return []
    return time_chunks(chunks, speech_regions(samples, rate), samples.shape[-1],
                       sample_rate=rate)


def test_narration_cues_follow_the_voice() -> None:
    text = ("When the stars came out, the city seemed to breathe again, "
            "just for a moment.")
    phrases = [(0.25, 1.45), (1.8, 3.9), (4.3, 5.5)]
    cues = narration_cues(text, _voice(phrases, 6.0), RATE)
    assert [c.text for c in cues] == split_chunks(text)
    assert len(cues) == 3
    for cue, (a, b) in zip(cues, phrases, strict=True):
        assert cue.start <= s(a) + s(0.02) and cue.end >= s(b) - s(0.02), (cue, a, b)
    assert narration_cues("", _voice(phrases, 6.0), RATE) == []
