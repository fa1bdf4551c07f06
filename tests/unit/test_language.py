"""The language of a project's text: BCP 47 tags, validated and normalised once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from storyreel.model.language import LANGUAGES, base_language, normalise_language, sample_caption
from storyreel.model.project import Project, RenderSettings, Segment
from storyreel.model.schema import manifest_schema, shipped_schema
from storyreel.words import words


def _project(tmp_path: Path, settings: dict[str, object] | None = None,
             segments: list[dict[str, object]] | None = None) -> Project:
    data = {"segments": segments or [{"text": "one"}, {"text": "two"}],
            "settings": settings or {}}
    return Project.model_validate(data, context={"base_dir": tmp_path})


def test_the_default_language_is_english(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert project.settings.language == "en"
    assert [project.language_of(i) for i in range(2)] == ["en", "en"]


@pytest.mark.parametrize(("given", "canonical"), [
    ("es", "es"), ("EN_us", "en-US"), ("zh-hant-tw", "zh-Hant-TW"), ("iw", "he"),
    ("pt-br", "pt-BR"), ("es-419", "es-419"), (" hi ", "hi"), ("sr-latn", "sr-Latn"),
])
def test_tags_are_normalised(given: str, canonical: str) -> None:
    assert RenderSettings.model_validate({"language": given}).language == canonical
    assert normalise_language(given) == canonical


@pytest.mark.parametrize("bad", ["", "x", "xx", "en-", "english please", "123", "und",
                                 "e" * 80, "zh\u00e9"])
def test_a_bad_tag_is_refused_with_its_value_named(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RenderSettings.model_validate({"language": bad})
    message = str(caught.value)
    assert "language" in message
    assert repr(bad.strip()[:40]) in message or repr(bad[:40]) in message


def test_a_segment_overrides_the_project_language(tmp_path: Path) -> None:
    project = _project(tmp_path, {"language": "es"},
                       [{"text": "uno"}, {"text": "\u4f60\u597d", "language": "ZH-hans"}])
    assert project.segments[1].language == "zh-Hans"
    assert project.segments[0].language is None
    assert [project.language_of(i) for i in range(2)] == ["es", "zh-Hans"]
    with pytest.raises(ValidationError, match="'klingon'"):
        Segment.model_validate({"text": "x", "language": "klingon"})


def test_base_language() -> None:
    assert base_language("zh-Hant-TW") == "zh"
    assert base_language("en") == "en"


def test_the_shipped_schema_knows_the_language() -> None:
    schema = shipped_schema()
    assert schema == manifest_schema()
    assert schema["$defs"]["RenderSettings"]["properties"]["language"]["default"] == "en"
    assert "language" in schema["$defs"]["Segment"]["properties"]


def test_the_named_languages_are_canonical_tags_with_samples() -> None:
    assert "en" in LANGUAGES and len(LANGUAGES) >= 20
    for tag, (name, english, sample) in LANGUAGES.items():
        assert normalise_language(tag) == tag
        assert name and english and sample
        assert sample_caption(tag) == sample
    assert sample_caption("zh-TW") == LANGUAGES["zh-Hant"][2]
    assert sample_caption("zh") == LANGUAGES["zh-Hans"][2]
    assert sample_caption("es-MX") == LANGUAGES["es"][2]
    assert sample_caption("sw") == LANGUAGES["en"][2]


def test_the_studio_offers_the_named_languages() -> None:
    offered = words()["choices"]["settings.language"]
    assert list(offered) == list(LANGUAGES)
    assert offered["hi"] == "हिन्दी (Hindi)" and offered["en"] == "English"
