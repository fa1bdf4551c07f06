"""Which voice speaks a language: a Kokoro or Piper voice the user has set up for it,
else espeak-ng. The engines' packages are the stand-ins of ``test_optional_engines``
(no model files exist here); the routing, the narrator and the cache run for real."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_optional_engines import _FakeKokoro, _onnx, _voices, fake_kokoro, fake_piper, installed

from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.engines import spoken_by
from storyreel.voice.narrate import Narrator

__all__ = ["fake_kokoro", "fake_piper", "installed"]  # fixtures used by name


@pytest.fixture
def kokoro_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_kokoro: None) -> None:
    monkeypatch.setenv("STORYREEL_KOKORO_MODEL", str(_onnx(tmp_path / "k.onnx")))
    monkeypatch.setenv("STORYREEL_KOKORO_VOICES", str(_voices(tmp_path / "v.bin")))
    monkeypatch.delenv("STORYREEL_PIPER_MODEL", raising=False)


@pytest.fixture
def piper_spanish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_piper: None) -> None:
    model = _onnx(tmp_path / "es_ES-test-medium.onnx")
    (tmp_path / "es_ES-test-medium.onnx.json").write_text(json.dumps(
        {"audio": {"sample_rate": 22050, "quality": "medium"}, "language": {"code": "es_ES"}}))
    monkeypatch.setenv("STORYREEL_PIPER_MODEL", str(model))
    monkeypatch.delenv("STORYREEL_KOKORO_MODEL", raising=False)
    monkeypatch.delenv("STORYREEL_KOKORO_VOICES", raising=False)


@pytest.mark.parametrize(("language", "engine", "voice"), [
    ("fr", "kokoro", "ff_siwis"),      # Kokoro's French voice, whatever the region
    ("fr-CA", "kokoro", "ff_siwis"),
    ("en", "hibari", None),            # English stays with the built-in voice
    ("de", "espeak", None),            # no German voice set up: the fallback
])
def test_kokoro_voices_speak_their_language(kokoro_files: None, language: str, engine: str,
                                            voice: str | None) -> None:
    chosen = spoken_by(Voice(language=language))
    assert (chosen.engine, chosen.voice) == (engine, voice)


def test_a_french_project_is_spoken_by_kokoro_in_french(kokoro_files: None,
                                                         tmp_path: Path) -> None:
    _FakeKokoro.instances.clear()
    narration = Narrator(NarrationCache(tmp_path / "cache")).speak(
        "Il était une fois, en 1999, un phare.", Voice(language="fr"), 1)
    assert narration.seconds > 0
    (kokoro,) = _FakeKokoro.instances
    ((text, voice, _, lang),) = kokoro.calls
    assert voice == "ff_siwis"
    assert lang == "fr-fr"  # one of the languages Kokoro speaks, not the project's bare tag
    assert "mil novecientos" not in text and "1999" not in text  # numbers said in French
    assert "mille neuf cent" in text


def test_chinese_goes_to_kokoros_mandarin_voice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                fake_kokoro: None) -> None:
    voices = tmp_path / "v.bin"
    with voices.open("wb") as handle:
        np.savez(handle, zf_xiaobei=np.zeros(3), af_heart=np.zeros(3))
    monkeypatch.setenv("STORYREEL_KOKORO_MODEL", str(_onnx(tmp_path / "k.onnx")))
    monkeypatch.setenv("STORYREEL_KOKORO_VOICES", str(voices))
    chosen = spoken_by(Voice(language="zh-Hans"))
    assert (chosen.engine, chosen.voice) == ("kokoro", "zf_xiaobei")


def test_a_spanish_piper_voice_speaks_spanish(piper_spanish: None, tmp_path: Path) -> None:
    chosen = spoken_by(Voice(language="es-MX"))
    assert (chosen.engine, chosen.voice) == ("piper", "es_ES-test-medium")
    narration = Narrator(NarrationCache(tmp_path / "cache")).speak(
        "Había una vez un faro.", Voice(language="es-MX"), 1)
    assert narration.words.source == "engine"  # Piper's own phoneme timings
    assert [w.text for w in narration.words.words] == ["Había", "una", "vez", "un", "faro."]
    # A French project with only a Spanish Piper voice: the fallback
    assert spoken_by(Voice(language="fr")).engine == "espeak"



def test_english_in_any_region_stays_with_the_built_in_voice(kokoro_files: None) -> None:
    assert spoken_by(Voice(language="en-GB")).engine == "hibari"
    assert spoken_by(Voice(language="en-IN")).engine == "hibari"
