"""Every script drawn with only the fonts the package installs: no tofu, the right word lit.

System fonts are hidden in these tests: what they draw, a fresh machine draws.
"""

from __future__ import annotations

import itertools
import os
import unicodedata
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray

from storyreel.frames import fontset
from storyreel.frames import text as text_module
from storyreel.frames.text import DEFAULT_FONT, CaptionStyle, caption_image
from storyreel.model.language import LANGUAGES, sample_caption

SAMPLES = {
    "latin": ("es", "¿Dónde está la biblioteca?"),
    "cyrillic": ("ru", "Привет, как дела сегодня"),
    "greek": ("el", "Καλημέρα σε όλους σας"),
    "arabic": ("ar", "مرحبا بكم في المدينة القديمة"),
    "hebrew": ("he", "שלום לכולם בעיר העתיקה"),
    "devanagari": ("hi", "नमस्ते, आज मौसम बहुत अच्छा है।"),
    "bengali": ("bn", "আমার সোনার বাংলা আমি তোমায় ভালবাসি"),
    "tamil": ("ta", "வணக்கம் நண்பர்களே இன்று"),
    "telugu": ("te", "నమస్కారం మిత్రులారా ఈరోజు"),
    "gujarati": ("gu", "નમસ્તે મિત્રો આજે"),
    "thai": ("th", "สวัสดี\u200bครับ\u200bวันนี้\u200bอากาศ\u200bดี"),
    "chinese": ("zh-Hans", "我们\u200b今天\u200b去\u200b公园\u200b散步。"),
    "traditional": ("zh-Hant", "我們\u200b今天\u200b去\u200b公園\u200b散步。"),
    "japanese": ("ja", "今日\u200bは\u200b公園\u200bへ\u200b行きました。"),
    "korean": ("ko", "안녕하세요 여러분 오늘은"),
}
RIGHT_TO_LEFT = {"arabic", "hebrew"}
RED = (255, 0, 0)


@pytest.fixture(autouse=True)
def _no_system_fonts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(text_module, "_system_fonts", lambda code: ())
    monkeypatch.setattr(text_module, "_KNOWN_FALLBACKS", [])
    yield


def _require_shaping(text: str) -> None:
    """Pillow's wheels load FriBiDi from the system: without it nothing is shaped, and a
    test of a script that needs shaping is skipped (failed on CI, which has it)."""
    if text_module._shaped() or not any(text_module._needs_shaping(c) for c in text):
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(text_module.UNSHAPED)
    pytest.skip(text_module.UNSHAPED)


def _mask(font: text_module.Font, char: str) -> bytes:
    return bytes(font.getmask(char))


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_each_script_is_drawn_with_shipped_fonts_not_as_boxes(script: str) -> None:
    language, text = SAMPLES[script]
    _require_shaping(text)
    image = caption_image(text, CaptionStyle(language=language), 1280, 720)
    assert image.warnings == ()
    assert np.count_nonzero(image.rgba[:, :, 3] > 128) > 500
    chain = text_module._FontChain(None, language)
    runs, missing = chain.runs(text)
    assert missing == []
    shipped = {str(DEFAULT_FONT), *(path for path, _ in fontset.bundled_fonts(language))}
    for run, index in runs:
        path, face = chain.keys[index]
        assert path in shipped
        font = text_module._load(path, face, 40)
        cmap = text_module._cmap((path, face))
        notdef = _mask(font, "\ue000")  # a private-use character: no font has it
        for char in run:
            if char.isspace() or unicodedata.category(char) in ("Cf", "Mn", "Mc"):
                continue
            assert ord(char) in cmap, f"{char!r} U+{ord(char):04X} of {script}"
            assert _mask(font, char) != notdef, f"{char!r} U+{ord(char):04X} drawn as a box"


def _lit(text: str, language: str, mark: int) -> NDArray[np.bool_]:
    style = CaptionStyle(language=language, outline=0.0, highlight=RED)
    image = text_module._caption_image(text, style, 1280, 720, frozenset([mark]))
    rgba = image.rgba.astype(int)
    red: NDArray[np.bool_] = (rgba[:, :, 0] > 200) & (rgba[:, :, 1] < 80) & (
        rgba[:, :, 3] > 128)
    return red


