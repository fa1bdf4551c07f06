"""Narrations from text: every segment without a recording is spoken by its voice.

The narration step runs before a render's analysis: each segment that has no
``audio`` gets a cached (or freshly synthesised) narration and its word timings, and
the project is handed on with those files in place. Recorded narrations always win.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.align import Aligner, AlignmentFailed, Spans, timings_from_spans
from storyreel.errors import ValidationFailed, VoiceError, output_error
from storyreel.model.project import Project, Segment, Voice
from storyreel.timeline.words import WordSource, WordTimings, estimate_words
from storyreel.voice.base import Engine, Speech
from storyreel.voice.cache import CacheEntry, Holder, NarrationCache, narration_key
from storyreel.voice.engines import open_engine
from storyreel.voice.normalize import normalise, spoken_tokens

__all__ = ["Narrated", "Narration", "Narrator", "export_narration", "narrate_project",
           "needs_voice", "resample_to", "speak_segments"]

RATE = 48_000
EngineSource = Callable[[Voice], Engine]


def needs_voice(segment: Segment) -> bool:
    """True when the segment has no recording, so its text must be spoken."""
    return segment.audio is None


@dataclass(frozen=True)
class Narration:
    """One synthesised narration: its cached audio and when each written word is said."""

    entry: CacheEntry
    words: WordTimings
    warning: str | None = None

    @property
    def seconds(self) -> float:
        """Its length in seconds."""
        return _wav_length(self.entry) / RATE


class Narrator:
    """Synthesises narrations through the cache.

    Args:
        cache: Where narrations are kept (default: the user's cache folder).
        engines: Maps a voice setting to its engine (tests pass a fake).
        aligner: Finds word timings for engines that do not give them.
    """

    def __init__(self, cache: NarrationCache | None = None, engines: EngineSource = open_engine,
                 aligner: Aligner | None = None) -> None:
        self.cache = cache or NarrationCache()
        self.engines = engines
        self.aligner = aligner or Aligner()
        self.synthesised = 0

    def key(self, text: str, voice: Voice) -> str:
        """The cache key of ``text`` spoken by ``voice``."""
        engine = self.engines(voice)
        name = voice.voice or engine.default_voice
        return narration_key(engine.name, engine.version, name, voice.speed, voice.language,
                             normalise(text))

    def cached(self, text: str, voice: Voice) -> CacheEntry | None:
        """The narration of ``text`` when it is already in the cache."""
        return self.cache.get(self.key(text, voice))

    def speak(self, text: str, voice: Voice, segment: int | None = None,
              cancel: Callable[[], None] | None = None) -> Narration:
        """The narration of ``text``, from the cache or synthesised now.

        Args:
            text: The text as written.
            voice: The voice that speaks it.
            segment: 1-based segment number, for error messages.
            cancel: Raises :class:`RenderCancelled` when the work should stop; called
                after synthesis, before anything is written.

        Raises:
            VoiceError: The text is empty or cannot be spoken, or the engine failed.
        """
        spoken = normalise(text)
        if not spoken.strip():
            raise VoiceError("no narration: the segment has neither a recording nor text",
                             segment=segment)
        try:
            engine = self.engines(voice)
            key = self.key(text, voice)
            entry = self.cache.get(key)
            if entry is None:
                speech = engine.synthesise(spoken, voice.voice or engine.default_voice,
                                           voice.speed, voice.language, cancel)
                if cancel is not None:
                    cancel()
                entry = self._store(key, speech, spoken, voice)
                self.synthesised += 1
        except VoiceError as exc:
            if exc.segment is not None or segment is None:
                raise
            raise VoiceError(str(exc), segment=segment) from exc
        return self._narration(text, entry)

    def _store(self, key: str, speech: Speech, spoken: str, voice: Voice) -> CacheEntry:
        if len(speech.samples) < speech.rate // 20:
            raise VoiceError("the voice found nothing it can say in this text")
        if speech.words is not None and len(speech.words) == len(spoken.split()):
            spans: Spans = [(w.start * RATE // speech.rate, w.end * RATE // speech.rate)
                            for w in speech.words]
            return self.cache.put(key, speech.samples, speech.rate, spans, "engine")
        language = (voice.language or "en").lower()
        try:
            if not language.startswith("en"):
                raise AlignmentFailed(f"word alignment speaks English, not {language}")
            spans = self.aligner.spans(spoken.split(), resample_to(speech.samples,
                                                                   speech.rate, RATE))
            source = "aligned"
        except AlignmentFailed:
            spans, source = [None] * len(spoken.split()), "estimated"
        return self.cache.put(key, speech.samples, speech.rate, spans, source)

    def _narration(self, text: str, entry: CacheEntry) -> Narration:
        length = _wav_length(entry)
        if entry.source == "estimated" or len(entry.spans) != len(normalise(text).split()):
            return Narration(entry, estimate_words(text, [], length),
                             "word timings estimated: the aligner could not place this text")
        written = _written_spans(text, entry.spans)
        source: WordSource = "engine" if entry.source == "engine" else "aligned"
        return Narration(entry, timings_from_spans(text, written, length, source))


def _written_spans(text: str, spans: Spans) -> Spans:
    """Spans of the written tokens from spans of the normalised text's tokens."""
    result: Spans = []
    at = 0
    for spoken in spoken_tokens(text):
        count = len(spoken.split())
        placed = [s for s in spans[at:at + count] if s is not None]
        at += count
        result.append((placed[0][0], placed[-1][1]) if placed else None)
    return result


def _length_at(samples: int, rate: int) -> int:
    return samples * RATE // rate


def _wav_length(entry: CacheEntry) -> int:
    try:
        with wave.open(str(entry.wav), "rb") as wav:
            return _length_at(wav.getnframes(), wav.getframerate())
    except (OSError, EOFError, wave.Error):
        return 0


def export_narration(entry: CacheEntry, target: Path) -> Path:
    """Copy a cached narration to ``target`` atomically (temp beside it, then rename).

    Raises:
        OutputError: The target folder cannot be written.
    """
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry.wav, temp)
        os.replace(temp, target)
    except OSError as exc:
        raise output_error(exc, target) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return target


