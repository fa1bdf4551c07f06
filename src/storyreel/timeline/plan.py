"""The exact timeline: where every segment starts, in frames and in audio samples.

Audio is the master clock. Each segment occupies its narration plus the gap that
follows it. Segment boundaries are computed from the *cumulative* ideal time and
rounded to the frame grid once, so rounding never accumulates; each narration then
starts on the audio sample of its first frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Plan", "SegmentSpan", "frame_to_sample", "plan_timeline", "sample_to_frame"]


def sample_to_frame(sample: int, fps: Fraction, rate: int) -> int:
    """Nearest frame index to an audio sample position (half up)."""
    exact = Fraction(sample) * fps / rate
    return int(exact + Fraction(1, 2))


def frame_to_sample(frame: int, fps: Fraction, rate: int) -> int:
    """Nearest audio sample position to the start of ``frame`` (half up)."""
    exact = Fraction(frame) * rate / fps
    return int(exact + Fraction(1, 2))


@dataclass(frozen=True)
class SegmentSpan:
    """One segment on the timeline.

    Attributes:
        index: 0-based position in the project.
        first_frame: First video frame showing this segment.
        frames: Number of frames it is shown for.
        audio_start: Sample at which its narration starts (the sample of ``first_frame``).
        narration: Length of its narration in samples.
    """

    index: int
    first_frame: int
    frames: int
    audio_start: int
    narration: int

    @property
    def end_frame(self) -> int:
        """One past the last frame of this segment."""
        return self.first_frame + self.frames


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


def plan_timeline(
    narrations: Sequence[int], *, fps: Fraction, sample_rate: int, gap: int
) -> Plan:
    """Place segments on the frame grid.

    Args:
        narrations: Narration length of each segment, in samples at ``sample_rate``.
        fps: Exact frame rate.
        sample_rate: Audio sample rate.
        gap: Silence after each narration, in samples.

    Returns:
        The plan; every segment gets at least one frame.
    """
    if not narrations:
        raise ValueError("a timeline needs at least one segment")
    spans: list[SegmentSpan] = []
    ideal_end = 0
    first = 0
    last = len(narrations) - 1
    for index, length in enumerate(narrations):
        ideal_end += length + gap
        end = sample_to_frame(ideal_end, fps, sample_rate)
        if index == last and frame_to_sample(end, fps, sample_rate) < ideal_end:
            end += 1  # never cut the end of the last narration
        end = max(end, first + 1)
        spans.append(
            SegmentSpan(index, first, end - first, frame_to_sample(first, fps, sample_rate), length)
        )
        first = end
    total_samples = frame_to_sample(first, fps, sample_rate)
    return Plan(tuple(spans), fps, sample_rate, first, total_samples)
