"""The story's sound track: each item's sound placed on the timeline and mixed.

Narrations start on their segment's first frame. A visual's own sound (a segment's
clip when its ``volume`` lets it be heard, an intro or outro clip) plays while it is
on screen, from the moment it appears, from its trim's start for the trimmed clip's
length (again from the start for a looped clip), and fades with the crossfades
around it; a segment's clip sound is ducked under the narration like music. Every
sound is streamed: a clip's is decoded only as the mix reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from storyreel.audio.fades import FadeDirection, apply_fade
from storyreel.audio.mix import Fades, Mix, MusicSpec
from storyreel.audio.track import Placement, SoundStream
from storyreel.media.audio import CHANNELS, SAMPLE_RATE, AudioReader, DecodedSounds, Samples
from storyreel.media.clip import ClipSound
from storyreel.model.project import Project
from storyreel.model.visual import Video
from storyreel.timeline.plan import frame_to_sample, seconds_to_samples
from storyreel.timeline.story import Story

__all__ = ["FadedStream", "TrimmedSound", "item_sound", "story_mix"]

# AAC can raise true peaks by ~0.4 dB on harsh material: the limiter aims below the ceiling.
_AAC_HEADROOM_DB = 0.5
#: How far clip sound under a narration is lowered while the voice speaks, without music.
_CLIP_DUCK_DB = -10.0


def story_mix(project: Project, story: Story, gain_db: float = 0.0, *,
              limit: bool = False, sounds: DecodedSounds | None = None) -> Mix:
    """The streamed sound track of ``story`` (``limit``: true-peak limit to the ceiling).

    ``sounds``: where the narrations and the music are taken from (and kept) decoded
    whole, instead of streamed from their files (the same samples).
    """
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
        music.path, music.volume, music.loop, music.fade_out, -music.duck,
        None if sounds is None else sounds.samples(music.path, what="music", max_seconds=None,
                                                   keep_mono_level=False))
    master = Fades(round(fades.fade_in * SAMPLE_RATE), round(fades.fade_out * SAMPLE_RATE))
    ceiling = settings.loudness.true_peak - _AAC_HEADROOM_DB if limit else None
    duck = -music.duck if music is not None else _CLIP_DUCK_DB
    return Mix(placements, lambda key: item_sound(project, story, key, sounds),
               plan.total_samples,
               fades=master, music=spec, gain_db=gain_db, ceiling_dbtp=ceiling, beds=beds,
               bed_duck_db=duck)


def item_sound(project: Project, story: Story, key: int, sounds: DecodedSounds | None = None
               ) -> Samples | SoundStream:
    """The sound placed under ``key``: item ``key``'s narration (streamed, or from
    ``sounds``), or, for keys from ``len(story.items)`` on, the own sound of item
    ``key - len(story.items)``."""
    count = len(story.items)
    if key < count:
        segment = story.items[key].segment
        assert segment is not None
        audio = project.segments[segment].audio
        assert audio is not None  # narrated before the job starts
        whole = None if sounds is None else sounds.samples(audio, segment=segment + 1)
        return whole if whole is not None else AudioReader(audio, segment=segment + 1)
    return _own_sound(story, key - count)


def _own_sound(story: Story, position: int) -> SoundStream:
    """A visual's own sound over the time it is visible, with its crossfades."""
    item, plan = story.items[position], story.plan
    span = plan.spans[position]
    start, end = _visible_samples(story, position)
    assert isinstance(item.visual, Video) and item.clip is not None and item.gain is not None
    options = item.visual.clip
    sound = TrimmedSound(item.visual.video, options.trim[0],
                         seconds_to_samples(item.clip.length), item.gain,
                         loop=options.fit == "loop")
    fades: list[tuple[int, int, FadeDirection]] = []
    if span.crossfade:
        fades.append((0, frame_to_sample(span.first_frame, plan.fps, SAMPLE_RATE) - start, "in"))
    if position + 1 < len(plan.spans) and plan.spans[position + 1].crossfade:
        following = plan.spans[position + 1]
        fade_start = frame_to_sample(following.visible_start, plan.fps, SAMPLE_RATE) - start
        fades.append((fade_start, end - start - fade_start, "out"))
    return FadedStream(sound, fades)


class TrimmedSound:
    """A clip's sound from ``start`` for ``length`` samples, then silence, or, with
    ``loop``, again from ``start`` (the clip is opened anew at each repeat)."""

    def __init__(self, path: Path, start: Fraction, length: int, gain_db: float, *,
                 loop: bool) -> None:
        self._path, self._start, self._gain = path, start, gain_db
        self._length, self._loop = max(1, length), loop
        self._left = self._length
        self._stream: ClipSound | None = ClipSound(path, start, gain_db)

    def read(self, n: int) -> Samples:
        """The next ``n`` samples."""
        out = np.zeros((CHANNELS, n), dtype=np.float32)
        filled = 0
        while filled < n and self._stream is not None:
            take = min(n - filled, self._left)
            out[:, filled : filled + take] = self._stream.read(take)
            filled += take
            self._left -= take
            if self._left == 0:
                self._stream.close()
                self._stream = None
                if self._loop:
                    self._stream = ClipSound(self._path, self._start, self._gain)
                    self._left = self._length
        return out

    def close(self) -> None:
        """Close the clip."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None


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
