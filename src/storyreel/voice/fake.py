"""A stand-in engine for tests: instant, deterministic, with exact word timings.

Each word of the text becomes a voiced buzz whose length grows with the word,
followed by a short pause, so the "speech" has the rhythm of a voice and the engine
knows exactly where every word is.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from storyreel.errors import VoiceError
from storyreel.voice.base import Speech, SpokenWord, VoiceInfo

__all__ = ["FakeEngine"]


class FakeEngine:
    """A fake voice engine.

    Args:
        rate: Sample rate of its speech.
        fail_on: Raise :class:`VoiceError` when the text contains this word.
        on_synthesise: Called with the text before each synthesis (tests use it to
            cancel or count calls).
    """

    name = "fake"
    version = "1"
    default_voice = "buzz"

    def __init__(self, rate: int = 22_050, *, fail_on: str | None = None,
                 on_synthesise: Callable[[str], None] | None = None) -> None:
        self.rate = rate
        self.fail_on = fail_on
        self.on_synthesise = on_synthesise
        self.calls = 0

    def voices(self) -> tuple[VoiceInfo, ...]:
        """Two voices: ``buzz`` (low) and ``hum`` (high)."""
        return (VoiceInfo("buzz", "en-us", "low"), VoiceInfo("hum", "en-us", "high"))

    def synthesise(self, text: str, voice: str, speed: float, language: str | None = None,
                   cancel: Callable[[], None] | None = None) -> Speech:
        """Words as buzzes, pauses between them; word timings exact (``cancel`` per word)."""
        if voice not in ("buzz", "hum"):
            raise VoiceError(f"the fake engine has no voice {voice!r}")
        self.calls += 1
        if self.on_synthesise is not None:
            self.on_synthesise(text)
        tokens = text.split()
        if self.fail_on is not None and self.fail_on in tokens:
            raise VoiceError(f"the fake engine refuses {self.fail_on!r}")
        pitch = 140.0 if voice == "buzz" else 260.0
        pause = int(0.08 * self.rate / speed)
        parts: list[np.ndarray] = []
        words: list[SpokenWord] = []
        at = 0
        for token in tokens:
            if cancel is not None:
                cancel()
            length = int((0.12 + 0.05 * len(token)) * self.rate / speed)
            parts += [_buzz(token, length, pitch, self.rate), np.zeros(pause, np.float32)]
            words.append(SpokenWord(token, at, at + length))
            at += length + pause
        samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return Speech(samples.astype(np.float32), self.rate, tuple(words))


def _buzz(token: str, length: int, pitch: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(token.encode()))
    t = np.arange(length) / rate
    tone = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6))
    envelope = np.sin(np.pi * np.arange(length) / max(1, length)) ** 0.5
    noise = rng.standard_normal(length) * 0.02
    return (0.3 * tone * envelope / 2.3 + noise).astype(np.float32)
