"""A segment's length before its narration exists, estimated from its words counted the
way the captions count them: by ICU's word breaker in Chinese, Japanese and Thai."""

from __future__ import annotations

from typing import Any

import icu
from studiokit import Studio

from storyreel.words import WORDS_PER_SECOND

CHINESE = "今天我们去山里旅行。早上的阳光照在河面上，鸟儿在树上唱歌。"  # noqa: RUF001
SPANISH = "Por la mañana el sol brilla sobre el río."


def _icu_words(text: str, locale: str) -> int:
    """Words as ICU's break iterator tags them (letters, kana, ideographs), counted
    without the captions' code: punctuation is no word."""
    breaker = icu.BreakIterator.createWordInstance(icu.Locale(locale))
    breaker.setText(text)
    count = 0
    for _ in breaker:
        count += breaker.getRuleStatus() >= 100  # UBRK_WORD_LETTER and above
    return count


def _project(studio: Studio, language: str, segments: list[dict[str, Any]]) -> dict[str, Any]:
    created = studio.client.post("/api/projects/", json={"title": "Lengths",
                                                          "segments": segments})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    studio.client.patch(f"/api/projects/{pid}/",
                        json={"settings": {"language": language}}).raise_for_status()
    return dict(studio.client.get(f"/api/projects/{pid}/").json())


def test_a_chinese_segment_is_estimated_from_its_words_not_its_spaces(
        studio: Studio) -> None:
    project = _project(studio, "zh", [{"text": CHINESE}, {"text": SPANISH, "language": "es"},
                                      {"text": ""}])
    chinese, spanish, empty = project["segment_list"]
    words = _icu_words(CHINESE, "zh")
    assert words >= 12  # not one "word" per space-free sentence
    assert chinese["seconds"] == round(words / WORDS_PER_SECOND, 3)
    assert spanish["seconds"] == round(len(SPANISH.split()) / WORDS_PER_SECOND, 3)
    assert empty["seconds"] == 0
    # The project's language counts for segments without their own.
    pid = project["id"]
    studio.client.patch(f"/api/projects/{pid}/",
                        json={"settings": {"language": "ja"}}).raise_for_status()
    again = studio.client.get(f"/api/projects/{pid}/").json()["segment_list"][0]
    assert again["seconds"] == round(_icu_words(CHINESE, "ja") / WORDS_PER_SECOND, 3)


def test_the_chapter_check_counts_chinese_words(studio: Studio) -> None:
    # Four 20-word Chinese segments last about 8 s each: long enough chapters. Counted by
    # spaces, each would be one word (0.4 s) and the check would call them too short.
    text = CHINESE * 2
    segments = [{"text": text, "chapter": f"第{n}章"} for n in range(1, 5)]
    chapters = _project(studio, "zh", segments)["chapters"]
    seconds = _icu_words(text, "zh") / WORDS_PER_SECOND
    assert seconds >= 10
    assert chapters["ok"] is True, chapters
