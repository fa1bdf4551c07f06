"""The speaking seam: who fills the narration cache with what the segments say.

A :class:`Speaker` is given the narrations the cache lacks, as :class:`SpeechJob`\\ s
keyed by their cache key, and puts each into the cache (audio and word timings); the
:class:`~storyreel.voice.narrate.Narrator` then reads them back as if it had spoken
them itself. :class:`LocalSpeaker` synthesises in this process and is the default;
``storyreel.distributed.RemoteSpeaker`` hands the jobs to workers through Redis,
which write into a cache folder they share with the sender.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.align import Aligner, AlignmentFailed, Spans
from storyreel.errors import VoiceError
from storyreel.model.project import Voice
from storyreel.voice.base import Engine, Speech
from storyreel.voice.cache import NarrationCache
from storyreel.voice.engines import open_engine
from storyreel.voice.normalize import normalise

__all__ = ["RATE", "EngineSource", "LocalSpeaker", "OnSpoken", "Speaker", "SpeechJob",
           "resample_to"]

#: The rate word spans are measured at (the render's audio rate).
RATE = 48_000
EngineSource = Callable[[Voice], Engine]


@dataclass(frozen=True)
class SpeechJob:
    """One narration to put into the cache.

    Attributes:
        key: Its cache key (:meth:`Narrator.key`): the same text and voice, the same key.
        text: The text as written.
        voice: The voice that speaks it.
        segment: 1-based number of the (first) segment that says it, for messages.
    """

    key: str
    text: str
    voice: Voice
    segment: int | None = None


OnSpoken = Callable[[SpeechJob, VoiceError | None], None]
"""Told that a job's narration is in the cache, or why it could not be spoken."""


class Speaker(Protocol):
    """Puts narrations into a cache: here (:class:`LocalSpeaker`) or elsewhere."""

    def __call__(self, jobs: Sequence[SpeechJob], cache: NarrationCache,
                 cancel: Callable[[], None] | None, on_spoken: OnSpoken) -> None:
        """Speak every job into ``cache`` under its key, calling ``on_spoken`` as each is
        there (with ``None``) or cannot be spoken (with the :class:`VoiceError`).

        Raises:
            RenderCancelled: ``cancel`` raised it; nothing half-written is left.
            StoryreelError: A failure that is not one text's (e.g. workers gone).
        """


class LocalSpeaker:
    """Synthesises in this process, one job after another.

    Args:
        engines: Maps a voice setting to its engine (tests pass a fake).
        aligner: Finds word timings for engines that do not give them.
    """

    def __init__(self, engines: EngineSource = open_engine,
                 aligner: Aligner | None = None) -> None:
        self.engines = engines
        self.aligner = aligner or Aligner()

    def __call__(self, jobs: Sequence[SpeechJob], cache: NarrationCache,
                 cancel: Callable[[], None] | None, on_spoken: OnSpoken) -> None:
        """Speak each job in turn (see :class:`Speaker`)."""
        for job in jobs:
            if cancel is not None:
                cancel()
            try:
                self.speak(job, cache, cancel)
            except VoiceError as exc:
                on_spoken(job, exc)
            else:
                on_spoken(job, None)

    def speak(self, job: SpeechJob, cache: NarrationCache,
              cancel: Callable[[], None] | None = None) -> None:
        """Synthesise one job and store it (audio, then word timings) under its key.

        Raises:
            VoiceError: The text cannot be spoken, or the engine failed.
            RenderCancelled: ``cancel`` raised it, before anything was written.
        """
        voice = job.voice
        engine = self.engines(voice)
        spoken = normalise(job.text)
        speech = engine.synthesise(spoken, voice.voice or engine.default_voice, voice.speed,
                                   voice.language, cancel)
        if cancel is not None:
            cancel()
        self._store(cache, job.key, speech, spoken, voice)

    def _store(self, cache: NarrationCache, key: str, speech: Speech, spoken: str,
               voice: Voice) -> None:
        if len(speech.samples) < speech.rate // 20:
            raise VoiceError("the voice found nothing it can say in this text")
        if speech.words is not None and len(speech.words) == len(spoken.split()):
            spans: Spans = [(w.start * RATE // speech.rate, w.end * RATE // speech.rate)
                            for w in speech.words]
            cache.put(key, speech.samples, speech.rate, spans, "engine")
            return
        language = (voice.language or "en").lower()
        try:
            if not language.startswith("en"):
                raise AlignmentFailed(f"word alignment speaks English, not {language}")
            spans = self.aligner.spans(spoken.split(), resample_to(speech.samples,
                                                                   speech.rate, RATE))
            source = "aligned"
        except AlignmentFailed:
            spans, source = [None] * len(spoken.split()), "estimated"
        cache.put(key, speech.samples, speech.rate, spans, source)


def resample_to(samples: NDArray[np.float32], rate: int, target: int) -> NDArray[np.float32]:
    """Polyphase resampling of mono speech (exact ratio, anti-aliased)."""
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    common = math.gcd(rate, target)
    resampled: NDArray[np.float32] = resample_poly(
        samples, target // common, rate // common).astype(np.float32)
    return resampled
