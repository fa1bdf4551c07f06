"""Narrations from text: every segment without a recording is spoken by its voice.

The narration step runs before a render's analysis: each segment that has no
``audio`` gets a cached (or freshly spoken) narration and its word timings, and the
project is handed on with those files in place. Recorded narrations always win. What
the cache lacks is spoken by the narrator's :class:`~storyreel.voice.speaker.Speaker`:
in this process by default, or by workers that share the cache folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from storyreel.errors import Problem, ValidationFailed, VoiceError, output_error
from storyreel.media.files import check_output_file
from storyreel.model.language import DEFAULT_LANGUAGE
from storyreel.model.project import Project, Segment, Voice
from storyreel.timeline.words import WordSource, WordTimings, estimate_words
from storyreel.voice.cache import CacheEntry, Holder, NarrationCache, narration_key
from storyreel.voice.engines import open_engine, spoken_by
from storyreel.voice.normalize import normalise, spoken_tokens
from storyreel.voice.speaker import RATE, EngineSource, LocalSpeaker, Speaker, SpeechJob

if TYPE_CHECKING:
    from storyreel.audio.align import Aligner, Spans

__all__ = ["Narrated", "Narration", "Narrator", "export_narration", "narrate_project",
           "needs_voice", "speak_segments"]


def needs_voice(segment: Segment) -> bool:
    """True when the segment has no recording, so its text must be spoken (an interlude,
    a video with neither, plays its clip instead)."""
    return segment.audio is None and not segment.interlude


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
        cache: Where narrations are kept (default: the user's cache folder). A speaker
            on other machines needs a cache folder they see at the same path.
        engines: Maps a voice setting to its engine (tests pass a fake).
        aligner: Finds word timings for engines that do not give them.
        speaker: Speaks what the cache lacks (default: a
            :class:`~storyreel.voice.speaker.LocalSpeaker` with ``engines`` and
            ``aligner``; ``storyreel.distributed.RemoteSpeaker`` for workers).
    """

    def __init__(self, cache: NarrationCache | None = None, engines: EngineSource = open_engine,
                 aligner: Aligner | None = None, speaker: Speaker | None = None) -> None:
        self.cache = cache or NarrationCache()
        self.engines = engines
        self.speaker: Speaker = speaker or LocalSpeaker(engines, aligner)

    def key(self, text: str, voice: Voice) -> str:
        """The cache key of ``text`` spoken by ``voice`` (or the voice that speaks for it:
        :func:`~storyreel.voice.engines.spoken_by`)."""
        voice = spoken_by(voice)
        engine = self.engines(voice)
        name = voice.voice or engine.default_voice
        return narration_key(engine.name, engine.version, name, voice.speed, voice.language,
                             normalise(text, _language(voice)))

    def job(self, text: str, voice: Voice, segment: int | None = None) -> SpeechJob:
        """What a speaker needs to speak ``text`` into the cache.

        Raises:
            VoiceError: The text is empty, or the voice's engine cannot be opened.
        """
        voice = spoken_by(voice)
        if not normalise(text, _language(voice)).strip():
            raise VoiceError("no narration: the segment has neither a recording nor text",
                             segment=segment)
        try:
            key = self.key(text, voice)
        except VoiceError as exc:
            if exc.segment is not None or segment is None:
                raise
            raise _at(exc, segment) from exc
        return SpeechJob(key, text, voice, segment)

    def cached(self, text: str, voice: Voice) -> CacheEntry | None:
        """The narration of ``text`` when it is already in the cache."""
        return self.cache.get(self.key(text, voice))

    def speak(self, text: str, voice: Voice, segment: int | None = None,
              cancel: Callable[[], None] | None = None) -> Narration:
        """The narration of ``text``, from the cache or spoken now.

        Args:
            text: The text as written.
            voice: The voice that speaks it.
            segment: 1-based segment number, for error messages.
            cancel: Raises :class:`RenderCancelled` when the work should stop; called
                after synthesis, before anything is written.

        Raises:
            VoiceError: The text is empty or cannot be spoken, or the engine failed.
        """
        results: list[Narration | VoiceError] = []
        self.speak_jobs([self.job(text, voice, segment)], cancel,
                        lambda _, result: results.append(result))
        (result,) = results
        if isinstance(result, VoiceError):
            raise result
        return result

    def speak_jobs(self, jobs: Sequence[SpeechJob], cancel: Callable[[], None] | None,
                   on_done: Callable[[SpeechJob, Narration | VoiceError], None]) -> None:
        """Give every job its narration: cached ones first, then what the speaker speaks.

        ``on_done`` is called once per job, with its narration or with why it could not
        be spoken (a :class:`VoiceError` naming the job's segment).

        Raises:
            RenderCancelled: ``cancel`` raised it.
            StoryreelError: The speaker failed as a whole (e.g. its workers are gone).
        """
        missing = []
        for job in jobs:
            entry = self.cache.get(job.key)
            if entry is None:
                missing.append(job)
            else:
                on_done(job, self.narration(job.text, entry, _language(job.voice)))

        def spoken(job: SpeechJob, error: VoiceError | None) -> None:
            if error is not None:
                on_done(job, _at(error, job.segment))
                return
            entry = self.cache.get(job.key)
            if entry is None:  # a speaker that breaks its promise
                raise VoiceError(f"the narration was spoken but is not in {self.cache.folder}",
                                 segment=job.segment)
            on_done(job, self.narration(job.text, entry, _language(job.voice)))

        if missing:
            self.speaker(missing, self.cache, cancel, spoken)

    def narration(self, text: str, entry: CacheEntry, language: str = "en") -> Narration:
        """The narration of ``text`` (in ``language``) from its cache entry (its words
        placed in time)."""
        length = _wav_length(entry)
        if entry.source == "estimated" or len(entry.spans) != len(
                normalise(text, language).split()):
            return Narration(entry, estimate_words(text, [], length),
                             "word timings estimated: the aligner could not place this text")
        written = _written_spans(text, entry.spans, language)
        source: WordSource = "engine" if entry.source == "engine" else "aligned"
        from storyreel.audio.align import timings_from_spans  # heavy: Numba

        return Narration(entry, timings_from_spans(text, written, length, source))


