"""Text without spaces (Chinese, Japanese, Thai): chunks and lines break between words."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest

from storyreel.frames import fontset
from storyreel.frames import text as text_module
from storyreel.frames.text import CaptionStyle, caption_image
from storyreel.media.sidecar import format_srt, format_vtt
from storyreel.timeline import story as story_module
from storyreel.timeline.captions import (
    NO_LINE_END,
    NO_LINE_START,
    caption_words,
    mark_words,
    split_chunks,
    word_cues,
)
from storyreel.timeline.wordbreak import is_spaceless, word_breaks
from storyreel.timeline.words import WORD_BREAK, Word, WordTimings

PARAGRAPH = (
    "长江是中国最长的河流，全长约六千三百公里，流经青海、西藏、四川、云南、重庆、湖北、"  # noqa: RUF001
    "湖南、江西、安徽、江苏和上海，最后注入东海。长江流域是中国经济最发达的地区之一，"  # noqa: RUF001
    "沿岸有许多历史悠久的城市，比如武汉、南京和重庆。"  # noqa: RUF001
)


@pytest.mark.parametrize(("language", "text", "words"), [
    ("zh", "我们今天去公园散步", ["我们", "今天", "去", "公园", "散步"]),
    ("zh-Hant", "我們今天去公園散步", ["我們", "今天", "去", "公園", "散步"]),
    ("ja", "今日は公園へ散歩に行きました", ["今日", "は", "公園", "へ", "散歩", "に"]),
    ("th", "วันนี้อากาศดีมาก", ["วัน", "นี้", "อากาศ", "ดี", "มาก"]),
])
def test_known_sentences_segment_into_their_words(language: str, text: str,
                                                  words: list[str]) -> None:
    pieces = word_breaks(text, language)
    assert "".join(pieces) == text
    assert list(pieces[: len(words)]) == words


def test_segmenting_keeps_astral_characters_whole() -> None:
    text = "\U00020000我们\U00020001今天"
    assert "".join(word_breaks(text, "zh")) == text


def test_spaceless_scripts_are_known_by_character() -> None:
    assert all(is_spaceless(c) for c in "中かカก")
    assert not any(is_spaceless(c) for c in "aЖ\u03b11 नا")


def _check_kinsoku(pieces: list[str]) -> None:
    for piece in pieces:
        bare = piece.replace(WORD_BREAK, "").strip()
        assert bare, pieces
        assert bare[0] not in NO_LINE_START, (bare, pieces)
        assert bare[-1] not in NO_LINE_END, (bare, pieces)


def test_no_chunk_starts_with_closing_punctuation_or_ends_opening() -> None:
    rng = random.Random(5)
    words = ["我们", "今天", "公园", "散步", "天气", "很好", "「东京」", "（上海）", "真的",  # noqa: RUF001
             "吗", "今日", "は", "とても", "ちょっと", "です", "ね"]
    marks = ["，", "。", "、", "！", "？", "」", "：", ""]  # noqa: RUF001
    for _ in range(200):
        text = "".join(rng.choice(words) + rng.choice(marks) for _ in range(rng.randint(2, 30)))
        text = text.lstrip("".join(NO_LINE_START))
        if not text:
            continue
        chunks = split_chunks(text, min_words=2, max_words=rng.randint(2, 8), language="zh")
        assert "".join(chunks).replace(WORD_BREAK, "") == text
        _check_kinsoku(chunks)


def test_chunks_of_chinese_are_sized_by_display_width() -> None:
    chunks = split_chunks(PARAGRAPH, language="zh")
    assert "".join(chunks).replace(WORD_BREAK, "") == PARAGRAPH
    for chunk in chunks:
        columns = 2 * len(chunk.replace(WORD_BREAK, ""))
        assert columns <= 2 * 24, chunk  # about one subtitle line of 42 columns, or a bit more
        assert len(caption_words(chunk)) >= 2


def test_a_long_chinese_paragraph_breaks_into_lines_that_fit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_module, "_system_fonts", lambda code: ())
    text = WORD_BREAK.join(word_breaks(PARAGRAPH, "zh"))
    boundaries = {0}
    for piece in text.split(WORD_BREAK):
        boundaries.add(max(boundaries) + len(piece))
    style = CaptionStyle(language="zh", max_lines=2, outline=0.0)
    width, height = 480, 854
    image = caption_image(text, style, width, height)
    assert len(image.lines) > 2  # too long for two lines: drawn smaller on more
    assert "".join(image.lines).replace(WORD_BREAK, "") == PARAGRAPH
    path, face = next(key for key in fontset.bundled_fonts("zh") if "CJK" in key[0])
    font = text_module._load(path, face, image.font_px)
    at = 0
    for line in image.lines:
        bare = line.replace(WORD_BREAK, "")
        assert font.getlength(bare) <= 0.9 * width
        assert at in boundaries  # every line starts on a word
        at += len(bare)
    _check_kinsoku(list(image.lines))


def test_the_highlight_follows_the_segmented_words() -> None:
    text = "我们今天去公园散步。"
    chunks = split_chunks(text, min_words=2, max_words=3, language="zh")
    assert [caption_words(c) for c in chunks] == [["我们", "今天", "去"], ["公园", "散步。"]]
    # The voice timed the whole clause as one token (there are no spaces in it).
    timings = WordTimings((Word(text, 4800, 4800 + 10 * 4800),), "engine")
    cues = word_cues(chunks, timings, [(4800, 52800)], 60000)
    words = [w for cue in cues for w in cue.words]
    assert [w.text for w in words] == ["我们", "今天", "去", "公园", "散步。"]
    # Each word starts where its first character falls in the clause: 0, 2, 4, 5, 7.
    assert [w.start for w in words] == [4800 + 4800 * k for k in (0, 2, 4, 5, 7)]
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))


def test_estimated_timings_give_each_segmented_word_its_own_time() -> None:
    chunks = split_chunks("วันนี้อากาศดีมาก", min_words=2, max_words=7, language="th")
    cues = word_cues(chunks, WordTimings((), "estimated"), [(0, 48000)], 48000)
    words = [w for cue in cues for w in cue.words]
    assert [w.text for w in words] == ["วัน", "นี้", "อากาศ", "ดี", "มาก"]
    assert [w.start for w in words] == sorted({w.start for w in words})


def test_webvtt_times_each_segmented_word() -> None:
    body = WORD_BREAK.join(["我们", "今天", "去"])
    words = [(Fraction(k, 2) + 1, Fraction(k + 1, 2) + 1, w)
             for k, w in enumerate(["我们", "今天", "去"])]
    text = format_vtt([(Fraction(1), Fraction(3), body)], [words])
    assert "我们<00:00:01.500>今天<00:00:02.000>去\n" in text
    assert WORD_BREAK not in text


def test_caption_files_carry_the_text_as_written() -> None:
    body = WORD_BREAK.join(["我们", "今天", "去"])
    srt = format_srt([(Fraction(1), Fraction(3), body)])
    assert srt == "1\n00:00:01,000 --> 00:00:03,000\n我们今天去\n"
    untimed = format_vtt([(Fraction(1), Fraction(3), body)])
    assert "\n我们今天去\n" in untimed and WORD_BREAK not in untimed


def test_a_title_without_spaces_breaks_between_its_words(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_module, "_system_fonts", lambda code: ())
    title = "สวนสาธารณะแห่งชาติที่ใหญ่ที่สุดในประเทศไทย"
    marked = mark_words(f"1. {title}", "th")
    assert marked.replace(WORD_BREAK, "") == f"1. {title}"
    assert marked.split(WORD_BREAK)[:2] == ["1. สวน", "สาธารณะ"]
    image = caption_image(marked, CaptionStyle(language="th", size=0.12, max_lines=3),
                          640, 360)
    assert image.warnings == () and len(image.lines) >= 2
    starts = {0}
    for piece in marked.split(WORD_BREAK):
        starts.add(max(starts) + len(piece))
    plain, at = marked.replace(WORD_BREAK, ""), 0
    for line in image.lines:
        bare = line.replace(WORD_BREAK, "").strip()
        at = plain.index(bare, at)
        assert at in starts or plain[at - 1] == " "  # each line starts on a word
        at += len(bare)


def test_two_captions_merged_keep_a_word_break_not_a_space() -> None:
    assert story_module._joined("我们今天", "去公园") == f"我们今天{WORD_BREAK}去公园"
    assert story_module._joined("Deep in", "the valley") == "Deep in the valley"
    assert story_module._joined("他说：Hello", "world") == "他说：Hello world"  # noqa: RUF001
