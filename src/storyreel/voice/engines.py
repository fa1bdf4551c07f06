"""Choosing an engine: the built-in voice, or Kokoro/Piper with files the user has, and
espeak-ng where nothing else speaks the text's language.

Kokoro and Piper are imported only when chosen (Piper is GPL). Their model files come
from ``settings.voice.model``/``voices`` or the environment (``STORYREEL_KOKORO_MODEL``,
``STORYREEL_KOKORO_VOICES``, ``STORYREEL_PIPER_MODEL``); nothing is ever downloaded.
The built-in voice speaks English: text in another language is spoken by a Kokoro or
Piper voice of that language when one is set up, else by espeak-ng
(:func:`spoken_by`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from storyreel.errors import VoiceError
from storyreel.model.project import Voice
from storyreel.voice.base import Engine, EngineStatus

__all__ = ["ENV_KOKORO_MODEL", "ENV_KOKORO_VOICES", "ENV_PIPER_MODEL", "engine_statuses",
           "model_files", "open_engine", "spoken_by"]

ENV_KOKORO_MODEL = "STORYREEL_KOKORO_MODEL"
ENV_KOKORO_VOICES = "STORYREEL_KOKORO_VOICES"
ENV_PIPER_MODEL = "STORYREEL_PIPER_MODEL"

_OPEN: dict[tuple[str, Path | None, Path | None], Engine] = {}
_LOCK = threading.Lock()


def model_files(voice: Voice) -> tuple[Path | None, Path | None]:
    """The engine's model (and Kokoro's voices) file: the setting, else the environment."""
    def env(name: str) -> Path | None:
        value = os.environ.get(name, "").strip()
        return Path(value).expanduser() if value else None

    if voice.engine == "kokoro":
        return voice.model or env(ENV_KOKORO_MODEL), voice.voices or env(ENV_KOKORO_VOICES)
    if voice.engine == "piper":
        return voice.model or env(ENV_PIPER_MODEL), None
    return None, None


def open_engine(voice: Voice) -> Engine:
    """The engine ``voice`` names, loaded once per process and model file.

    Raises:
        VoiceError: Not installed, not configured, or its files are missing or not models.
    """
    model, voices = model_files(voice)
    key = (voice.engine, model, voices)
    with _LOCK:
        if key not in _OPEN:
            _OPEN[key] = _load(voice.engine, model, voices)
        return _OPEN[key]


def _load(name: str, model: Path | None, voices: Path | None) -> Engine:
    if name == "hibari":
        from storyreel.voice.hibari import HibariEngine

        return HibariEngine()
    if name == "kokoro":
        from storyreel.voice.kokoro import KokoroEngine

        return KokoroEngine(model, voices)
    if name == "piper":
        from storyreel.voice.piper import PiperEngine

        return PiperEngine(model)
    if name == "espeak":
        from storyreel.voice.espeak import EspeakEngine

        return EspeakEngine()
    raise VoiceError(f"unknown voice engine {name!r}")


def engine_statuses(voice: Voice | None = None) -> list[EngineStatus]:
    """Every engine: ready or not, with the reason and what to set (``storyreel voices``)."""
    from storyreel.voice.espeak import espeak_status
    from storyreel.voice.hibari import hibari_status
    from storyreel.voice.kokoro import kokoro_status
    from storyreel.voice.piper import piper_status

    base = voice or Voice()
    kokoro = model_files(base.model_copy(update={"engine": "kokoro"}))
    piper = model_files(base.model_copy(update={"engine": "piper"}))
    return [hibari_status(), kokoro_status(*kokoro), piper_status(piper[0]), espeak_status()]


def spoken_by(voice: Voice) -> Voice:
    """The voice that really speaks: the built-in (English) voice asked for another
    language gives way to a Kokoro or Piper voice of that language, else to espeak-ng."""
    from storyreel.model.language import speaks_language

    language = (voice.language or "en").replace("_", "-")
    if voice.engine != "hibari" or speaks_language("en", language):
        return voice
    for status in engine_statuses(voice):
        if not status.ready or status.name not in ("kokoro", "piper"):
            continue
        for info in status.voices:
            if info.available and speaks_language(info.language, language):
                return voice.model_copy(update={"engine": status.name, "voice": info.name})
    return voice.model_copy(update={"engine": "espeak", "voice": None})