def _columns(mask: NDArray[np.bool_]) -> tuple[int, int]:
    xs = mask.any(axis=0).nonzero()[0]
    return int(xs.min()), int(xs.max())


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_the_highlight_moves_word_by_word_in_reading_order(script: str) -> None:
    language, text = SAMPLES[script]
    _require_shaping(text)
    count = len(text_module._WORD.findall(text))
    assert count >= 3
    spans = []
    for mark in range(count):
        lit = _lit(text, language, mark)
        assert lit.sum() > 20, f"word {mark} of {script} not lit"
        spans.append(_columns(lit))
    # Lit words never overlap, and follow each other left to right, or right to left.
    order = sorted(range(count), key=lambda k: spans[k][0])
    expected = list(range(count))[::-1] if script in RIGHT_TO_LEFT else list(range(count))
    assert order == expected
    for a, b in itertools.pairwise(order):
        assert spans[a][1] <= spans[b][0] + 1  # words without spaces touch


@pytest.mark.parametrize("script", ["arabic", "hebrew", "devanagari", "chinese", "thai"])
def test_the_lit_word_is_as_wide_as_that_word_drawn_alone(script: str) -> None:
    language, text = SAMPLES[script]
    _require_shaping(text)
    words = text_module._WORD.findall(text)
    style = CaptionStyle(language=language, outline=0.0)
    for mark in (0, len(words) - 1):
        a, b = _columns(_lit(text, language, mark))
        alone = caption_image(words[mark], style, 1280, 720).rgba[:, :, 3] > 128
        low, high = _columns(alone)
        assert abs((b - a) - (high - low)) <= 0.12 * (high - low) + 3


def test_han_characters_take_the_face_of_the_language() -> None:
    faces = {lang: fontset.cjk_face(lang) for lang in
             ("zh", "zh-Hans", "zh-CN", "zh-Hant", "zh-TW", "zh-HK", "ja", "ko", "en")}
    assert faces["zh"] == faces["zh-Hans"] == faces["zh-CN"] == faces["en"]
    assert faces["zh-Hant"] == faces["zh-TW"]
    assert len({faces["zh"], faces["zh-TW"], faces["zh-HK"], faces["ja"], faces["ko"]}) == 5
    # The same character, drawn by the Simplified Chinese and Japanese faces, differs.
    sc = caption_image("\u76f4\u9aa8", CaptionStyle(language="zh-Hans"), 640, 360)
    jp = caption_image("\u76f4\u9aa8", CaptionStyle(language="ja"), 640, 360)
    assert sc.warnings == jp.warnings == ()
    assert sc.rgba.shape != jp.rgba.shape or not np.array_equal(sc.rgba, jp.rgba)


def test_latin_stays_in_the_vendored_font_next_to_other_scripts() -> None:
    chain = text_module._FontChain(None, "hi")
    runs, missing = chain.runs("Delhi दिल्ली")
    assert missing == []
    fonts = [chain.keys[index][0] for _, index in runs]
    assert fonts[0] == str(DEFAULT_FONT)
    assert "Devanagari" in fonts[-1]


@pytest.mark.parametrize("tag", sorted(LANGUAGES))
def test_every_named_language_draws_its_sample_caption(tag: str) -> None:
    _require_shaping(sample_caption(tag))
    image = caption_image(sample_caption(tag), CaptionStyle(language=tag), 960, 540)
    assert image.warnings == ()
    assert np.count_nonzero(image.rgba[:, :, 3] > 128) > 300


def test_without_raqm_complex_scripts_are_reported_not_mirrored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_module, "_shaped", lambda: False)
    for script in ("arabic", "hebrew", "devanagari", "tamil"):
        language, text = SAMPLES[script]
        assert text_module.UNSHAPED in caption_image(text, CaptionStyle(language=language),
                                                     640, 360).warnings
    for script in ("latin", "cyrillic", "chinese", "thai"):
        language, text = SAMPLES[script]
        assert caption_image(text, CaptionStyle(language=language), 640, 360).warnings == ()
    # Drawn in logical order, so the first word is lit on the left, where it is drawn.
    language, text = SAMPLES["arabic"]
    first, last = _columns(_lit(text, language, 0)), _columns(_lit(text, language, 4))
    assert first[1] < last[0]


