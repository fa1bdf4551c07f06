"""``GET /api/voices/?language=``: which voices speak the project's language."""

from __future__ import annotations

from studiokit import Studio

from storyreel.model.language import speaks_language


def test_each_voice_says_whether_it_speaks_the_language(studio: Studio) -> None:
    engines = studio.client.get("/api/voices/", params={"language": "zh-Hans"}).json()
    espeak = next(e for e in engines if e["name"] == "espeak")
    assert espeak["fallback"] is True
    assert all(e["fallback"] is False for e in engines if e["name"] != "espeak")
    speaking = {v["name"] for v in espeak["voices"] if v["speaks"]}
    assert {"zh", "cmn", "cmn-latn-pinyin"} <= speaking  # Mandarin speaks Chinese
    assert not {"ja", "en", "hi", "yue"} & speaking
    hibari = next(e for e in engines if e["name"] == "hibari")
    assert not any(v["speaks"] for v in hibari["voices"])
    english = studio.client.get("/api/voices/", params={"language": "en-GB"}).json()
    assert all(v["speaks"] for e in english if e["name"] == "hibari" for v in e["voices"])
    unasked = studio.client.get("/api/voices/").json()
    assert not any(v["speaks"] for e in unasked for v in e["voices"])


def test_a_bad_language_is_refused_with_its_value_named(studio: Studio) -> None:
    refused = studio.client.get("/api/voices/", params={"language": "klingon"})
    assert refused.status_code in (400, 422) and "klingon" in refused.text


def test_the_rule_folds_regions_and_macrolanguages() -> None:
    assert speaks_language("en-us", "en-GB") and speaks_language("es-419", "es")
    assert speaks_language("cmn", "zh-Hant") and not speaks_language("yue", "ja")
    assert not speaks_language("chr-US-Qaaa-x-west", "en")  # a code langcodes refuses
