"""The fallback voice: espeak-ng from the ``espeakng-loader`` wheel, in 100+ languages.

It is chosen where the text's language has no other voice installed (the built-in
voice speaks English; Kokoro and Piper only with model files the user has). It sounds
robotic but says every language it knows, and its word events time each word.
"""

from __future__ import annotations

from collections.abc import Callable

from storyreel.errors import NothingToSay, VoiceError
from storyreel.media import espeak
from storyreel.voice.base import EngineStatus, Speech, SpokenWord, VoiceInfo

__all__ = ["AUTO", "FALLBACK_NOTE", "EspeakEngine", "espeak_status"]

#: The voice name that means "espeak-ng's voice for the text's language".
AUTO = "auto"
FALLBACK_NOTE = "fallback where no other voice speaks the language"


class EspeakEngine:
    """espeak-ng's voices, one per language."""

    name = "espeak"
    default_voice = AUTO

    def __init__(self) -> None:
        self.version = espeak.espeak_version()

    def voices(self) -> tuple[VoiceInfo, ...]:
        """One voice per espeak-ng language (its name is the language code)."""
        found: dict[str, VoiceInfo] = {}
        for voice in espeak.espeak_voices():
            for language in voice.languages:
                found.setdefault(language, VoiceInfo(language, language,
                                                     f"{voice.name} ({FALLBACK_NOTE})"))
        return tuple(found[code] for code in sorted(found))

    def synthesise(self, text: str, voice: str, speed: float, language: str | None = None,
                   cancel: Callable[[], None] | None = None) -> Speech:
        """Speak ``text`` with ``voice`` (``auto``: the voice for ``language``, else English).

        Raises:
            NothingToSay: The text has nothing espeak-ng can say.
            VoiceError: espeak-ng has no voice for the language, or failed.
        """
        if cancel is not None:
            cancel()
        name = espeak.voice_for(language or "en") if voice == AUTO else _named(voice)
        tokens = text.split()
        if not any(c.isalnum() for c in text):
            raise NothingToSay("there is nothing espeak-ng can say in this text")
        try:
            samples, rate, spans = espeak.spoken_spans(tokens, name, speed)
        except VoiceError as exc:
            if "nothing" in str(exc):
                raise NothingToSay(str(exc)) from exc
            raise
        words = None
        if all(span is not None for span in spans):
            words = tuple(SpokenWord(token, span[0], span[1])
                          for token, span in zip(tokens, spans, strict=True) if span)
        return Speech(samples.copy(), rate, words)


def _named(voice: str) -> str:
    """The espeak-ng voice behind a name from :meth:`EspeakEngine.voices` (a language code
    such as ``zh`` is spoken by a voice named otherwise, ``cmn``)."""
    try:
        return espeak.voice_for(voice)
    except VoiceError as exc:
        raise VoiceError(f"espeak-ng has no voice {voice!r}") from exc


def espeak_status() -> EngineStatus:
    """Whether the fallback voice can speak here (its wheel is a dependency)."""
    try:
        engine = EspeakEngine()
        voices = engine.voices()
    except VoiceError as exc:
        return EngineStatus("espeak", False, reason=str(exc),
                            hint="pip install espeakng-loader")
    return EngineStatus("espeak", True, engine.version, voices=voices,
                        languages=tuple(v.language for v in voices))