def resample_to(samples: NDArray[np.float32], rate: int, target: int) -> NDArray[np.float32]:
    """Polyphase resampling of mono speech (exact ratio, anti-aliased)."""
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    common = math.gcd(rate, target)
    resampled: NDArray[np.float32] = resample_poly(
        samples, target // common, rate // common).astype(np.float32)
    return resampled


@dataclass
class Narrated:
    """A project whose every segment has a narration file.

    Attributes:
        project: The project with synthesised narrations in place of missing ``audio``.
        words: Word timings of the synthesised narrations, by 0-based segment.
        synthesised: 0-based segments that had no recording.
        warnings: Things worth knowing (e.g. timings that had to be estimated).
    """

    project: Project
    words: dict[int, WordTimings] = field(default_factory=dict)
    synthesised: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@contextlib.contextmanager
def narrate_project(project: Project, narrator: Narrator | None = None, *,
                    on_start: Callable[[int], None] | None = None,
                    on_segment: Callable[[int], None] | None = None,
                    cancel: Callable[[], None] | None = None) -> Iterator[Narrated]:
    """Give every segment without a recording its synthesised narration, for one render.

    The narration files stay valid until the ``with`` block ends, even if another render
    trims the shared cache meanwhile.

    Args:
        project: The project as loaded.
        narrator: The synthesiser (default: the built-in cache and engines).
        on_start: Called with the number of segments to narrate.
        on_segment: Called with the number narrated so far.
        cancel: Raises :class:`RenderCancelled` to stop between (and after) syntheses.

    Raises:
        ValidationFailed: Segments that cannot be narrated (each named).
        RenderCancelled: ``cancel`` raised it.
    """
    todo = [i for i, segment in enumerate(project.segments) if needs_voice(segment)]
    if not todo:
        yield Narrated(project)
        return
    narrator = narrator or Narrator()
    if on_start is not None:
        on_start(len(todo))
    with narrator.cache.hold() as holder:
        yield _narrate(project, todo, narrator, holder, on_segment, cancel)


def speak_segments(project: Project, indices: list[int], narrator: Narrator,
                   cancel: Callable[[], None] | None = None) -> Iterator[tuple[int, Narration]]:
    """Speak each of the 0-based ``indices`` with its voice, yielding them as they are done.

    Raises:
        ValidationFailed: After the last one, naming every segment that could not be
            spoken (the others were yielded).
        RenderCancelled: ``cancel`` raised it.
    """
    problems = []
    for index in indices:
        if cancel is not None:
            cancel()
        segment = project.segments[index]
        try:
            yield index, narrator.speak(segment.text, segment.voice_of(project.settings.voice),
                                        index + 1, cancel)
        except VoiceError as exc:
            problems.append(exc.problem)
    if problems:
        raise ValidationFailed(problems)


def _narrate(project: Project, todo: list[int], narrator: Narrator, holder: Holder,
             on_segment: Callable[[int], None] | None,
             cancel: Callable[[], None] | None) -> Narrated:
    result = Narrated(project)
    segments = list(project.segments)
    spoken = speak_segments(project, todo, narrator, cancel)
    for done, (index, narration) in enumerate(spoken, start=1):
        segments[index] = segments[index].model_copy(
            update={"audio": holder.keep(narration.entry)})
        result.words[index] = narration.words
        result.synthesised.append(index)
        if narration.warning:
            result.warnings.append(f"segment {index + 1}: {narration.warning}")
        if on_segment is not None:
            on_segment(done)
    result.project = project.model_copy(update={"segments": segments})
    result.project._base_dir = project._base_dir
    return result

