"""One render from start to finish: analyse, plan, export, verify, publish.

Every resource opened here (encoder, frame producer and its threads, music decoder,
clip decoders, the temp file) is owned by a ``with`` block and released on success,
error and cancel alike.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from storyreel.audio.fades import apply_fade
from storyreel.audio.limiter import normalise_gain_db
from storyreel.audio.mix import Fades, Mix, MusicSpec, measure
from storyreel.audio.track import Placement, SoundStream
from storyreel.errors import RenderCancelled, ValidationFailed
from storyreel.frames.kenburns import Motion, StillPicture, choose_motion
from storyreel.media.audio import SAMPLE_RATE, AudioReader, Samples
from storyreel.media.clip import ClipPicture, clip_audio
from storyreel.media.encoder import EncoderSettings, Mp4Encoder
from storyreel.media.image import even_ceil, load_cover_planes
from storyreel.model.project import Project
from storyreel.render.decor import Decorator
from storyreel.render.frames import FrameProducer, Picture
from storyreel.render.output import check_output_dir, publish, sweep_stale, temp_output
from storyreel.render.progress import EXPORT_MESSAGE, CancelToken, ProgressReporter
from storyreel.render.sidecars import prepare_sidecars
from storyreel.render.story import Story, build_story, seconds_to_frames
from storyreel.render.verify import Expected, VerifiedFile, measure_audio, verify_mp4
from storyreel.timeline.plan import frame_to_sample
from storyreel.timeline.words import WordTimings
from storyreel.validate import Analysis, analyse_project

__all__ = ["Job", "JobOutcome"]

log = logging.getLogger("storyreel")

_AAC_HEADROOM_DB = 0.5


@dataclass(frozen=True)
class JobOutcome:
    """What a finished job produced."""

    verified: VerifiedFile
    story: Story
    loudness: tuple[float, float] | None
    loudness_after: tuple[float, float] | None
    sidecars: tuple[Path, ...]
    warnings: tuple[str, ...]
    words: tuple[WordTimings, ...] = ()


class Job:
    """One render's state."""

    def __init__(self, project: Project, target: Path, reporter: ProgressReporter,
                 cancel: CancelToken | None, words: Mapping[int, WordTimings] | None = None
                 ) -> None:
        self.project = project
        self.target = target
        self.reporter = reporter
        self.cancel: CancelToken = cancel if cancel is not None else threading.Event()
        self.settings = project.settings
        self.warnings: list[str] = []
        self.measured_after: tuple[float, float] | None = None
        self.words = words  # known timings of synthesised narrations, by segment
        self.analysis: Analysis | None = None

    def check_cancel(self) -> None:
        """Raise :class:`RenderCancelled` once the token is set."""
        if self.cancel.is_set():
            raise RenderCancelled("render cancelled")

    def run(self) -> JobOutcome:
        """Render, verify and publish; returns what was made."""
        story = self.analyse()
        check_output_dir(self.target)
        sweep_stale(self.target.parent)
        gain, measured = self.normalisation(story)
        plan = story.plan
        with temp_output(self.target) as temp:
            self.export(story, temp, gain)
            self.check_cancel()
            self.reporter.phase("verify", 1, "Verifying output...")
            verified = verify_mp4(temp, Expected(
                self.project.width, self.project.height, self.project.fps,
                plan.total_frames, plan.total_samples, SAMPLE_RATE,
            ))
            self.measure_output(temp)
            self.reporter.update(1)
            self.check_cancel()
            sidecars = prepare_sidecars(self.project, story, self.target)
            self.warnings += sidecars.warnings
            try:
                publish(temp, self.target)
            except BaseException:
                sidecars.discard()
                raise
            published = sidecars.publish()
        words = tuple(self.analysis.words) if self.analysis is not None else ()
        return JobOutcome(verified, story, measured, self.measured_after, tuple(published),
                          tuple(self.warnings), words)

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
                                   or captions.words_json, words=self.words)
        if analysis.problems:
            raise ValidationFailed(analysis.problems)
        self.analysis = analysis
        self.warnings += analysis.warnings
        return build_story(self.project, analysis)

    # -- sound ------------------------------------------------------------------------

    def mix(self, story: Story, gain_db: float = 0.0, *, limit: bool = False) -> Mix:
        """The streamed sound track of ``story``."""
        plan, fades = story.plan, self.settings.transitions
        placements = []
        for position, (item, span) in enumerate(zip(story.items, plan.spans, strict=True)):
            if item.kind == "segment":
                placements.append(Placement(position, span.audio_start, span.narration))
            else:
                start, end = _visible_samples(story, position)
                placements.append(Placement(position, start, end - start))
        music = self.settings.music
        spec = None if music is None else MusicSpec(
            music.path, music.volume, music.loop, music.fade_out, -music.duck)
        master = Fades(round(fades.fade_in * SAMPLE_RATE), round(fades.fade_out * SAMPLE_RATE))
        loudness = self.settings.loudness
        # AAC can raise true peaks by ~0.4 dB on harsh material: limit below the ceiling.
        return Mix(placements, lambda key: self.sound(story, key), plan.total_samples,
                   fades=master, music=spec, gain_db=gain_db,
                   ceiling_dbtp=loudness.true_peak - _AAC_HEADROOM_DB if limit else None)

    def sound(self, story: Story, position: int) -> Samples | SoundStream:
        """The sound of one item: a narration (streamed), or a clip's sound with its fades."""
        item = story.items[position]
        if item.kind == "segment":
            assert item.segment is not None
            audio = self.project.segments[item.segment].audio
            assert audio is not None  # narrated before the job starts
            return AudioReader(audio, segment=item.segment + 1)
        plan = story.plan
        span = plan.spans[position]
        start, end = _visible_samples(story, position)
        assert item.clip is not None
        sound = clip_audio(item.clip, end - start, item.clip_gain)
        if span.crossfade:
            sound = apply_fade(sound, 0, 0, frame_to_sample(span.first_frame, plan.fps,
                                                           SAMPLE_RATE) - start, "in")
        if position + 1 < len(plan.spans) and plan.spans[position + 1].crossfade:
            following = plan.spans[position + 1]
            fade_start = frame_to_sample(following.visible_start, plan.fps, SAMPLE_RATE) - start
            sound = apply_fade(sound, 0, fade_start, end - start - fade_start, "out")
        return sound

    def normalisation(self, story: Story) -> tuple[float, tuple[float, float] | None]:
        """Measure the whole mix once; returns the gain to apply and (LUFS, dBTP) before."""
        loudness = self.settings.loudness
        if not loudness.enabled:
            return 0.0, None
        blocks = max(1, -(-story.plan.total_samples // SAMPLE_RATE))
        self.reporter.phase("loudness", blocks, "Measuring loudness...")
        done = 0

        def on_block() -> None:
            nonlocal done
            done += 1
            self.check_cancel()
            self.reporter.update(done)

        with self.mix(story) as mix:
            lufs, peak = measure(mix, SAMPLE_RATE, on_block)
        gain = normalise_gain_db(lufs, loudness.target)
        log.debug("mix measured %.1f LUFS, %.1f dBTP; gain %+.1f dB", lufs, peak, gain)
        return gain, (lufs, peak)

    # -- pictures ---------------------------------------------------------------------

    def motion(self, segment: int) -> Motion:
        """The Ken Burns motion of a segment."""
        kb = self.settings.ken_burns
        seg = self.project.segments[segment]
        return choose_motion(
            segment, zoom=self._zoom(segment), direction=seg.direction or kb.direction,
            pan=kb.pan, eased=kb.easing == "ease-in-out",
        )

    def _zoom(self, segment: int) -> float:
        seg = self.project.segments[segment]
        return seg.zoom if seg.zoom is not None else self.settings.ken_burns.zoom

    def picture(self, story: Story, position: int) -> Picture:
        """Open what item ``position`` shows."""
        item = story.items[position]
        width, height = self.project.width, self.project.height
        if item.kind != "segment":
            assert item.clip is not None
            return ClipPicture(item.clip, width, height, self.project.fps)
        assert item.segment is not None
        motion = self.motion(item.segment)
        zoom = 1.0 if motion.static else self._zoom(item.segment)
        planes = load_cover_planes(self.project.segments[item.segment].image,
                                   even_ceil(width * zoom), even_ceil(height * zoom),
                                   item.segment + 1)
        return StillPicture(planes, motion)

    def fades(self, story: Story) -> tuple[int, int]:
        """Fade in/out lengths in frames."""
        fades, fps = self.settings.transitions, story.plan.fps
        return seconds_to_frames(fades.fade_in, fps), seconds_to_frames(fades.fade_out, fps)

    # -- export -----------------------------------------------------------------------

    def export(self, story: Story, temp: Path, gain_db: float) -> None:
        """Encode every frame and the whole sound track into ``temp``."""
        project, settings, plan = self.project, self.settings, story.plan
        encoder_settings = EncoderSettings(
            project.width, project.height, project.fps, settings.preset,
            settings.video_bitrate, settings.audio_bitrate, SAMPLE_RATE,
        )
        fade_in, fade_out = self.fades(story)
        decorator = Decorator(project, story, fade_in, fade_out)
        self.reporter.phase("export", plan.total_frames, EXPORT_MESSAGE)
        limit = settings.loudness.enabled
        with self.mix(story, gain_db, limit=limit) as mix, \
                Mp4Encoder(temp, encoder_settings) as encoder, \
                FrameProducer(plan, lambda i: self.picture(story, i), encoder.new_frame,
                              decorator if decorator.active else None) as producer:
            encoder.set_chapters([(c.start, c.title) for c in story.chapters], plan.total_frames)
            # Sound is mixed and encoded in slices of a few frames: interleaved closely
            # enough for the muxer, in blocks large enough to keep Python's share small.
            audio_every = max(1, round(plan.fps / 8))
            for frame in producer.frames(poll=self.check_cancel):
                self.check_cancel()
                encoder.write_video(frame)
                producer.recycle(frame)
                done = encoder.frames_written
                if done % audio_every == 0:
                    end = frame_to_sample(done, plan.fps, SAMPLE_RATE)
                    encoder.write_audio(mix.read_until(end))
                self.reporter.update(done)
            encoder.write_audio(mix.read_until(plan.total_samples))
            encoder.finish()
        self.warnings += dict.fromkeys(decorator.warnings)  # once each, in order

    def measure_output(self, path: Path) -> None:
        """Loudness and true peak of the encoded sound track, as a player will decode it."""
        loudness = self.settings.loudness
        if not loudness.enabled:
            return
        lufs, peak = measure_audio(path)
        self.measured_after = (lufs, peak)
        if peak > loudness.true_peak + 0.05:
            self.warnings.append(f"true peak {peak:.1f} dBTP is above the {loudness.true_peak:g} "
                                 "dBTP ceiling after AAC encoding")


def _visible_samples(story: Story, position: int) -> tuple[int, int]:
    """The sample range in which item ``position`` is on screen (crossfade included)."""
    plan = story.plan
    span = plan.spans[position]
    return (frame_to_sample(span.visible_start, plan.fps, SAMPLE_RATE),
            frame_to_sample(span.end_frame, plan.fps, SAMPLE_RATE))
