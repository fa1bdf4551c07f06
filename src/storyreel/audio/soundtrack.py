"""The story's sound track: each item's sound placed on the timeline and mixed.

Narrations start on their segment's first frame; an intro or outro clip's sound
plays while the clip is on screen and fades with the crossfades around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from storyreel.audio.fades import FadeDirection, apply_fade
from storyreel.audio.mix import Fades, Mix, MusicSpec
from storyreel.audio.track import Placement, SoundStream
from storyreel.media.audio import SAMPLE_RATE, AudioReader, Samples
from storyreel.media.clip import ClipSound
from storyreel.model.project import Project
from storyreel.timeline.plan import frame_to_sample
from storyreel.timeline.story import Story

__all__ = ["FadedStream", "item_sound", "story_mix"]

# AAC can raise true peaks by ~0.4 dB on harsh material: the limiter aims below the ceiling.
_AAC_HEADROOM_DB = 0.5


def story_mix(project: Project, story: Story, gain_db: float = 0.0, *,
              limit: bool = False) -> Mix:
    """The streamed sound track of ``story`` (``limit``: true-peak limit to the ceiling)."""
    settings, plan = project.settings, story.plan
    placements = []
    for position, (item, span) in enumerate(zip(story.items, plan.spans, strict=True)):
        if item.kind == "segment":
            placements.append(Placement(position, span.audio_start, span.narration))
        else:
            start, end = _visible_samples(story, position)
            placements.append(Placement(position, start, end - start))
    music, fades = settings.music, settings.transitions
    spec = None if music is None else MusicSpec(
        music.path, music.volume, music.loop, music.fade_out, -music.duck)
    master = Fades(round(fades.fade_in * SAMPLE_RATE), round(fades.fade_out * SAMPLE_RATE))
    ceiling = settings.loudness.true_peak - _AAC_HEADROOM_DB if limit else None
    return Mix(placements, lambda key: item_sound(project, story, key), plan.total_samples,
               fades=master, music=spec, gain_db=gain_db, ceiling_dbtp=ceiling)


def item_sound(project: Project, story: Story, position: int) -> Samples | SoundStream:
    """The sound of one item: a narration (streamed), or a clip's sound with its fades."""
    item = story.items[position]
    if item.kind == "segment":
        assert item.segment is not None
        audio = project.segments[item.segment].audio
        assert audio is not None  # narrated before the job starts
        return AudioReader(audio, segment=item.segment + 1)
    plan = story.plan
    span = plan.spans[position]
    start, end = _visible_samples(story, position)
    assert item.clip is not None
    fades: list[tuple[int, int, FadeDirection]] = []
    if span.crossfade:
        fades.append((0, frame_to_sample(span.first_frame, plan.fps, SAMPLE_RATE) - start, "in"))
    if position + 1 < len(plan.spans) and plan.spans[position + 1].crossfade:
        following = plan.spans[position + 1]
        fade_start = frame_to_sample(following.visible_start, plan.fps, SAMPLE_RATE) - start
        fades.append((fade_start, end - start - fade_start, "out"))
    return FadedStream(ClipSound(item.clip, Fraction(0), item.clip_gain), fades)


class FadedStream:
    """A sound stream with fades applied block by block, at positions from its start."""

    def __init__(self, stream: SoundStream,
                 fades: Sequence[tuple[int, int, FadeDirection]]) -> None:
        self._stream = stream
        self._fades = tuple(fades)  # (start, length, direction)
        self._pos = 0

    def read(self, n: int) -> Samples:
        """The next ``n`` samples, faded."""
        block = self._stream.read(n)
        for start, length, direction in self._fades:
            block = apply_fade(block, self._pos, start, length, direction)
        self._pos += n
        return block

    def close(self) -> None:
        """Close the stream underneath."""
        self._stream.close()


def _visible_samples(story: Story, position: int) -> tuple[int, int]:
    """The sample range in which item ``position`` is on screen (crossfade included)."""
    plan = story.plan
    span = plan.spans[position]
    return (frame_to_sample(span.visible_start, plan.fps, SAMPLE_RATE),
            frame_to_sample(span.end_frame, plan.fps, SAMPLE_RATE))
