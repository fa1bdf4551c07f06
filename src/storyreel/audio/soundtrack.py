"""The story's sound track: each item's sound placed on the timeline and mixed.

Narrations start on their segment's first frame. A visual's own sound (a segment's
clip when its ``volume`` lets it be heard, an intro or outro clip) plays while it is
on screen, from the moment it appears, and fades with the crossfades around it; a
segment's clip sound is ducked under the narration like music.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from storyreel.audio.fades import apply_fade
from storyreel.audio.mix import Fades, Mix, MusicSpec
from storyreel.audio.track import Placement, SoundStream
from storyreel.media.audio import SAMPLE_RATE, AudioReader, Samples
from storyreel.media.clip import clip_sound
from storyreel.model.project import Project
from storyreel.model.visual import Video
from storyreel.timeline.plan import frame_to_sample
from storyreel.timeline.story import Story

__all__ = ["item_sound", "story_mix"]

# AAC can raise true peaks by ~0.4 dB on harsh material: the limiter aims below the ceiling.
_AAC_HEADROOM_DB = 0.5
#: How far clip sound under a narration is lowered while the voice speaks, without music.
_CLIP_DUCK_DB = -10.0


def story_mix(project: Project, story: Story, gain_db: float = 0.0, *,
              limit: bool = False) -> Mix:
    """The streamed sound track of ``story`` (``limit``: true-peak limit to the ceiling)."""
    settings, plan = project.settings, story.plan
    count = len(story.items)
    placements: list[Placement] = []
    beds: list[Placement] = []
    for position, (item, span) in enumerate(zip(story.items, plan.spans, strict=True)):
        if item.segment is not None and project.segments[item.segment].audio is not None:
            placements.append(Placement(position, span.audio_start, span.narration))
        if item.gain is not None:
            start, end = _visible_samples(story, position)
            own = Placement(count + position, start, end - start)
            (beds if item.segment is not None else placements).append(own)
    music, fades = settings.music, settings.transitions
    spec = None if music is None else MusicSpec(
        music.path, music.volume, music.loop, music.fade_out, -music.duck)
    master = Fades(round(fades.fade_in * SAMPLE_RATE), round(fades.fade_out * SAMPLE_RATE))
    ceiling = settings.loudness.true_peak - _AAC_HEADROOM_DB if limit else None
    duck = -music.duck if music is not None else _CLIP_DUCK_DB
    return Mix(placements, lambda key: item_sound(project, story, key), plan.total_samples,
               fades=master, music=spec, gain_db=gain_db, ceiling_dbtp=ceiling, beds=beds,
               bed_duck_db=duck)


def item_sound(project: Project, story: Story, key: int) -> Samples | SoundStream:
    """The sound placed under ``key``: item ``key``'s narration (streamed), or, for keys
    from ``len(story.items)`` on, the own sound of item ``key - len(story.items)``."""
    count = len(story.items)
    if key < count:
        segment = story.items[key].segment
        assert segment is not None
        audio = project.segments[segment].audio
        assert audio is not None  # narrated before the job starts
        return AudioReader(audio, segment=segment + 1)
    return _own_sound(story, key - count)


def _own_sound(story: Story, position: int) -> Samples:
    """A visual's own sound over the time it is visible, with its crossfades."""
    item, plan = story.items[position], story.plan
    span = plan.spans[position]
    start, end = _visible_samples(story, position)
    assert isinstance(item.visual, Video) and item.clip is not None and item.gain is not None
    options = item.visual.clip
    trim = Fraction(str(options.start))
    length = min(end - start, _samples(item.clip.length))
    sound = clip_sound(item.visual.video, trim, length, item.gain)
    if options.fit == "loop" and length < end - start:
        sound = np.tile(sound, -(-(end - start) // length))[:, : end - start]
    elif length < end - start:
        sound = np.pad(sound, ((0, 0), (0, end - start - length)))
    if span.crossfade:
        sound = apply_fade(sound, 0, 0, frame_to_sample(span.first_frame, plan.fps,
                                                       SAMPLE_RATE) - start, "in")
    if position + 1 < len(plan.spans) and plan.spans[position + 1].crossfade:
        following = plan.spans[position + 1]
        fade_start = frame_to_sample(following.visible_start, plan.fps, SAMPLE_RATE) - start
        sound = apply_fade(sound, 0, fade_start, end - start - fade_start, "out")
    return np.ascontiguousarray(sound, dtype=np.float32)


def _samples(seconds: Fraction) -> int:
    return int(seconds * SAMPLE_RATE + Fraction(1, 2))


def _visible_samples(story: Story, position: int) -> tuple[int, int]:
    """The sample range in which item ``position`` is on screen (crossfade included)."""
    plan = story.plan
    span = plan.spans[position]
    return (frame_to_sample(span.visible_start, plan.fps, SAMPLE_RATE),
            frame_to_sample(span.end_frame, plan.fps, SAMPLE_RATE))
