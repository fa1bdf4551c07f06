"""Language tags (BCP 47): what language a project's or a segment's text is written in.

A tag is validated against the IANA registry and normalised once, here (``EN_us`` becomes
``en-US``, the deprecated ``iw`` becomes ``he``), so everything downstream (speech,
normalisation, alignment, caption fonts and line breaking) compares canonical tags.
"""

from __future__ import annotations

from typing import Annotated, Any

import langcodes
from pydantic import BeforeValidator, Field

__all__ = ["DEFAULT_LANGUAGE", "LanguageTag", "base_language", "normalise_language"]

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


def base_language(tag: str) -> str:
    """The language subtag of a canonical tag: ``zh`` for ``zh-Hant-TW``."""
    return tag.split("-", 1)[0].lower()


def _validate(value: Any) -> Any:
    return normalise_language(value) if isinstance(value, str) else value


#: A BCP 47 language tag, validated and normalised on input.
LanguageTag = Annotated[
    str,
    BeforeValidator(_validate),
    Field(min_length=2, max_length=_LONGEST_TAG, examples=["en", "es", "hi", "zh-Hans"],
          description="BCP 47 language tag"),
]
