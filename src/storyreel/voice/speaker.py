"""The speaking seam: who fills the narration cache with what the segments say.

A :class:`Speaker` is given the narrations the cache lacks, as :class:`SpeechJob`\\ s
keyed by their cache key, and puts each into the cache (audio and word timings); the
:class:`~storyreel.voice.narrate.Narrator` then reads them back as if it had spoken
them itself. :class:`LocalSpeaker` synthesises in this process and is the default;
``storyreel.distributed.RemoteSpeaker`` hands the jobs to workers through Redis,
which write into a cache folder they share with the sender.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.dsp import resample_poly
from storyreel.errors import NothingToSay, VoiceError
from storyreel.model.project import Voice
from storyreel.voice.base import Engine, Speech
from storyreel.voice.cache import NarrationCache
from storyreel.voice.engines import open_engine
from storyreel.voice.joining import Joiner, Placed
from storyreel.voice.normalize import normalise
from storyreel.voice.pieces import Piece, pieces

if TYPE_CHECKING:
    from storyreel.audio.align import Aligner, Spans

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
        if aligner is None:
            from storyreel.audio.align import Aligner  # heavy: imported when speech is made

            aligner = Aligner()
        self.aligner = aligner

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
        """Synthesise one job piece by piece and store it (audio, then word timings) under
        its key.

        The text is cut into bounded pieces (:func:`~storyreel.voice.pieces.pieces`), each
        spoken, timed and written to the cache as it comes, so memory and time stay
        bounded whatever the text's length.

        Raises:
            NothingToSay: No piece of the text has anything the voice can say (a piece
                with nothing to say is left silent when others are said).
            VoiceError: The engine failed.
            RenderCancelled: ``cancel`` raised it, before anything was published.
        """
        voice = job.voice
        engine = self.engines(voice)
        spoken = normalise(job.text, voice.language or "en")
        said = [p for p in pieces(spoken) if any(c.isalnum() for c in p.text)]
        if not said:
            raise NothingToSay("there is nothing a voice can say in this text (only "
                               "symbols, emoji or marks)")
        timings = _Timings(len(spoken.split()))
        with cache.writing(job.key) as writer:
            joiner = Joiner(writer)
            silent = self._say(engine, voice, said, joiner, timings, cancel)
            if cancel is not None:
                cancel()
            if writer.samples < max(1, joiner.rate // 20):
                raise silent or NothingToSay("the voice found nothing it can say in this text")
            writer.publish(*timings.result(joiner.rate))

    def _say(self, engine: Engine, voice: Voice, said: list[Piece], joiner: Joiner,
             timings: _Timings, cancel: Callable[[], None] | None) -> NothingToSay | None:
        """Speak each piece into ``joiner`` and time its words; returns why a piece was
        left silent, if one was."""
        name = voice.voice or engine.default_voice
        silent: NothingToSay | None = None
        before: Piece | None = None
        for piece in said:
            if cancel is not None:
                cancel()
            try:
                speech = engine.synthesise(piece.text, name, voice.speed, voice.language,
                                           cancel)
            except NothingToSay as exc:  # that piece stays silent
                silent = silent or exc
                continue
            samples = speech.samples
            if joiner.rate and speech.rate != joiner.rate:
                samples = resample_to(samples, speech.rate, joiner.rate)
            placed = joiner.add(samples, joiner.rate or speech.rate,
                                before.cut if before else None)
            timings.add(piece, placed, joiner.rate,
                        self._spans(speech, samples, joiner.rate, piece, voice))
            before = piece
        joiner.finish()
        return silent

    def _spans(self, speech: Speech, samples: NDArray[np.float32], rate: int, piece: Piece,
               voice: Voice) -> tuple[Spans, bool]:
        """Each word of ``piece`` in its samples (at ``rate``), and whether the engine said."""
        words = piece.text.split()
        if speech.words is not None and len(speech.words) == len(words):
            scale = rate / speech.rate
            return [(round(w.start * scale), round(w.end * scale)) for w in speech.words], True
        from storyreel.audio.align import AlignmentFailed

        try:
            found = self.aligner.place(words, resample_to(samples, rate, RATE),
                                       voice.language or "en", said=True)
        except AlignmentFailed:
            return [None] * len(words), False
        return [None if s is None else (s[0] * rate // RATE, s[1] * rate // RATE)
                for s in found], False


class _Timings:
    """Word spans of a narration gathered piece by piece (48 kHz, per spoken token)."""

    def __init__(self, tokens: int) -> None:
        self.spans: Spans = [None] * tokens
        self.by_engine = True

    def add(self, piece: Piece, placed: Placed, rate: int, found: tuple[Spans, bool]) -> None:
        spans, by_engine = found
        self.by_engine = self.by_engine and by_engine
        for token, span in zip(piece.tokens, spans, strict=True):
            if span is None:
                continue
            start, end = (v * RATE // rate for v in placed.span(*span))
            known = self.spans[token]
            self.spans[token] = (start, end) if known is None else (known[0], end)

    def result(self, rate: int) -> tuple[Spans, str]:
        """The spans and where they came from (``estimated`` only when none is known: the
        words between placed ones are timed between them when the narration is read)."""
        placed = sum(s is not None for s in self.spans)
        if self.by_engine and placed:
            return self.spans, "engine"
        if placed:
            return self.spans, "aligned"
        return [None] * len(self.spans), "estimated"


def resample_to(samples: NDArray[np.float32], rate: int, target: int) -> NDArray[np.float32]:
    """Polyphase resampling of mono speech (exact ratio, anti-aliased)."""
    if rate == target:
        return samples
    resampled: NDArray[np.float32] = resample_poly(samples, target, rate).astype(np.float32)
    return resampled
