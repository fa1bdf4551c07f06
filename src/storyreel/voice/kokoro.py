"""Kokoro-82M (StoryFlow's voice) through ``kokoro-onnx``, with files the user already has.

Needs the ``kokoro`` extra and two files: the model (``kokoro-v1.0.onnx``) and the
voices (``voices-v1.0.bin``), named by ``settings.voice.model``/``voices`` or
``STORYREEL_KOKORO_MODEL``/``STORYREEL_KOKORO_VOICES``. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from storyreel.errors import VoiceError
from storyreel.voice.base import EngineStatus, Speech, VoiceInfo

__all__ = ["LANGUAGES", "KokoroEngine", "kokoro_language", "kokoro_status", "kokoro_voices"]

#: Languages Kokoro speaks (kokoro-onnx's codes), by the first letter of a voice's name.
LANGUAGES = {"a": "en-us", "b": "en-gb", "e": "es", "f": "fr-fr", "h": "hi", "i": "it",
             "j": "ja", "p": "pt-br", "z": "cmn"}
_HINT = ("pip install 'storyreel[kokoro]' and point STORYREEL_KOKORO_MODEL and "
         "STORYREEL_KOKORO_VOICES (or settings.voice.model/voices) at kokoro-v1.0.onnx and "
         "voices-v1.0.bin")
_ONNX_MAGIC = b"\x08"  # an ONNX file is a protobuf ModelProto: field 1 (ir_version), varint


def kokoro_voices(voices: Path) -> tuple[VoiceInfo, ...]:
    """The voices in a Kokoro voices file (a NumPy ``.npz``/``.bin`` archive).

    Raises:
        VoiceError: The file is missing or is not a Kokoro voices file.
    """
    _need_file(voices, "voices")
    try:
        with zipfile.ZipFile(voices) as archive:
            names = sorted(n.removesuffix(".npy") for n in archive.namelist() if n.endswith(".npy"))
    except (zipfile.BadZipFile, OSError) as exc:
        raise VoiceError(f"{voices} is not a Kokoro voices file", path=voices) from exc
    if not names:
        raise VoiceError(f"{voices} holds no voices", path=voices)
    return tuple(VoiceInfo(n, LANGUAGES.get(n[:1], "en-us"), _describe(n)) for n in names)


def kokoro_language(tag: str, own: str) -> str:
    """Kokoro's code for text in ``tag`` (a BCP 47 tag such as ``fr`` or ``zh-Hans``):
    the voice's own language when it speaks ``tag``, else the one Kokoro code that does.

    Raises:
        VoiceError: Kokoro does not speak the language.
    """
    from storyreel.model.language import speaks_language

    tag = tag.replace("_", "-")
    if tag.lower() in LANGUAGES.values():
        return tag.lower()
    if speaks_language(own, tag):
        return own
    for code in LANGUAGES.values():
        if speaks_language(code, tag):
            return code
    raise VoiceError(f"Kokoro does not speak {tag!r} ({', '.join(LANGUAGES.values())})")


def _describe(name: str) -> str:
    gender = {"f": "female", "m": "male"}.get(name[1:2], "")
    return f"{LANGUAGES.get(name[:1], '?')} {gender}".strip()


def _need_file(path: Path | None, what: str) -> Path:
    if path is None:
        raise VoiceError(f"Kokoro's {what} file is not set; {_HINT}")
    if not path.is_file():
        raise VoiceError(f"Kokoro's {what} file {path} does not exist", path=path)
    return path


def _check_model(model: Path) -> None:
    _need_file(model, "model")
    with model.open("rb") as handle:
        head = handle.read(1)
    if head != _ONNX_MAGIC:
        raise VoiceError(f"{model} is not an ONNX model", path=model)


class KokoroEngine:
    """kokoro-onnx with the user's model and voices files."""

    name = "kokoro"
    default_voice = "af_heart"

    def __init__(self, model: Path | None, voices: Path | None) -> None:
        _check_model(_need_file(model, "model"))
        self._voices = kokoro_voices(_need_file(voices, "voices"))
        try:
            from kokoro_onnx import Kokoro
        except ImportError as exc:
            raise VoiceError(f"kokoro-onnx is not installed; {_HINT}") from exc
        try:
            self.version = importlib.metadata.version("kokoro-onnx")
            self._kokoro: Any = Kokoro(str(model), str(voices))
        except Exception as exc:
            raise VoiceError(f"Kokoro could not load {model} ({exc})", path=model) from exc
        self._lock = threading.Lock()

    def voices(self) -> tuple[VoiceInfo, ...]:
        """The voices in the voices file."""
        return self._voices

    def synthesise(self, text: str, voice: str, speed: float, language: str | None = None,
                   cancel: Callable[[], None] | None = None) -> Speech:
        """Speak ``text``; the language defaults to the voice's own."""
        info = {v.name: v for v in self._voices}.get(voice)
        if info is None:
            raise VoiceError(f"Kokoro has no voice {voice!r} in its voices file")
        lang = kokoro_language(language or info.language, info.language)
        try:
            with self._lock:
                samples, rate = self._kokoro.create(text, voice=voice, speed=speed, lang=lang)
        except Exception as exc:
            raise VoiceError(f"Kokoro failed ({type(exc).__name__}: {str(exc)[:200]})") from exc
        audio = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
        return Speech(audio, int(rate))


def kokoro_status(model: Path | None, voices: Path | None) -> EngineStatus:
    """Whether Kokoro can speak here, and what to set when it cannot."""
    try:
        version = importlib.metadata.version("kokoro-onnx")
    except importlib.metadata.PackageNotFoundError:
        return EngineStatus("kokoro", False, reason="kokoro-onnx is not installed", hint=_HINT,
                            languages=tuple(LANGUAGES.values()))
    try:
        _check_model(_need_file(model, "model"))
        listed = kokoro_voices(_need_file(voices, "voices"))
    except VoiceError as exc:
        return EngineStatus("kokoro", False, version, reason=str(exc), hint=_HINT,
                            languages=tuple(LANGUAGES.values()))
    return EngineStatus("kokoro", True, version, voices=listed,
                        languages=tuple(LANGUAGES.values()))
