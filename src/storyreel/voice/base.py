"""The voice seam: an engine turns text into speech, with word timings where it can.

An engine is anything with the :class:`Engine` shape. Each engine lives in its own
module (``hibari``, ``kokoro``, ``piper``) and is imported only when chosen;
:mod:`storyreel.voice.fake` is a shipped stand-in for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["Engine", "EngineStatus", "Speech", "SpokenWord", "VoiceInfo"]


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers.

    Attributes:
        name: What ``settings.voice.voice`` names.
        language: Its language code (``en-us``).
        description: Accent, gender or anything else worth showing.
        available: Whether it can speak here without downloading anything.
    """

    name: str
    language: str
    description: str = ""
    available: bool = True


@dataclass(frozen=True)
class SpokenWord:
    """A word of the text the engine was given, in samples at the engine's rate."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Speech:
    """What an engine made from one text.

    Attributes:
        samples: Mono float32 samples in [-1, 1].
        rate: Their sample rate.
        words: One entry per whitespace-separated token of the text the engine was
            given, when the engine knows when each is spoken; ``None`` otherwise.
    """

    samples: NDArray[np.float32]
    rate: int
    words: tuple[SpokenWord, ...] | None = None

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine can speak on this machine, and if not, what to do about it.

    Attributes:
        name: The engine's name (``hibari``, ``kokoro``, ``piper``).
        ready: True when it can synthesise now.
        version: Its version, when installed.
        reason: Why it is not ready (empty when it is).
        hint: What to install or set to make it ready.
        voices: The voices it offers (empty when not ready).
        languages: The language codes it speaks.
    """

    name: str
    ready: bool
    version: str = ""
    reason: str = ""
    hint: str = ""
    voices: tuple[VoiceInfo, ...] = ()
    languages: tuple[str, ...] = ()


class Engine(Protocol):
    """A text-to-speech engine that works offline."""

    @property
    def name(self) -> str:
        """The engine's name."""
        ...

    @property
    def version(self) -> str:
        """Its version: part of every narration's cache key."""
        ...

    @property
    def default_voice(self) -> str:
        """The voice used when none is named."""
        ...

    def voices(self) -> tuple[VoiceInfo, ...]:
        """Every voice it offers."""
        ...

    def synthesise(self, text: str, voice: str, speed: float, language: str | None = None,
                   cancel: Callable[[], None] | None = None) -> Speech:
        """Speak ``text`` (already normalised for speech).

        ``cancel`` is called between sentences where the engine works sentence by
        sentence; it raises to stop (nothing is kept).

        Raises:
            VoiceError: The voice is unknown or unavailable, the text cannot be spoken,
                or the engine failed.
        """
        ...
