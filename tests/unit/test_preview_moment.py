"""A segment's first and last frame previews show the caption as the render does then."""

from __future__ import annotations

import pytest

from storyreel.render.preview import preview_state
from storyreel.timeline.captions import POP_STEPS, CaptionWord, caption_states

LOOKS = ("phrase", "word", "karaoke", "pop")
TEXTS = ("Deep in the heart of the old forest, a city slept.", "Alone", "Two words")


def _rendered(text: str, look: str) -> tuple[object, object]:
    """The first and last state the renderer gives a caption whose words start at
    uneven frames (as speech does), its first word on the caption's first frame."""
    words = text.split()
    starts = [0]
    for number in range(1, len(words)):
        starts.append(starts[-1] + 3 + 5 * (number % 3))
    timed = [CaptionWord(w, s, s + 2) for w, s in zip(words, starts, strict=True)]
    states = caption_states(timed, 0, starts[-1] + 4 * POP_STEPS, look, group=3)
    return states[0][1], states[-1][1]


@pytest.mark.parametrize("look", LOOKS)
@pytest.mark.parametrize("text", TEXTS)
def test_start_and_end_match_the_render(text: str, look: str) -> None:
    first, last = _rendered(text, look)
    assert preview_state(text.split(), look, 3, "start") == first
    assert preview_state(text.split(), look, 3, "end") == last


def test_the_first_frame_highlights_the_first_word() -> None:
    words = ["Deep", "in", "the", "heart"]
    assert preview_state(words, "word", 3, "start").mark == 0
    assert preview_state(words, "word", 3, "middle").mark == 1  # the style preview
    assert preview_state(words, "word", 3, "end").mark == 3
    assert preview_state(words, "pop", 3, "start").grow == 0  # a group scales in


def test_a_pop_group_settles_at_full_size() -> None:
    # One group, its only word spoken from the first frame: it scales in over POP_STEPS
    # frames, then holds at full size (not one step short until the caption ends).
    states = caption_states([CaptionWord("Alone", 0, 30)], 0, 30, "pop", group=3)
    assert [(frame, state.grow) for frame, state in states] == [
        (k, k) for k in range(POP_STEPS + 1)]
