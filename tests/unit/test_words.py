"""Estimated word timings: every token placed, in order, inside the speech."""

from __future__ import annotations

from storyreel.timeline.words import estimate_words


def test_every_token_is_placed_in_order_inside_speech() -> None:
    speech = [(4_800, 48_000), (72_000, 120_000)]
    text = "Deep in the heart of the jungle, a city waits."
    timings = estimate_words(text, speech, 130_000)
    assert timings.source == "estimated"
    assert [w.text for w in timings.words] == text.split(" ")
    assert timings.words[0].start == 4_800
    assert timings.words[-1].end == 120_000
    for before, after in zip(timings.words, timings.words[1:], strict=False):
        assert before.start < before.end <= after.start
    inside = [any(a <= w.start < b for a, b in speech) for w in timings.words]
    assert len(inside) == 10 and all(inside)


def test_no_speech_found_spreads_words_over_the_whole_narration() -> None:
    timings = estimate_words("one two", [], 48_000)
    assert [(w.start, w.end) for w in timings.words] == [(0, 24_000), (24_000, 48_000)]


def test_empty_text_or_empty_narration_gives_no_words() -> None:
    assert estimate_words("   ", [(0, 100)], 100).words == ()
    assert estimate_words("word", [], 0).words == ()
