"""One render from start to finish: analyse, plan, encode the parts, join, verify, publish.

The picture is encoded in parts (:mod:`storyreel.timeline.chunks`), each kept in the
part cache under a key of everything that shaped it, so a render after a small edit
encodes only the parts that show it; the sound track is encoded once over the whole
timeline (and kept likewise). The parts' packets are then copied into the output.

Every resource opened here (encoders, frame producers and their threads, workers,
the mix, the work folder, the temp file) is owned by a ``with`` block or ``finally``
and released on success, error and cancel alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from storyreel.audio.limiter import normalise_gain_db
from storyreel.audio.mix import measure
from storyreel.audio.soundtrack import story_mix
from storyreel.errors import EncoderError, ValidationFailed
from storyreel.frames.pictures import DRAFT_STILLS, PreparedStills
from storyreel.media.assemble import PartInfo, assemble, probe_part
from storyreel.media.audio import DRAFT_SOUNDS, SAMPLE_RATE
from storyreel.media.encoder import EncoderSettings, Mp4Encoder
from storyreel.model.platforms import length_warning
from storyreel.model.project import Project
from storyreel.render.ahead import StillsAhead, WordsAhead
from storyreel.render.analysis import Analysis, analyse_project, card_warnings, search_focus
from storyreel.render.cache import PartCache
from storyreel.render.decor import fade_frames
from storyreel.render.draftgain import DraftGain, draft_gain
from storyreel.render.keys import FileDigests, part_key, sound_key
from storyreel.render.output import check_output_dir, publish, sweep_stale, temp_output
from storyreel.render.parts import (
    EncoderFactory,
    PartDispatcher,
    PartJob,
    encode_part,
    encode_parts,
    machine_cores,
    part_encoder,
    pool_threads,
)
from storyreel.render.priority import FirstFrame, give_way
from storyreel.render.progress import (
    EXPORT_MESSAGE,
    CancelToken,
    ProgressReporter,
    raise_if_cancelled,
)
from storyreel.render.sidecars import prepare_sidecars
from storyreel.render.verify import Expected, VerifiedFile, measure_audio, verify_mp4
from storyreel.timeline.chunks import Chunk, plan_chunks
from storyreel.timeline.framing import Focus
from storyreel.timeline.plan import frame_to_sample, sample_to_frame
from storyreel.timeline.story import Story, build_story, seconds_to_frames
from storyreel.timeline.words import WordTimings

__all__ = ["Job", "JobOutcome", "SharedSound"]

log = logging.getLogger("storyreel")

#: Least length of a part, and least hold before the next crossfade where a cut goes.
_MIN_PART_SECONDS = 1
_TAIL_GUARD_SECONDS = 0.5
_SCRATCH_DIR = ".storyreel-work"
# The sound track is mixed and encoded a second at a time: its working arrays (a few
# hundred KB each) are reused from the heap, where 10-second blocks took fresh pages
# of several MB from the kernel for every temporary.
_SOUND_BLOCK_SECONDS = 1


@dataclass(frozen=True)
class JobOutcome:
    """What a finished job produced."""

    verified: VerifiedFile
    story: Story
    loudness: tuple[float, float] | None
    loudness_after: tuple[float, float] | None
    sidecars: tuple[Path, ...]
    warnings: tuple[str, ...]
    parts_encoded: int
    parts_reused: int
    words: tuple[WordTimings, ...] = ()
    timings: tuple[tuple[str, float], ...] = ()


@dataclass
class _Sound:
    path: Path
    before: tuple[float, float] | None
    after: tuple[float, float] | None


@dataclass
class SharedSound:
    """The sound track of several outputs of one render, made once in ``folder``.

    Every output has the same timeline and the same sound (the mix does not depend on
    the picture's shape), so the encoded AAC track is made by the first output and
    copied as it is into the others.
    """

    folder: Path
    made: _Sound | None = None


class Job:
    """One render's state.

    Args:
        cache: Where encoded parts are kept between renders (``None``: nowhere).
        encoders: Opens the encoder of one part (a fake in tests).
        workers: Encoders run side by side (``None``: one).
        single_part: Encode the picture as one part (a continuous encode, for comparison).
        parts: Encodes the parts elsewhere (workers through Redis) instead of here.
        draft: A quick preview: the loudness gain comes from the narrations, each
            measured once (:mod:`storyreel.render.draftgain`), and the encoded sound
            track is not measured again (frames, durations and streams are still
            verified).
        overlap: Start encoding once the timeline's timing is known, aligning the
            narrations to their text meanwhile (parts encoded here, one at a time);
            ``False`` analyses everything first (the output is the same).
    """

    def __init__(self, project: Project, target: Path, reporter: ProgressReporter,
                 cancel: CancelToken | None, words: Mapping[int, WordTimings] | None = None,
                 *, cache: PartCache | None = None,
                 encoders: EncoderFactory = part_encoder, workers: int | None = None,
                 single_part: bool = False, parts: PartDispatcher | None = None,
                 draft: bool = False, overlap: bool = True) -> None:
        self.project = project
        self.target = target
        self.reporter = reporter
        self.cancel: CancelToken = cancel if cancel is not None else threading.Event()
        self.settings = project.settings
        self.cache = cache
        self.encoders = encoders
        self.workers = workers
        self.single_part = single_part
        self.parts = parts
        self.draft = draft
        self.draft_gain: DraftGain | None = None
        self.overlap = overlap and parts is None and (workers or 1) <= 1 and not single_part
        self.warnings: list[str] = []
        self.encoded = 0
        self.reused = 0
        self.taken: set[int] = set()  # parts taken from the cache
        self.words = words  # known timings of synthesised narrations, by segment
        self.analysis: Analysis | None = None
        self.digest = FileDigests()  # each input file is read for its hash once per render
        #: Holds the helpers' other work until the first frame is with the encoder (set
        #: up by :meth:`export`; nothing is held before).
        self.first_frame = FirstFrame(hold=False)
        #: Seconds each step took (``analyse``, ``loudness``, ``sound``, ``parts``,
        #: ``assemble``, ``verify``, ``publish``); the sound track's overlap the parts'.
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Add the time the block takes to ``timings[step]``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - started

    def check_cancel(self) -> None:
        """Raise :class:`RenderCancelled` once the token is set."""
        raise_if_cancelled(self.cancel)

    def run(self) -> JobOutcome:
        """Render, verify and publish; returns what was made."""
        return self.write(self.prepare())

    def prepare(self) -> Story:
        """Check the cache and the media, and plan the timeline (once for all outputs)."""
        self.check_cache()
        with self.timed("analyse"):
            return self.analyse()

    def write(self, story: Story, shared: SharedSound | None = None) -> JobOutcome:
        """Encode, verify and publish this job's video of ``story``.

        ``shared``: the sound track made once for several outputs (made here by the
        first, taken as it is by the others).
        """
        check_output_dir(self.target)
        sweep_stale(self.target.parent)
        plan = story.plan
        platform = self.settings.platform  # each output's own: its platform's limit
        too_long = length_warning(platform, plan.duration) if platform else None
        self.warnings += [too_long] if too_long else []
        with temp_output(self.target) as temp, self.workspace() as work:
            sound, story = self.export(story, temp, work, shared)
            self.check_cancel()
            self.reporter.phase("verify", 1, "Verifying output...")
            with self.timed("verify"):
                verified = verify_mp4(temp, Expected(
                    self.project.width, self.project.height, self.project.fps,
                    plan.total_frames, plan.total_samples, SAMPLE_RATE,
                ))
            self.check_peak(sound.after)
            self.reporter.update(1)
            self.check_cancel()
            with self.timed("publish"):
                sidecars = prepare_sidecars(self.project, story, self.target)
                self.warnings += sidecars.warnings
                try:
                    publish(temp, self.target)
                except BaseException:
                    sidecars.discard()
                    raise
                published = sidecars.publish()
        if self.cache is not None:
            self.cache.evict()
        words = tuple(self.analysis.words) if self.analysis is not None else ()
        return JobOutcome(verified, story, sound.before, sound.after, tuple(published),
                          tuple(dict.fromkeys(self.warnings)), self.encoded, self.reused, words,
                          tuple(self.timings.items()))

    def sibling(self, project: Project, target: Path) -> Job:
        """A job for another output of the same render: it shares this job's analysis,
        cache, file hashes, progress and cancel token (call after :meth:`prepare`)."""
        job = Job(project, target, self.reporter, self.cancel, self.words, cache=self.cache,
                  encoders=self.encoders, workers=self.workers, single_part=self.single_part,
                  parts=self.parts, draft=self.draft)
        job.analysis, job.digest = self.analysis, self.digest
        platform = project.settings.platform
        job.warnings += [f"{platform} video: {note}" for note in card_warnings(project)]
        return job

    def check_cache(self) -> None:
        """Render without the cache (and say so) when it cannot be written."""
        if self.cache is None:
            return
        why = self.cache.unwritable()
        if why is not None:
            warning = (f"the cache {self.cache.root} cannot be written ({why}); rendering "
                       "without it")
            log.warning("%s", warning)
            self.warnings.append(warning)
            self.cache = None

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Path]:
        """A private folder for this render's parts: in the cache, or a temp folder."""
        if self.cache is not None:
            with self.cache.workspace() as work:
                yield work
            return
        # No cache: a scratch folder beside the output, swept like a cache's work folders
        # when a killed render leaves it, and removed once empty.
        scratch = PartCache(self.target.parent / _SCRATCH_DIR)
        try:
            with scratch.workspace() as work:
                yield work
        finally:
            for folder in (scratch.root / "work", scratch.root / "new", scratch.root):
                with contextlib.suppress(OSError):
                    folder.rmdir()

    # -- analysis ---------------------------------------------------------------------

    def analyse(self) -> Story:
        """Check every file (all problems at once) and plan the timeline."""
        segments = self.project.segments
        self.reporter.phase("analyse", len(segments), "Checking media...")

        def on_segment(done: int) -> None:
            self.check_cancel()
            self.reporter.update(done)

        captions = self.settings.subtitles
        analysis = analyse_project(self.project, on_segment,
                                   speech=captions.enabled or captions.sidecar
                                   or captions.words_json, words=self.words,
                                   facts=self.cache, digest=self.digest, focus=True,
                                   defer_alignment=self.overlap)
        if analysis.problems:
            raise ValidationFailed(analysis.problems)
        self.analysis = analysis
        self.warnings += analysis.warnings
        return build_story(self.project, analysis, stable=self.draft)

    # -- export -----------------------------------------------------------------------

    def encoder_settings(self, workers: int, cores: int) -> EncoderSettings:
        """The encoder settings of every part (threads chosen for ``workers`` encoders)."""
        project, settings = self.project, self.settings
        base = EncoderSettings(project.width, project.height, project.fps, settings.preset,
                               settings.video_bitrate, settings.audio_bitrate, SAMPLE_RATE)
        if self.parts is not None and self.parts.threads is not None:
            return replace(base, threads=self.parts.threads)
        return pool_threads(base, workers, cores)

    def chunks(self, story: Story, fades: tuple[int, int]) -> tuple[Chunk, ...]:
        """Where the picture is cut into parts."""
        fps = story.plan.fps
        if self.single_part:
            return (Chunk(0, 0, story.plan.total_frames),)
        return plan_chunks(story.plan, fade_in=fades[0], fade_out=fades[1],
                           tail_guard=seconds_to_frames(_TAIL_GUARD_SECONDS, fps),
                           min_frames=seconds_to_frames(_MIN_PART_SECONDS, fps),
                           apart=self.draft)

    def export(self, story: Story, temp: Path, work: Path,
               shared: SharedSound | None = None) -> tuple[_Sound, Story]:
        """Encode (or reuse) the parts and the sound track and join them into ``temp``.

        The sound track is measured and encoded on a thread of its own while the parts
        are encoded (here or on workers), so it costs no wall time of its own. Returns
        the sound track and the story with every narration's words.
        """
        # Held where this process encodes the parts one by one. Not for a draft (its sound
        # track can take longer than its few frames), nor where workers encode them.
        self.first_frame = FirstFrame(hold=not self.draft and self.parts is None
                                      and (self.workers or 1) <= 1)
        try:
            if self.analysis is not None and (self.analysis.pending
                                              or self.analysis.pending_focus):
                sound, story, chunks, paths = self.encode_ahead(story, work, shared)
            else:
                sound, chunks, paths = self.encode_all(story, work, shared)
        finally:
            self.first_frame.reached()  # nothing waits for it any longer
        self.reporter.say(f"Joining {len(chunks)} parts...")
        with self.timed("assemble"):
            assemble(temp, [(p, c.start) for p, c in zip(paths, chunks, strict=True)],
                     sound.path, story.plan.fps, story.plan.total_frames,
                     [(c.start, c.title) for c in story.chapters])
        self.reporter.say(f"Encoded {self.encoded} parts ({self.reused} reused)")
        return sound, story

    def encode_all(self, story: Story, work: Path, shared: SharedSound | None = None
                   ) -> tuple[_Sound, tuple[Chunk, ...], list[Path]]:
        """The parts and the sound track of a story whose analysis is complete."""
        fades = self.fades(story)
        cores = machine_cores()
        workers = self.workers or 1
        settings = self.encoder_settings(workers, cores)
        digest = self.digest
        chunks = self.chunks(story, fades)
        keys = [part_key(self.project, story, c, settings, fades, digest) for c in chunks]
        paths = [work / f"part-{c.index:05d}.mp4" for c in chunks]
        todo = [PartJob(self.project, story, c, settings, fades, p)
                for c, k, p in zip(chunks, keys, paths, strict=True)
                if not self.reuse(c.index, k, p)]
        frames = sum(j.chunk.frames for j in todo)
        with self.sound(story, settings, work, digest, frames, shared) as sound_track:
            with self.timed("parts"):
                self.encode(todo, keys, len(chunks), workers)
                infos = self.check_parts(story, chunks, keys, paths, settings, fades)
            sound = sound_track()
        log.debug("parts: %d encoded, %d reused; %d frames", self.encoded, self.reused,
                  sum(i.frames for i in infos))
        return sound, chunks, paths

    def encode_ahead(self, story: Story, work: Path, shared: SharedSound | None = None
                     ) -> tuple[_Sound, Story, tuple[Chunk, ...], list[Path]]:
        """The parts and the sound track while the narrations are aligned meanwhile.

        ``story`` is timed but its captions wait for words. Each part waits only for the
        words of the segments it can show, and the still it opens with is prepared while
        the part before it is encoded. In a final render the helpers first do only what
        the first part needs (its narrations' words, its pictures' focus, its still);
        the rest, and the sound track (which needs only the timing, and is done long
        before the last frame), wait until the first frame is with the encoder. Returns
        the sound track, the story with every narration's words, the parts and their
        paths.
        """
        assert self.analysis is not None
        fades = self.fades(story)
        settings = self.encoder_settings(1, machine_cores())
        chunks = self.chunks(story, fades)
        paths = [work / f"part-{c.index:05d}.mp4" for c in chunks]
        # Parts whose frames no narration left for later can change are known already.
        needs = [self.needs(story, chunk) for chunk in chunks]
        keys = [part_key(self.project, story, c, settings, fades, self.digest)
                if not needs[c.index] else "" for c in chunks]
        todo = [c for c in chunks if needs[c.index]
                or not self.reuse(c.index, keys[c.index], paths[c.index])]
        frames = sum(c.frames for c in todo)
        stills = DRAFT_STILLS if self.draft else PreparedStills()
        analysis = self.analysis

        def search(segment: int) -> Focus | None:
            return search_focus(self.project, analysis, segment, self.cache, self.digest)

        with WordsAhead(analysis.pending, self.cache, self.cancel, analysis.pending_focus,
                        search, first_frame=self.first_frame,
                        first=needs[todo[0].index] if todo else ()) as words, \
                StillsAhead(self.project, stills) as ahead:
            if todo:
                ahead.prepare(_opening_segment(story, todo[0]))
                self.story_with(story, words, needs[todo[0].index])
            with self.sound(story, settings, work, self.digest, frames,
                            shared) as sound_track:
                self.say_parts(len(chunks))
                with self.timed("parts"):
                    done = 0
                    for n, chunk in enumerate(todo):
                        if n + 1 < len(todo):
                            ahead.prepare(_opening_segment(story, todo[n + 1]),
                                          self.first_frame)
                        done = self.encode_one(
                            self.story_with(story, words, needs[chunk.index]), chunk, keys,
                            paths[chunk.index], settings, fades, stills, done)
                        self.first_frame.reached()  # also when the part was reused
                    self.analysis = replace(self.with_words(words, None), pending=[],
                                            pending_focus=[])
                    story = build_story(self.project, self.analysis, stable=self.draft)
                    self.warnings += words.notes()
                    self.redo_stale(story, chunks, keys, paths, settings, fades)
                    self.check_parts(story, chunks, keys, paths, settings, fades)
                sound = sound_track()
        return sound, story, chunks, paths

    def encode_one(self, story: Story, chunk: Chunk, keys: list[str], path: Path,
                   settings: EncoderSettings, fades: tuple[int, int], stills: PreparedStills,
                   done: int) -> int:
        """Encode (or reuse) one part of ``story``; returns the frames done so far."""
        keys[chunk.index] = part_key(self.project, story, chunk, settings, fades, self.digest)
        if self.reuse(chunk.index, keys[chunk.index], path):
            self.reporter.update(done + chunk.frames)
            return done + chunk.frames
        count = done

        def on_frame() -> None:
            nonlocal count
            count += 1
            self.first_frame.reached()
            self.reporter.update(count)

        job = PartJob(self.project, story, chunk, settings, fades, path)
        self.part_done(job, keys, encode_part(job, self.encoders, self.cancel, on_frame,
                                              stills))
        return count

    def needs(self, story: Story, chunk: Chunk) -> set[int]:
        """The segments left for later whose speech and words, or picture's focus, can
        shape ``chunk``'s frames.

        A segment's captions start no earlier than its narration and end within its own
        frames, and a caption is changed by the next only when that one starts before
        it ends. So a part needs the segments whose captions can show in it, and those
        whose narration starts before the last frame such a caption can reach; and the
        focus of the pictures it shows.
        """
        assert self.analysis is not None
        pending = {p.segment for p in self.analysis.pending}
        plan, items = story.plan, story.items
        voiced = [(items[s.index].segment, sample_to_frame(s.audio_start, plan.fps, SAMPLE_RATE),
                   s.end_frame) for s in plan.spans if s.end_frame > chunk.start]
        reach = max((end for _, start, end in voiced if start < chunk.end), default=chunk.end)
        shown = {items[s.index].segment for s in plan.spans
                 if s.end_frame > chunk.start and s.visible_start < chunk.end}
        framed = {segment for segment in self.analysis.pending_focus if segment in shown}
        return {segment for segment, start, _ in voiced
                if segment in pending and start < reach} | framed

    def story_with(self, story: Story, words: WordsAhead, segments: set[int]) -> Story:
        """``story`` with the speech and words of ``segments`` (once found)."""
        return build_story(self.project, self.with_words(words, segments),
                           stable=self.draft)

    def with_words(self, words: WordsAhead, segments: set[int] | None) -> Analysis:
        """The analysis with the speech and words found ahead of ``segments`` (all:
        ``None``), once found, and of any other segment found so far."""
        analysis = self.analysis
        assert analysis is not None
        found = words.wait(range(len(self.project.segments)) if segments is None
                           else segments)
        speech = [found[i].speech if i in found else s for i, s in enumerate(analysis.speech)]
        timings = [found[i].words if i in found else t for i, t in enumerate(analysis.words)]
        framed = words.focus()
        focus = [framed.get(i, f) for i, f in enumerate(analysis.focus)]
        return replace(analysis, speech=speech, words=timings, focus=focus)

    def redo_stale(self, story: Story, chunks: tuple[Chunk, ...], keys: list[str],
                   paths: list[Path], settings: EncoderSettings,
                   fades: tuple[int, int]) -> None:
        """Encode again any part whose frames the words found later changed after all
        (its key with every word known differs from the one it was encoded under)."""
        stale = []
        for chunk in chunks:
            key = part_key(self.project, story, chunk, settings, fades, self.digest)
            if key != keys[chunk.index]:
                keys[chunk.index] = key
                paths[chunk.index].unlink(missing_ok=True)
                stale.append(PartJob(self.project, story, chunk, settings, fades,
                                     paths[chunk.index]))
        if stale:
            log.warning("re-encoding %d part(s) drawn before their captions were known",
                        len(stale))
            self.encode(stale, keys, len(chunks), 1)

    def part_done(self, job: PartJob, keys: list[str], warnings: list[str]) -> None:
        """Count an encoded part and keep it in the cache under its key."""
        self.encoded += 1
        self.warnings += warnings
        if self.cache is not None:
            self.cache.put("parts", keys[job.chunk.index], job.path, {"warnings": warnings})

    def reuse(self, index: int, key: str, path: Path) -> bool:
        """Take part ``key`` from the cache into ``path``; False when it must be encoded."""
        if self.cache is None:
            return False
        notes = self.cache.take("parts", key, path)
        if notes is None:
            return False
        self.warnings += [str(w) for w in notes.get("warnings", [])]
        self.taken.add(index)
        self.reused += 1
        return True

    def encode(self, todo: list[PartJob], keys: list[str], total: int, workers: int) -> None:
        """Encode the parts in ``todo``, storing each in the cache once it is complete."""
        done = 0

        def on_frame() -> None:
            nonlocal done
            done += 1
            self.first_frame.reached()
            self.reporter.update(done)

        def on_part(job: PartJob, warnings: list[str]) -> None:
            self.first_frame.reached()  # a runner may report no frames
            self.part_done(job, keys, warnings)

        self.say_parts(total)
        if self.parts is not None:
            self.parts(todo, self.cancel, on_frame, on_part)
            return
        encode_parts(todo, self.encoders, self.cancel, on_frame, on_part, workers,
                     DRAFT_STILLS if self.draft else None)

    def say_parts(self, total: int) -> None:
        """Tell what is encoded and what reused (``Encoding 2 of 14 parts (12 reused)``)."""
        todo = total - self.reused
        if todo == 0:
            self.reporter.say(f"All {total} parts reused")
            return
        self.reporter.say(f"Encoding {todo} of {total} parts ({self.reused} reused)")

    def check_parts(self, story: Story, chunks: tuple[Chunk, ...], keys: list[str],
                    paths: list[Path], settings: EncoderSettings,
                    fades: tuple[int, int]) -> list[PartInfo]:
        """Make sure every part can be joined; a part that cannot is encoded again.

        Parts must have the expected frame count, start with a keyframe, share one
        B-frame delay and carry byte-identical SPS/PPS: a part with other headers would
        make decoders fail part way through the joined file, so it is never copied.
        """
        fps = story.plan.fps
        for attempt in range(2):
            infos = [probe_part(p, fps) for p in paths]
            reference = _reference([i for n, i in enumerate(infos) if n not in self.taken]
                                   or infos)
            bad = [c for c, info in zip(chunks, infos, strict=True)
                   if not _fits(info, c, reference)]
            if not bad:
                return infos
            if attempt:
                break
            log.warning("re-encoding %d part(s) that do not match the others", len(bad))
            for chunk in bad:
                if self.cache is not None:
                    self.cache.drop("parts", keys[chunk.index])
                paths[chunk.index].unlink(missing_ok=True)
                if chunk.index in self.taken:
                    self.taken.discard(chunk.index)
                    self.reused -= 1
            jobs = [PartJob(self.project, story, c, settings, fades, paths[c.index])
                    for c in bad]
            self.encode(jobs, keys, len(chunks), 1)
        raise EncoderError("encoded parts cannot be joined: their H.264 headers differ",
                           ", ".join(str(c.index + 1) for c in bad))

    # -- sound ------------------------------------------------------------------------

    @contextlib.contextmanager
    def sound(self, story: Story, settings: EncoderSettings, work: Path,
              digest: FileDigests, frames: int, shared: SharedSound | None = None
              ) -> Iterator[Callable[[], _Sound]]:
        """The encoded sound track: shared, from the cache, or measured and encoded meanwhile.

        Yields a function that returns the track once it is ready. The export phase
        (of ``frames`` frames to encode) starts here. With frames to encode, the track
        is made on a thread that the block owns: it stops with the render (error or
        cancel) and is joined before the block ends. With none, it is made first, in
        the open, with its own progress. A track made for ``shared`` is kept there for
        the render's other outputs.
        """
        if shared is not None and shared.made is not None:
            self.reporter.phase("export", frames, EXPORT_MESSAGE)
            made = shared.made
            yield lambda: made
            return
        with self.own_sound(story, settings, work if shared is None else shared.folder,
                            digest, frames) as ready:
            if shared is None:
                yield ready
                return

            def keep() -> _Sound:
                shared.made = ready()
                return shared.made

            yield keep

    @contextlib.contextmanager
    def own_sound(self, story: Story, settings: EncoderSettings, folder: Path,
                  digest: FileDigests, frames: int) -> Iterator[Callable[[], _Sound]]:
        """The sound track made (or taken from the cache) into ``folder``."""
        path = folder / "sound.m4a"
        key = sound_key(self.project, story, settings, digest)
        if self.draft:  # its gain is estimated: never taken for a final render's track
            key = hashlib.sha256(f"draft:{key}".encode()).hexdigest()
        notes = self.cache.take("sound", key, path) if self.cache is not None else None
        if notes is not None:
            self.reporter.phase("export", frames, EXPORT_MESSAGE)
            cached = _Sound(path, _pair(notes.get("before")), _pair(notes.get("after")))
            yield lambda: cached
            return
        if frames == 0:
            made = self.make_sound(story, settings, path, key, self.cancel, report=True)
            self.reporter.phase("export", frames, EXPORT_MESSAGE)
            yield lambda: made
            return
        stop = _Stop(self.cancel)
        self.reporter.phase("export", frames, EXPORT_MESSAGE)
        with ThreadPoolExecutor(1, thread_name_prefix="storyreel-sound",
                                initializer=give_way) as pool:
            future = pool.submit(self.make_sound, story, settings, path, key, stop,
                                 report=False, after=self.first_frame)
            try:
                yield future.result
            finally:
                stop.set()  # a render that failed or was cancelled stops the track too

    def make_sound(self, story: Story, settings: EncoderSettings, path: Path, key: str,
                   stop: CancelToken, *, report: bool, after: FirstFrame | None = None
                   ) -> _Sound:
        """Measure the mix, encode the sound track into ``path`` and keep it in the cache.

        ``report``: send progress (only from the render's own thread). ``after``: start
        once the first frame is with the encoder.
        """
        if after is not None and not after.wait(stop.is_set):
            raise_if_cancelled(stop)
        with self.timed("sound"):
            return self._make_sound(story, settings, path, key, stop, report=report)

    def _make_sound(self, story: Story, settings: EncoderSettings, path: Path, key: str,
                    stop: CancelToken, *, report: bool) -> _Sound:
        with self.timed("loudness"):
            gain, before = self.normalisation(story, stop, report=report)
        if report:
            self.reporter.say("Encoding the sound track...")
        limit = self.settings.loudness.enabled
        plan = story.plan
        # A draft keeps its narrations and music decoded for the next draft.
        sounds = DRAFT_SOUNDS if self.draft else None
        with story_mix(self.project, story, gain, limit=limit, sounds=sounds) as mix, \
                Mp4Encoder(path, settings, streams=("audio",), quick_audio=self.draft) as encoder:
            step = frame_to_sample(round(plan.fps * _SOUND_BLOCK_SECONDS), plan.fps, SAMPLE_RATE)
            for end in range(step, plan.total_samples + step, step):
                raise_if_cancelled(stop)
                encoder.write_audio(mix.read_until(min(end, plan.total_samples)))
            encoder.finish()
        after = measure_audio(path) if limit and not self.draft else None
        if self.cache is not None:
            self.cache.put("sound", key, path, {"before": before, "after": after})
        return _Sound(path, before, after)

    def normalisation(self, story: Story, stop: CancelToken, *, report: bool
                      ) -> tuple[float, tuple[float, float] | None]:
        """Measure the whole mix once; returns the gain to apply and (LUFS, dBTP) before."""
        loudness = self.settings.loudness
        if not loudness.enabled:
            return 0.0, None
        if self.draft:
            found = draft_gain(self.project, self.cache, self.digest)
            self.draft_gain = found
            log.debug("draft gain %+.1f dB from narrations at %.1f LUFS (%d measured, "
                      "%d remembered)", found.gain_db, found.lufs, found.measured,
                      found.recalled)
            return found.gain_db, None
        blocks = max(1, -(-story.plan.total_samples // SAMPLE_RATE))
        if report:
            self.reporter.phase("loudness", blocks, "Measuring loudness...")
        done = 0

        def on_block() -> None:
            nonlocal done
            done += 1
            raise_if_cancelled(stop)
            if report:
                self.reporter.update(done)

        with story_mix(self.project, story) as mix:
            lufs, peak = measure(mix, SAMPLE_RATE, on_block)
        gain = normalise_gain_db(lufs, loudness.target)
        log.debug("mix measured %.1f LUFS, %.1f dBTP; gain %+.1f dB", lufs, peak, gain)
        return gain, (lufs, peak)

    def check_peak(self, after: tuple[float, float] | None) -> None:
        """Warn when the encoded sound track peaks above the ceiling."""
        ceiling = self.settings.loudness.true_peak
        if after is not None and after[1] > ceiling + 0.05:
            self.warnings.append(f"true peak {after[1]:.1f} dBTP is above the {ceiling:g} "
                                 "dBTP ceiling after AAC encoding")

    def fades(self, story: Story) -> tuple[int, int]:
        """Fade in/out lengths in frames."""
        return fade_frames(self.project)


class _Stop:
    """Set by its owner, or by the render's cancel token."""

    def __init__(self, cancel: CancelToken) -> None:
        self._cancel = cancel
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set() or self._cancel.is_set()


def _opening_segment(story: Story, chunk: Chunk) -> int | None:
    """The segment whose picture a part opens with (``None``: not a segment)."""
    for span in story.plan.spans:
        if span.visible_start <= chunk.start < span.end_frame:
            return story.items[span.index].segment
    return None


def _reference(infos: list[PartInfo]) -> tuple[bytes, int]:
    """The headers and delay most parts share (first seen wins a tie)."""
    counts: dict[tuple[bytes, int], int] = {}
    for info in infos:
        key = (info.headers, info.delay)
        counts[key] = counts.get(key, 0) + 1
    return max(counts, key=lambda k: counts[k])


def _fits(info: PartInfo, chunk: Chunk, reference: tuple[bytes, int]) -> bool:
    return (info.frames == chunk.frames and info.starts_with_keyframe
            and (info.headers, info.delay) == reference)


def _pair(value: object) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        return float(value[0]), float(value[1])
    return None
