"""The built-in voice: hibari-tts, an English Kokoro-distilled model inside its wheel.

Only voices whose model file is inside the installed package are used; hibari would
download the others on first use, so they are refused here, never fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from storyreel.errors import NothingToSay, VoiceError
from storyreel.voice.base import EngineStatus, Speech, VoiceInfo

__all__ = ["DEFAULT_VOICE", "HibariEngine", "hibari_status"]

DEFAULT_VOICE = "heart"
#: Fixes the engine's noise so the same text gives the same samples.
SEED = 0
#: The most phonemes given to the model at once (hibari's own clause bound).
MAX_PHONEMES = 400
_LOCK = threading.Lock()


class HibariEngine:
    """hibari-tts, loaded once per voice, offline."""

    name = "hibari"
    default_voice = DEFAULT_VOICE

    def __init__(self) -> None:
        try:
            import hibari
            import hibari.voices
        except ImportError as exc:
            raise VoiceError("the built-in voice is not installed (pip install "
                             "hibari-tts==0.2.1)") from exc
        self.version: str = hibari.__version__
        self._registry: dict[str, dict[str, Any]] = hibari.voices.VOICES
        self._models: dict[str, Any] = {}

    def voices(self) -> tuple[VoiceInfo, ...]:
        """Every voice in hibari's registry; only those in the package are available."""
        return tuple(
            VoiceInfo(name, str(entry["language"]).lower(),
                      f"{entry['accent']} {entry['gender']}"
                      + ("" if _bundled(entry) else " (not in the package; storyreel never "
                                                    "downloads voices)"),
                      _bundled(entry))
            for name, entry in self._registry.items())

    def synthesise(self, text: str, voice: str, speed: float, language: str | None = None,
                   cancel: Callable[[], None] | None = None) -> Speech:
        """Speak ``text`` with a voice from the package (``seed`` fixed: deterministic).

        Sentence by sentence, a long sentence in runs of at most :data:`MAX_PHONEMES`
        phonemes, calling ``cancel`` between them.
        """
        model = self._model(voice)
        _check_language(voice, language, str(self._registry[voice]["language"]))
        if not any(c.isascii() and c.isalnum() for c in text):
            raise NothingToSay(f"the {voice!r} voice speaks English and the text has no "
                               "English words to say")
        parts: list[NDArray[np.float32]] = []
        with _LOCK:  # one model instance, one synthesis at a time
            rng = np.random.default_rng(SEED)
            for phonemes in self._phonemes(model, text):
                if cancel is not None:
                    cancel()
                try:
                    part = model.from_ids(model.ids(phonemes), speed, rng)
                except Exception as exc:  # the engine's own failure, translated once
                    raise VoiceError(f"the built-in voice failed ({_one_line(exc)})") from exc
                parts.append(np.asarray(part, dtype=np.float32))
        audio = np.clip(np.concatenate(parts) if parts else np.zeros(0, np.float32), -1.0, 1.0)
        if audio.size == 0:
            raise NothingToSay("the voice found nothing it can say in this text")
        return Speech(audio, int(model.sample_rate))

    @staticmethod
    def _phonemes(model: Any, text: str) -> list[str]:
        """The text's phonemes in runs of at most :data:`MAX_PHONEMES`: the model's memory
        grows with what it is given at once, and hibari passes on a long clause whole."""
        try:
            sentences = model.phonemize(text)
        except Exception as exc:
            raise VoiceError(f"the built-in voice failed ({_one_line(exc)})") from exc
        return [run for sentence in sentences for run in _bounded(str(sentence))]

    def _model(self, voice: str) -> Any:
        entry = self._registry.get(voice)
        if entry is None:
            raise VoiceError(f"hibari has no voice {voice!r} (voices: "
                             f"{', '.join(self._registry)})")
        if not _bundled(entry):
            raise VoiceError(f"hibari's voice {voice!r} is not inside the installed package "
                             f"and storyreel never downloads voices; use {DEFAULT_VOICE!r}")
        if voice not in self._models:
            from hibari import Hibari

            path = _package_file(entry)
            try:
                self._models[voice] = Hibari(voice=voice, model=str(path))
            except Exception as exc:
                raise VoiceError(f"the built-in voice could not load ({exc})") from exc
        return self._models[voice]


def _bounded(phonemes: str) -> list[str]:
    """``phonemes`` cut between words into runs of at most :data:`MAX_PHONEMES` (a longer
    word is cut where it must)."""
    runs: list[str] = []
    current = ""
    for word in phonemes.split(" "):
        while len(word) > MAX_PHONEMES:
            if current:
                runs.append(current)
                current = ""
            runs.append(word[:MAX_PHONEMES])
            word = word[MAX_PHONEMES:]
        if current and len(current) + 1 + len(word) > MAX_PHONEMES:
            runs.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current.strip():
        runs.append(current)
    return runs


def _one_line(exc: Exception) -> str:
    """An exception as one short line for a message."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _bundled(entry: dict[str, Any]) -> bool:
    return bool(entry.get("bundled")) and _package_file(entry).is_file()


def _package_file(entry: dict[str, Any]) -> Path:
    import hibari

    return Path(hibari.__file__).parent / "assets" / str(entry["file"])


def _check_language(voice: str, wanted: str | None, has: str) -> None:
    if wanted is not None and not has.lower().startswith(wanted.lower().split("-")[0]):
        raise VoiceError(f"the {voice!r} voice speaks {has}, not {wanted}")


def hibari_status() -> EngineStatus:
    """Whether the built-in voice can speak here."""
    try:
        engine = HibariEngine()
    except VoiceError as exc:
        return EngineStatus("hibari", False, reason=str(exc),
                            hint="pip install hibari-tts==0.2.1")
    voices = engine.voices()
    return EngineStatus("hibari", True, engine.version, voices=voices,
                        languages=tuple(sorted({v.language for v in voices})))
