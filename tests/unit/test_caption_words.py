"""Captions timed by words: cue edges, word frames, per-frame states, one raster per state."""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path

import pytest

from storyreel.frames import text as text_module
from storyreel.frames.captions import CaptionTrack
from storyreel.frames.text import CaptionPainter, CaptionStyle
from storyreel.model.project import Project
from storyreel.render.analysis import Analysis
from storyreel.timeline.captions import (
    POP_STEPS,
    CaptionState,
    CaptionWord,
    caption_states,
    frame_words,
    pop_groups,
    word_cues,
)
from storyreel.timeline.story import build_story
from storyreel.timeline.words import Word, WordTimings

RATE = 48_000


def engine(text: str, starts: list[float], length: float = 0.3) -> WordTimings:
    words = [Word(t, round(s * RATE), round((s + length) * RATE))
             for t, s in zip(text.split(), starts, strict=True)]
    return WordTimings(tuple(words), "engine")


def test_a_cue_starts_when_its_first_word_is_spoken() -> None:
    text = "The keeper sang. Every night he sang alone."
    timings = engine(text, [0.5, 0.8, 1.1, 2.6, 2.9, 3.2, 3.5, 3.8])
    cues = word_cues(["The keeper sang.", "Every night he sang alone."], timings, [],
                     RATE * 5)
    assert [c.start for c in cues] == [round(0.5 * RATE), round(2.6 * RATE)]
    assert cues[0].end == round((1.4 + 0.3) * RATE)  # a hold after the last word
    assert cues[1].end == round((4.1 + 0.3) * RATE)
    assert [w.text for w in cues[1].words] == ["Every", "night", "he", "sang", "alone."]
    assert cues[1].words[0].start == round(2.6 * RATE)


def test_a_word_cut_between_two_cues_is_shared_by_its_letters() -> None:
    timings = WordTimings((Word("abcdef", 0, 600),), "aligned")
    cues = word_cues(["abc", "def"], timings, [], 1000)
    assert [(c.start, c.words[0].end) for c in cues] == [(0, 300), (300, 600)]


