"""Kokoro and Piper: what is missing is said exactly; their code runs against fakes.

No Kokoro or Piper model is available to the tests, so the engines' own packages are
replaced by small stand-ins with the same calls; everything storyreel does around
them (files, voices, languages, word timings, errors) runs for real.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from storyreel.errors import VoiceError
from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.engines import engine_statuses, open_engine
from storyreel.voice.kokoro import KokoroEngine, kokoro_status
from storyreel.voice.narrate import Narrator
from storyreel.voice.piper import PiperEngine, piper_status


def _onnx(path: Path) -> Path:
    path.write_bytes(b"\x08\x07\x12\x04fake")  # starts like an ONNX ModelProto
    return path


def _voices(path: Path) -> Path:
    with path.open("wb") as handle:
        np.savez(handle, af_heart=np.zeros(3), bm_george=np.zeros(3), ff_siwis=np.zeros(3))
    return path


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "9.9" if name in ("kokoro-onnx", "piper-tts") else real(name))


class _FakeKokoro:
    instances: ClassVar[list[_FakeKokoro]] = []

    def __init__(self, model: str, voices: str) -> None:
        self.calls: list[tuple[str, str, float, str]] = []
        self.instances.append(self)

    def create(self, text: str, voice: str, speed: float, lang: str) -> tuple[Any, int]:
        if "crash" in text:
            raise RuntimeError("onnxruntime exploded")
        self.calls.append((text, voice, speed, lang))
        return np.full(24_000, 0.1, np.float32), 24_000


@pytest.fixture
def fake_kokoro(monkeypatch: pytest.MonkeyPatch, installed: None) -> None:
    module = types.ModuleType("kokoro_onnx")
    module.Kokoro = _FakeKokoro  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kokoro_onnx", module)


def test_kokoro_not_configured_says_what_to_set(monkeypatch: pytest.MonkeyPatch,
                                                installed: None) -> None:
    monkeypatch.delenv("STORYREEL_KOKORO_MODEL", raising=False)
    status = kokoro_status(None, None)
    assert not status.ready and "not set" in status.reason
    assert "STORYREEL_KOKORO_MODEL" in status.hint and "voices-v1.0.bin" in status.hint
    assert "fr-fr" in status.languages


def test_kokoro_not_installed_says_so() -> None:
    status = next(s for s in engine_statuses() if s.name == "kokoro")
    if status.version:
        pytest.skip("kokoro-onnx is installed here")
    assert status.reason == "kokoro-onnx is not installed"
    assert "storyreel[kokoro]" in status.hint


def test_kokoro_files_missing_or_not_models(tmp_path: Path, installed: None) -> None:
    voices = _voices(tmp_path / "voices.bin")
    with pytest.raises(VoiceError, match="does not exist"):
        KokoroEngine(tmp_path / "nope.onnx", voices)
    text_file = tmp_path / "model.onnx"
    text_file.write_text("this is not a model")
    with pytest.raises(VoiceError, match="not an ONNX model"):
        KokoroEngine(text_file, voices)
    bad_voices = tmp_path / "voices-bad.bin"
    bad_voices.write_text("nope")
    with pytest.raises(VoiceError, match="not a Kokoro voices file"):
        KokoroEngine(_onnx(tmp_path / "k.onnx"), bad_voices)


def test_kokoro_lists_voices_from_the_file_and_speaks(tmp_path: Path, fake_kokoro: None) -> None:
    engine = KokoroEngine(_onnx(tmp_path / "k.onnx"), _voices(tmp_path / "v.bin"))
    voices = {v.name: v.language for v in engine.voices()}
    assert voices == {"af_heart": "en-us", "bm_george": "en-gb", "ff_siwis": "fr-fr"}
    speech = engine.synthesise("Bonjour.", "ff_siwis", 1.1)
    assert speech.rate == 24_000 and speech.samples.size == 24_000 and speech.words is None
    with pytest.raises(VoiceError, match="no voice 'af_nobody'"):
        engine.synthesise("Hi.", "af_nobody", 1.0)
    with pytest.raises(VoiceError, match="does not speak 'tlh'"):
        engine.synthesise("Hi.", "af_heart", 1.0, "tlh")
    with pytest.raises(VoiceError, match=r"Kokoro failed .*exploded"):
        engine.synthesise("crash now", "af_heart", 1.0)


def test_kokoro_from_the_environment_through_the_narrator(
        tmp_path: Path, fake_kokoro: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYREEL_KOKORO_MODEL", str(_onnx(tmp_path / "k.onnx")))
    monkeypatch.setenv("STORYREEL_KOKORO_VOICES", str(_voices(tmp_path / "v.bin")))
    voice = Voice(engine="kokoro", voice="ff_siwis", language="fr-fr")
    assert isinstance(open_engine(voice), KokoroEngine)
    narration = Narrator(NarrationCache(tmp_path / "cache")).speak("Il était une fois.", voice, 4)
    assert narration.words.source == "estimated"  # French: no English alignment
    assert narration.warning


@dataclass
class _Alignment:
    phoneme: str
    num_samples: int


@dataclass
class _Chunk:
    audio_float_array: Any
    sample_rate: int
    phoneme_alignments: list[_Alignment]


class _FakePiperVoice:
    @classmethod
    def load(cls, path: str) -> _FakePiperVoice:
        if Path(path).read_bytes()[:1] != b"\x08":
            raise ValueError("INVALID_PROTOBUF")
        return cls()

    def synthesize(self, text: str, syn_config: Any = None,
                   include_alignments: bool = False) -> list[_Chunk]:
        alignments = [_Alignment("^", 100)]
        for index, word in enumerate(text.split()):
            if index:
                alignments.append(_Alignment(" ", 500))
            alignments += [_Alignment(c, 1000) for c in word.lower() if c.isalpha()]
        alignments.append(_Alignment("$", 100))
        total = sum(a.num_samples for a in alignments)
        return [_Chunk(np.full(total, 0.1, np.float32), 22_050, alignments)]


@pytest.fixture
def fake_piper(monkeypatch: pytest.MonkeyPatch, installed: None) -> None:
    module = types.ModuleType("piper")
    module.PiperVoice = _FakePiperVoice  # type: ignore[attr-defined]
    module.SynthesisConfig = lambda **kw: kw  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "piper", module)


def _piper_files(folder: Path) -> Path:
    model = _onnx(folder / "en_US-test-medium.onnx")
    (folder / "en_US-test-medium.onnx.json").write_text(json.dumps(
        {"audio": {"sample_rate": 22050, "quality": "medium"}, "language": {"code": "en_US"}}))
    return model


def test_piper_config_missing_or_not_a_voice(tmp_path: Path, installed: None) -> None:
    assert "no Piper voice is set" in piper_status(None).reason
    model = _onnx(tmp_path / "v.onnx")
    assert "config) is missing" in piper_status(model).reason
    (tmp_path / "v.onnx.json").write_text("[]")
    with pytest.raises(VoiceError, match="not a Piper voice config"):
        PiperEngine(model)


def test_piper_model_that_is_not_a_model(tmp_path: Path, fake_piper: None) -> None:
    model = _piper_files(tmp_path)
    model.write_text("garbage")
    with pytest.raises(VoiceError, match="is not a Piper voice model"):
        PiperEngine(model)


def test_piper_word_timings_come_from_its_phoneme_alignments(tmp_path: Path,
                                                             fake_piper: None) -> None:
    engine = PiperEngine(_piper_files(tmp_path))
    assert [(v.name, v.language) for v in engine.voices()] == [("en_US-test-medium", "en-us")]
    speech = engine.synthesise("big red dog", "en_US-test-medium", 1.0)
    assert speech.words is not None
    assert [(w.text, w.start, w.end) for w in speech.words] == [
        ("big", 100, 3100), ("red", 3600, 6600), ("dog", 7100, 10100)]
    narration = Narrator(NarrationCache(tmp_path / "cache"),
                         engines=lambda voice: engine).speak("Big red dog.", Voice())
    assert narration.words.source == "engine"
    first = narration.words.words[0]
    assert (first.start, first.end) == (100 * 48_000 // 22_050, 3100 * 48_000 // 22_050)
