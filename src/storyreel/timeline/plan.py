"""The exact timeline: where every segment starts, in frames and in audio samples.

Audio is the master clock. Each segment occupies its narration plus the gap that
follows it. Segment boundaries are computed from the *cumulative* ideal time and
rounded to the frame grid once, so rounding never accumulates; each narration then
starts on the audio sample of its first frame.

A draft asks for a *stable* grid instead: each segment's length is rounded on its own,
from its own first frame, so its frame count does not depend on where it starts. An
edit that makes one narration longer then moves the segments after it without changing
their lengths (their encoded parts are reused); the rounding may add up to half a frame
per segment to the total, which a preview can afford.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "SAMPLE_RATE",
    "Plan",
    "SegmentSpan",
    "ceil_frame",
    "frame_to_sample",
    "plan_timeline",
    "sample_to_frame",
    "seconds_to_samples",
]

#: The timeline's audio clock: every sound is resampled to it.
SAMPLE_RATE = 48_000


def sample_to_frame(sample: int, fps: Fraction, rate: int) -> int:
    """Nearest frame index to an audio sample position (half up)."""
    exact = Fraction(sample) * fps / rate
    return int(exact + Fraction(1, 2))


def seconds_to_samples(seconds: Fraction) -> int:
    """Nearest whole number of samples at :data:`SAMPLE_RATE` to ``seconds`` (half up)."""
    return int(seconds * SAMPLE_RATE + Fraction(1, 2))


def frame_to_sample(frame: int, fps: Fraction, rate: int) -> int:
    """Nearest audio sample position to the start of ``frame`` (half up)."""
    exact = Fraction(frame) * rate / fps
    return int(exact + Fraction(1, 2))


@dataclass(frozen=True)
class SegmentSpan:
    """One segment on the timeline.

    Attributes:
        index: 0-based position in the project.
        first_frame: First frame where this segment is the main picture.
        audio_start: Sample at which its narration starts: the sample of ``first_frame``,
            or of the first frame after the lead-in silence for the first segment.
        frames: Frames it is the main picture for (the crossfade into the next included).
        narration: Length of its narration in samples.
        crossfade: Frames before ``first_frame`` in which it fades in over the previous
            segment (0 for a cut); they lie in the silence after the previous narration.
    """

    index: int
    first_frame: int
    frames: int
    audio_start: int
    narration: int
    crossfade: int = 0

    @property
    def end_frame(self) -> int:
        """One past the last frame of this segment."""
        return self.first_frame + self.frames

    @property
    def visible_start(self) -> int:
        """First frame in which this segment is visible (crossfade included)."""
        return self.first_frame - self.crossfade

    @property
    def narration_end(self) -> int:
        """Sample one past the end of its narration."""
        return self.audio_start + self.narration


@dataclass(frozen=True)
class Plan:
    """The whole timeline: spans, frame rate, sample rate and exact totals."""

    spans: tuple[SegmentSpan, ...]
    fps: Fraction
    sample_rate: int
    total_frames: int
    total_samples: int

    @property
    def duration(self) -> Fraction:
        """Exact video duration in seconds."""
        return self.total_frames / self.fps

    def seconds(self, frame: int) -> Fraction:
        """Exact time of the start of ``frame``."""
        return frame / self.fps


def plan_timeline(
    narrations: Sequence[int],
    *,
    fps: Fraction,
    sample_rate: int,
    gap: int | Sequence[int],
    lead: int = 0,
    crossfade: int | Sequence[int] = 0,
    stable: bool = False,
) -> Plan:
    """Place segments on the frame grid.

    Args:
        narrations: Narration length of each segment, in samples at ``sample_rate``.
        fps: Exact frame rate.
        sample_rate: Audio sample rate.
        gap: Silence after each narration, in samples (one value or one per segment).
        lead: Silence before the first narration, in samples (for a fade in).
        crossfade: Wanted crossfade into each segment, in frames (one value or one per
            segment; the first segment's is ignored). The pause before it is stretched to
            hold it; it is shortened only where the previous segment is shorter.
        stable: Round each segment's length from its own first frame (a segment's frame
            count then does not depend on the segments before it) instead of rounding
            the cumulative time.

    Returns:
        The plan; every segment gets at least one frame.
    """
    count = len(narrations)
    if not count:
        raise ValueError("a timeline needs at least one segment")
    gaps = [gap] * count if isinstance(gap, int) else list(gap)
    fades = [crossfade] * count if isinstance(crossfade, int) else list(crossfade)
    spans: list[SegmentSpan] = []
    ideal_end = lead
    first = 0
    audio_frame = sample_to_frame(lead, fps, sample_rate)
    for index, length in enumerate(narrations):
        audio_start = frame_to_sample(audio_frame, fps, sample_rate)
        ideal_end = (audio_start if stable and index else ideal_end) + length + gaps[index]
        end = sample_to_frame(ideal_end, fps, sample_rate)
        if index == count - 1 and frame_to_sample(end, fps, sample_rate) < ideal_end:
            end += 1  # never cut the end of the last narration
        # A narration never runs into the next one, and the silence after it holds the
        # crossfade that follows (grid rounding could otherwise steal a frame of either).
        voice_end = ceil_frame(audio_start + length, fps, sample_rate)
        following = fades[index + 1] if index + 1 < count and length > 0 else 0
        end = max(end, first + 1, audio_frame + 1, voice_end + following)
        fade = 0
        if index and fades[index] > 0:
            previous = spans[-1]
            voice_end = ceil_frame(previous.narration_end, fps, sample_rate)
            room = min(first - voice_end, previous.frames)
            fade = max(0, min(fades[index], room))
        spans.append(SegmentSpan(index, first, end - first, audio_start, length, fade))
        first = end
        audio_frame = end
    total_samples = frame_to_sample(first, fps, sample_rate)
    return Plan(tuple(spans), fps, sample_rate, first, total_samples)


def ceil_frame(sample: int, fps: Fraction, rate: int) -> int:
    """The first frame starting at or after audio sample ``sample``."""
    exact = Fraction(sample) * fps / rate
    return -((-exact.numerator) // exact.denominator)
