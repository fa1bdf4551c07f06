"""Piper voices (``piper-tts``, GPL: imported only when chosen) from a user's ``.onnx`` file.

The voice's config (``<model>.onnx.json``) must sit beside it. Piper's phoneme
alignments, when the voice has them, give word timings directly: the phonemes of
one word run until the next space phoneme.
"""

from __future__ import annotations

import importlib.metadata
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from storyreel.errors import VoiceError
from storyreel.voice.base import EngineStatus, Speech, SpokenWord, VoiceInfo

__all__ = ["PiperEngine", "piper_status"]

#: Phonemes that are not part of a word: sentence start/end, pad, punctuation.
_BOUNDARIES = frozenset("^$_.,;:!?\u2026\"()")

_HINT = ("pip install 'storyreel[piper]' and point STORYREEL_PIPER_MODEL (or "
         "settings.voice.model) at a Piper voice such as en_US-lessac-medium.onnx, with its "
         ".onnx.json beside it")


def _config(model: Path | None) -> dict[str, Any]:
    if model is None:
        raise VoiceError(f"no Piper voice is set; {_HINT}")
    if not model.is_file():
        raise VoiceError(f"the Piper voice {model} does not exist", path=model)
    config = model.with_name(model.name + ".json")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise VoiceError(f"{config.name} (the voice's config) is missing beside {model.name}",
                         path=model) from exc
    except (OSError, ValueError) as exc:
        raise VoiceError(f"{config} is not a Piper voice config", path=config) from exc
    if not isinstance(data, dict) or "audio" not in data:
        raise VoiceError(f"{config} is not a Piper voice config", path=config)
    return data


def _info(model: Path, config: dict[str, Any]) -> VoiceInfo:
    language = str((config.get("language") or {}).get("code") or
                   (config.get("espeak") or {}).get("voice") or "en-us")
    quality = str((config.get("audio") or {}).get("quality") or "")
    return VoiceInfo(model.stem, language.lower().replace("_", "-"), quality)


class PiperEngine:
    """One Piper voice file."""

    name = "piper"

    def __init__(self, model: Path | None) -> None:
        config = _config(model)
        assert model is not None
        self._voice_info = _info(model, config)
        self.default_voice = self._voice_info.name
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as exc:
            raise VoiceError(f"piper-tts is not installed; {_HINT}") from exc
        try:
            self.version = importlib.metadata.version("piper-tts")
            self._piper: Any = PiperVoice.load(str(model))
        except Exception as exc:
            raise VoiceError(f"{model} is not a Piper voice model ({exc})", path=model) from exc
        self._config_type: Any = SynthesisConfig
        self._lock = threading.Lock()

    def voices(self) -> tuple[VoiceInfo, ...]:
        """The one voice in the file."""
        return (self._voice_info,)

    def synthesise(self, text: str, voice: str, speed: float, language: str | None = None,
                   cancel: Callable[[], None] | None = None) -> Speech:
        """Speak ``text``; word timings come from Piper's phoneme alignments when present.

        Piper speaks sentence by sentence: ``cancel`` is called between them.
        """
        if voice != self._voice_info.name:
            raise VoiceError(f"the Piper voice file holds {self._voice_info.name!r}, "
                             f"not {voice!r}")
        chunks = []
        with self._lock:
            stream = iter(self._piper.synthesize(
                text, syn_config=self._config_type(length_scale=1.0 / speed),
                include_alignments=True))
            while True:
                if cancel is not None:
                    cancel()
                try:
                    chunk = next(stream, None)
                except Exception as exc:
                    raise VoiceError(f"Piper failed ({type(exc).__name__}: "
                                     f"{str(exc)[:200]})") from exc
                if chunk is None:
                    break
                chunks.append(chunk)
        if not chunks:
            raise VoiceError("the voice found nothing it can say in this text")
        rate = int(chunks[0].sample_rate)
        audio = np.concatenate([np.asarray(c.audio_float_array, np.float32).reshape(-1)
                                for c in chunks])
        return Speech(np.clip(audio, -1.0, 1.0), rate, _words(text, chunks))


def _words(text: str, chunks: list[Any]) -> tuple[SpokenWord, ...] | None:
    """Word timings from phoneme alignments: a word ends at a space phoneme."""
    spans: list[tuple[int, int]] = []
    at = 0
    start: int | None = None
    for chunk in chunks:
        alignments = getattr(chunk, "phoneme_alignments", None)
        if not alignments:
            return None
        for item in alignments:
            length = int(item.num_samples)
            if not item.phoneme.strip() or item.phoneme in _BOUNDARIES:
                if start is not None:
                    spans.append((start, at))
                    start = None
            elif start is None:
                start = at
            at += length
        if start is not None:
            spans.append((start, at))
            start = None
    tokens = text.split()
    if len(spans) != len(tokens):
        return None
    return tuple(SpokenWord(t, a, b) for t, (a, b) in zip(tokens, spans, strict=True))


def piper_status(model: Path | None) -> EngineStatus:
    """Whether Piper can speak here, and what to set when it cannot."""
    try:
        version = importlib.metadata.version("piper-tts")
    except importlib.metadata.PackageNotFoundError:
        return EngineStatus("piper", False, reason="piper-tts is not installed", hint=_HINT)
    try:
        config = _config(model)
    except VoiceError as exc:
        return EngineStatus("piper", False, version, reason=str(exc), hint=_HINT)
    assert model is not None
    info = _info(model, config)
    return EngineStatus("piper", True, version, voices=(info,), languages=(info.language,))