def test_estimated_or_mismatched_timings_fall_back_to_the_pauses() -> None:
    regions = [(RATE // 10, RATE), (RATE * 3 // 2, RATE * 2)]
    mismatched = WordTimings((Word("other", 0, 100),), "engine")
    cues = word_cues(["one two three", "four five six"], mismatched, regions, RATE * 2)
    assert [len(c.words) for c in cues] == [3, 3]
    for cue in cues:
        assert cue.start <= cue.words[0].start
        assert cue.words[-1].end <= cue.end
        assert all(a.end <= b.start for a, b in zip(cue.words, cue.words[1:], strict=False))


def test_word_times_are_rounded_once_to_frames_inside_the_cue() -> None:
    words = [Word("a", 0, 4800), Word("b", 19_199, 24_000), Word("c", 100_000, 100_100)]
    placed = frame_words(words, 48_000, Fraction(25), 25, 40)
    assert [(w.start, w.end) for w in placed] == [(25, 28), (35, 38), (39, 40)]


def test_states_change_on_word_frames() -> None:
    words = [CaptionWord("one", 12, 15), CaptionWord("two", 15, 18), CaptionWord("three", 20, 30)]
    word = caption_states(words, 10, 30, "word")
    assert [(f, s.mark) for f, s in word] == [(10, -1), (12, 0), (15, 1), (20, 2)]
    karaoke = caption_states(words, 10, 30, "karaoke")
    assert [(f, s.mark) for f, s in karaoke] == [(10, 0), (12, 1), (15, 2), (20, 3)]
    phrase = caption_states(words, 10, 30, "phrase")
    assert phrase == [(10, CaptionState(0, 3, -1, POP_STEPS))]


def test_pop_groups_scale_in_then_hold() -> None:
    words = [CaptionWord(t, s, s + 3) for t, s in
             (("We", 10, ), ("went", 13), ("home,", 16), ("then", 22), ("slept", 25))]
    assert pop_groups([w.text for w in words], 3) == [(0, 3), (3, 5)]
    states = caption_states(words, 10, 40, "pop")
    shown = [(f, s.first, s.stop, s.grow) for f, s in states]
    assert shown[:3] == [(10, 0, 3, 0), (11, 0, 3, 1), (12, 0, 3, 2)]
    assert (22, 3, 5, 0) in shown and (25, 3, 5, POP_STEPS) in shown


def test_pop_groups_leave_no_single_word_behind() -> None:
    assert pop_groups(["a", "b", "c", "d"], 3) == [(0, 2), (2, 4)]
    assert pop_groups(["a", "b", "c", "d", "e", "f"], 3) == [(0, 3), (3, 6)]
    assert pop_groups(["one"], 3) == [(0, 1)]


def test_each_state_is_rasterised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = []
    original = text_module._draw

    def counting(*args: object, **kwargs: object) -> object:
        drawn.append(args[3] if len(args) > 3 else kwargs.get("marks"))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(text_module, "_draw", counting)
    words = (CaptionWord("one", 0, 10), CaptionWord("two", 10, 20), CaptionWord("three", 20, 30))

    class Caption:
        start, end = 0, 30

        def __init__(self) -> None:
            self.words = words

    painter = CaptionPainter("one two three", CaptionStyle(), 320, 180, look="word")
    track = CaptionTrack(Caption(), painter, "word")
    overlays = [track.overlay(frame) for frame in range(30)]
    assert len(overlays) == 30
    assert len(drawn) == 3  # three words: three states, each drawn once
    assert len({id(o) for o in overlays}) == 3


def test_a_highlight_box_sits_behind_the_spoken_word_only() -> None:
    style = CaptionStyle(highlight=(255, 0, 0), highlight_box=True, outline=0.0)
    layout = text_module._prepare("one two three", text_module._FontChain(None), style, 320,
                                  180, [])
    assert layout is not None and [i for i, _ in layout.words] == [0, 1, 2]
    left = layout.canvas[0]
    boxes = [(r[0] - left, r[2] - left) for _, r in layout.words]
    image = text_module.caption_image("one two three", style, 320, 180)
    lit = text_module._caption_image("one two three", style, 320, 180, frozenset([1]))
    assert (lit.x, lit.y, lit.rgba.shape) == (image.x, image.y, image.rgba.shape)
    red = (lit.rgba[:, :, 0] > 200) & (lit.rgba[:, :, 1] < 60) & (lit.rgba[:, :, 3] > 200)
    assert red.sum() > 50
    _, xs = red.nonzero()
    # The box reaches past the word's own box, but not onto its neighbours.
    assert xs.min() < boxes[1][0] and xs.max() >= boxes[1][1] - 1
    assert xs.min() >= boxes[0][1] - 1 and xs.max() <= boxes[2][0] + 1
    assert not ((image.rgba[:, :, 0] > 200) & (image.rgba[:, :, 1] < 60)).any()


def test_build_story_times_cues_and_words_from_the_engine(tmp_path: Path) -> None:
    text = "Words light up one by one."
    project = Project.model_validate({
        "fps": 25, "segments": [{"image": "a.png", "audio": "a.wav", "text": text}],
        "settings": {"subtitles": {"style": "word"}, "gap": 0.2}})
    starts = [0.40, 0.62, 0.90, 1.16, 1.40, 1.62]
    analysis = Analysis([], [RATE * 2], [(64, 64)], [[(RATE // 5, RATE * 2)]],
                        words=[engine(text, starts, 0.2)], clips=[None])
    story = build_story(project, analysis)
    assert len(story.captions) == 1
    caption = story.captions[0]
    assert caption.start == 10  # 0.40 s at 25 fps: the first word's frame
    assert [w.start for w in caption.words] == [10, 16, 23, 29, 35, 41]
    assert [w.text for w in caption.words] == text.split()


def test_the_timeline_is_pure() -> None:
    folder = Path(text_module.__file__).resolve().parent.parent / "timeline"
    files = sorted(folder.glob("*.py"))
    assert len(files) >= 4
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [node.module or "" for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names]
        ours = [name for name in imported if name.startswith("storyreel")]
        # The timeline plans from the validated model and nothing else of storyreel.
        assert all(name.startswith(("storyreel.timeline", "storyreel.model")) for name in ours), (
            path.name, ours)
        assert not {"numpy", "av", "PIL", "scipy"} & {n.split(".")[0] for n in imported}


def test_a_box_of_its_own_colour_and_the_letters_in_the_highlight() -> None:
    style = CaptionStyle(highlight=(255, 0, 0), highlight_box=True,
                         highlight_box_color=(0, 0, 255), outline=0.0)
    lit = text_module._caption_image("one two three", style, 320, 180, frozenset([1]))
    rgba = lit.rgba.astype(int)
    blue = (rgba[:, :, 2] > 200) & (rgba[:, :, 0] < 60) & (rgba[:, :, 3] > 200)
    red = (rgba[:, :, 0] > 200) & (rgba[:, :, 2] < 60) & (rgba[:, :, 3] > 200)
    assert blue.sum() > 50 and red.sum() > 20
    # The red letters sit on the blue box.
    _, xs = red.nonzero()
    _, bxs = blue.nonzero()
    assert bxs.min() <= xs.min() and xs.max() <= bxs.max()