def _at(error: VoiceError, segment: int | None) -> VoiceError:
    """``error`` naming ``segment`` (unless it names one already)."""
    if error.segment is not None or segment is None:
        return error
    return VoiceError(error.problem.message, segment=segment, path=error.path)


def _language(voice: Voice) -> str:
    return voice.language or DEFAULT_LANGUAGE


def _written_spans(text: str, spans: Spans, language: str) -> Spans:
    """Spans of the written tokens from spans of the normalised text's tokens."""
    result: Spans = []
    at = 0
    for spoken in spoken_tokens(text, language):
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
        OutputError: The target folder cannot be written, or the target is not a file
            (a folder, pipe or device).
    """
    check_output_file(target)
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
                   on_spoken: Callable[[int, Narration], None],
                   cancel: Callable[[], None] | None = None) -> None:
    """Speak each of the 0-based ``indices`` with its voice, calling ``on_spoken`` as each
    is done (cached ones first). Segments that say the same text with the same voice
    share one narration, spoken once.

    Raises:
        ValidationFailed: After the last one, naming every segment that could not be
            spoken (the others were passed to ``on_spoken``).
        RenderCancelled: ``cancel`` raised it.
        StoryreelError: The narrator's speaker failed as a whole.
    """
    problems: list[Problem] = []
    sharing: dict[str, list[int]] = {}
    jobs: list[SpeechJob] = []
    for index in indices:
        segment = project.segments[index]
        try:
            job = narrator.job(segment.text, _voice(project, index), index + 1)
        except VoiceError as exc:
            problems.append(exc.problem)
            continue
        if job.key not in sharing:
            jobs.append(job)
        sharing.setdefault(job.key, []).append(index)

    def done(job: SpeechJob, result: Narration | VoiceError) -> None:
        for index in sharing[job.key]:
            if isinstance(result, VoiceError):
                problems.append(VoiceError(result.problem.message, segment=index + 1,
                                           path=result.path).problem)
            else:
                on_spoken(index, result)

    if cancel is not None:
        cancel()
    narrator.speak_jobs(jobs, cancel, done)
    if problems:
        raise ValidationFailed(sorted(problems, key=lambda p: p.segment or 0))


def _voice(project: Project, index: int) -> Voice:
    """Segment ``index``'s voice, speaking its text's language (the voice's own setting
    wins; English text keeps the voice as set, so its narrations stay cached)."""
    voice = project.segments[index].voice_of(project.settings.voice)
    language = project.language_of(index)
    if voice.language is None and language != DEFAULT_LANGUAGE:
        return voice.model_copy(update={"language": language})
    return voice


def _narrate(project: Project, todo: list[int], narrator: Narrator, holder: Holder,
             on_segment: Callable[[int], None] | None,
             cancel: Callable[[], None] | None) -> Narrated:
    spoken: dict[int, tuple[Path, Narration]] = {}

    def keep(index: int, narration: Narration) -> None:
        spoken[index] = holder.keep(narration.entry), narration  # before a trim can take it
        if on_segment is not None:
            on_segment(len(spoken))

    speak_segments(project, todo, narrator, keep, cancel)
    result = Narrated(project)
    segments = list(project.segments)
    for index, (audio, narration) in sorted(spoken.items()):
        segments[index] = segments[index].model_copy(update={"audio": audio})
        result.words[index] = narration.words
        result.synthesised.append(index)
        if narration.warning:
            result.warnings.append(f"segment {index + 1}: {narration.warning}")
    result.project = project.model_copy(update={"segments": segments})
    result.project._base_dir = project._base_dir
    return result
