"""Language tags (BCP 47): what language a project's or a segment's text is written in.

A tag is validated against the IANA registry and normalised once, here (``EN_us`` becomes
``en-US``, the deprecated ``iw`` becomes ``he``), so everything downstream (speech,
normalisation, alignment, caption fonts and line breaking) compares canonical tags.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import langcodes
from pydantic import BeforeValidator, Field

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LanguageTag",
    "base_language",
    "normalise_language",
    "sample_caption",
    "speaks_language",
]

DEFAULT_LANGUAGE = "en"
_LONGEST_TAG = 35  # RFC 5646 advises keeping at least 35 characters; no real tag is longer


def normalise_language(value: str) -> str:
    """``value`` as a canonical BCP 47 tag.

    Raises:
        ValueError: ``value`` is not a well-formed tag of a registered language (the
            message names the value).
    """
    text = value.strip()
    if not text or len(text) > _LONGEST_TAG:
        raise ValueError(f"{value[:40]!r} is not a language tag (BCP 47, e.g. 'en', 'es', "
                         "'zh-Hant', 'pt-BR')")
    try:
        tag = langcodes.standardize_tag(text)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a language tag (BCP 47, e.g. 'en', 'es', "
                         f"'zh-Hant', 'pt-BR'): {exc}") from exc
    if not langcodes.tag_is_valid(tag) or langcodes.Language.get(tag).language is None:
        raise ValueError(f"{value!r} names no known language (BCP 47, e.g. 'en', 'hi', "
                         "'ar', 'zh-Hans', 'ja')")
    return tag


#: Languages offered by name (any other valid tag is accepted too): each tag with its
#: name as its speakers write it, the English name, and a caption that shows its script.
LANGUAGES: dict[str, tuple[str, str, str]] = {
    "en": ("English", "English", "Your captions follow every word"),
    "es": ("Español", "Spanish", "Tus subtítulos siguen cada palabra"),
    "fr": ("Français", "French", "Vos sous-titres suivent chaque mot"),
    "de": ("Deutsch", "German", "Deine Untertitel folgen jedem Wort"),
    "it": ("Italiano", "Italian", "I sottotitoli seguono ogni parola"),
    "pt": ("Português", "Portuguese", "Suas legendas seguem cada palavra"),
    "nl": ("Nederlands", "Dutch", "Je ondertitels volgen elk woord"),
    "pl": ("Polski", "Polish", "Napisy podążają za każdym słowem"),
    "tr": ("Türkçe", "Turkish", "Altyazıların her kelimeyi izler"),  # noqa: RUF001
    "vi": ("Tiếng Việt", "Vietnamese", "Phụ đề theo sát từng từ"),
    "id": ("Bahasa Indonesia", "Indonesian", "Teks Anda mengikuti setiap kata"),
    "ru": ("Русский", "Russian", "Субтитры следуют за каждым словом"),
    "uk": ("Українська", "Ukrainian", "Субтитри стежать за кожним словом"),
    "el": ("Ελληνικά", "Greek", "Οι υπότιτλοι ακολουθούν κάθε λέξη"),  # noqa: RUF001
    "ar": ("العربية", "Arabic", "ترافق الترجمة كل كلمة"),
    "he": ("עברית", "Hebrew", "הכתוביות עוקבות אחרי כל מילה"),
    "fa": ("فارسی", "Persian", "زیرنویس‌ها هر کلمه را دنبال می‌کنند"),  # noqa: RUF001
    "hi": ("हिन्दी", "Hindi", "आपके कैप्शन हर शब्द के साथ चलते हैं"),
    "bn": ("বাংলা", "Bengali", "আপনার ক্যাপশন প্রতিটি শব্দ অনুসরণ করে"),
    "ta": ("தமிழ்", "Tamil", "உங்கள் தலைப்புகள் ஒவ்வொரு சொல்லையும் பின்தொடர்கின்றன"),
    "te": ("తెలుగు", "Telugu", "మీ శీర్షికలు ప్రతి పదాన్ని అనుసరిస్తాయి"),
    "th": ("ไทย", "Thai", "คำบรรยายของคุณตามทุกคำ"),
    "zh-Hans": ("简体中文", "Chinese, Simplified", "字幕紧跟每一个词"),
    "zh-Hant": ("繁體中文", "Chinese, Traditional", "字幕緊跟每一個詞"),
    "ja": ("日本語", "Japanese", "字幕がすべての言葉を追いかけます"),
    "ko": ("한국어", "Korean", "자막이 모든 단어를 따라갑니다"),
}


def sample_caption(tag: str) -> str:
    """A short caption in ``tag``'s language (its base language's, else English)."""
    if tag in LANGUAGES:
        return LANGUAGES[tag][2]
    base = base_language(tag)
    if base == "zh":
        return LANGUAGES["zh-Hant" if "Hant" in tag or tag.endswith(("-TW", "-HK", "-MO"))
                         else "zh-Hans"][2]
    return LANGUAGES.get(base, LANGUAGES[DEFAULT_LANGUAGE])[2]


def base_language(tag: str) -> str:
    """The language subtag of a canonical tag: ``zh`` for ``zh-Hant-TW``."""
    return tag.split("-", 1)[0].lower()


def speaks_language(voice_language: str, tag: str) -> bool:
    """Whether a voice whose language code is ``voice_language`` (``en-us``, ``cmn``,
    ``es-419``) speaks text in the language ``tag``: the same language, whatever the
    region, with macrolanguages folded (Mandarin ``cmn`` speaks ``zh``)."""
    return _macro_base(voice_language) == _macro_base(tag)


def _macro_base(code: str) -> str:
    with contextlib.suppress(ValueError):  # an unusual code (espeak's chr-US-Qaaa-x-west)
        code = langcodes.standardize_tag(code, macro=True)
    return base_language(code)


def _validate(value: Any) -> Any:
    return normalise_language(value) if isinstance(value, str) else value


#: A BCP 47 language tag, validated and normalised on input.
LanguageTag = Annotated[
    str,
    BeforeValidator(_validate),
    Field(min_length=2, max_length=_LONGEST_TAG, examples=["en", "es", "hi", "zh-Hans"],
          description="BCP 47 language tag"),
]
