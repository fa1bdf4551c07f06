"""The exact timeline: frames and samples from cumulative time, rounding never accumulating."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from storyreel.timeline.plan import (
    Plan,
    ceil_frame,
    frame_to_sample,
    plan_timeline,
    sample_to_frame,
)

RATE = 48_000
NTSC = Fraction(30000, 1001)
FILM = Fraction(24000, 1001)


def check_plan(plan: Plan, narrations: list[int], gap: int) -> None:
    """Properties every plan must have, whatever the input."""
    fps = plan.fps
    frame = Fraction(1) / fps
    assert len(plan.spans) == len(narrations)
    assert plan.spans[0].first_frame == 0
    assert plan.spans[0].audio_start == 0
    for span, nxt in zip(plan.spans, plan.spans[1:], strict=False):
        assert span.end_frame == nxt.first_frame, "segments must tile the timeline"
    ideal = 0
    # A pause shorter than a frame can be stretched to the next frame so that two
    # narrations never overlap; from one frame up, nothing may drift.
    slack = len(narrations) * frame if Fraction(gap, RATE) < frame else 0
    for i, (span, length) in enumerate(zip(plan.spans, narrations, strict=True)):
        assert span.index == i
        assert span.frames >= 1
        assert span.narration == length
        assert span.audio_start == frame_to_sample(span.first_frame, fps, RATE)
        # The narration is over before the next segment's narration starts.
        assert span.audio_start + length <= frame_to_sample(span.end_frame, fps, RATE)
        ideal += length + gap
        # Boundaries stay within a frame of the exact cumulative time: no drift.
        end_time = Fraction(span.end_frame) / fps
        assert abs(end_time - Fraction(ideal, RATE)) <= frame + slack, (i, end_time, ideal)
    assert plan.total_frames == plan.spans[-1].end_frame
    assert plan.total_samples == frame_to_sample(plan.total_frames, fps, RATE)
    # Audio (narrations + gaps) and video end within one frame of each other ...
    assert abs(Fraction(plan.total_samples, RATE) - plan.duration) <= frame
    # ... and the video never cuts the last narration short.
    assert plan.total_samples >= ideal
    assert plan.total_samples - ideal < RATE / fps + 1 + slack * RATE
    assert plan.duration == Fraction(plan.total_frames) / fps


def test_200_odd_segments_at_29_97_end_within_one_frame() -> None:
    rng = random.Random(2024)
    narrations = [rng.randint(4_801, 480_007) for _ in range(200)]
    gap = 14_401
    plan = plan_timeline(narrations, fps=NTSC, sample_rate=RATE, gap=gap)
    check_plan(plan, narrations, gap)
    exact = Fraction(sum(narrations) + 200 * gap, RATE)
    assert abs(plan.duration - exact) <= 1 / NTSC


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(25), Fraction(30), NTSC, FILM,
                                 Fraction(60), Fraction(60000, 1001), Fraction(50)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_projects_at_every_common_rate(fps: Fraction, seed: int) -> None:
    rng = random.Random(seed)
    narrations = [rng.randint(480, 300_000) for _ in range(rng.randint(1, 60))]
    gap = rng.choice([0, 7, 14_400, 33_333])
    check_plan(plan_timeline(narrations, fps=fps, sample_rate=RATE, gap=gap), narrations, gap)


def test_rounding_does_not_accumulate_over_many_identical_segments() -> None:
    # 1001 samples at 48 kHz is 0.6256 frames at 29.97 fps: per-segment rounding would drift
    # by hundreds of frames; cumulative rounding stays within one.
    narrations = [30_031] * 500
    plan = plan_timeline(narrations, fps=NTSC, sample_rate=RATE, gap=0)
    check_plan(plan, narrations, 0)
    assert {span.frames for span in plan.spans} <= {18, 19}


def test_narration_shorter_than_a_frame_still_gets_a_frame() -> None:
    narrations = [48_000, 600, 48_000]  # 12.5 ms in the middle, at 24 fps (41.7 ms per frame)
    plan = plan_timeline(narrations, fps=Fraction(24), sample_rate=RATE, gap=0)
    check_plan(plan, narrations, 0)
    assert plan.spans[1].frames == 1
    assert [s.first_frame for s in plan.spans] == [0, 24, 25]


def test_many_tiny_segments_each_get_a_frame() -> None:
    narrations = [500] * 40
    plan = plan_timeline(narrations, fps=Fraction(24), sample_rate=RATE, gap=0)
    assert all(span.frames >= 1 for span in plan.spans)
    assert plan.total_frames >= 40


def test_single_segment_exact_and_inexact() -> None:
    exact = plan_timeline([48_000], fps=Fraction(30), sample_rate=RATE, gap=0)
    assert (exact.total_frames, exact.total_samples) == (30, 48_000)
    inexact = plan_timeline([48_001], fps=Fraction(30), sample_rate=RATE, gap=0)
    assert inexact.total_frames == 31, "the last narration must never be cut"
    assert inexact.total_samples == 49_600


def test_gap_adds_to_every_segment_including_the_last() -> None:
    plan = plan_timeline([48_000, 48_000], fps=Fraction(25), sample_rate=RATE, gap=14_400)
    assert [s.frames for s in plan.spans] == [33, 32]  # 1.3 s -> 32.5 -> 33; 2.6 s -> 65
    assert plan.total_frames == 65
    assert plan.spans[1].audio_start == frame_to_sample(33, Fraction(25), RATE) == 63_360


def test_empty_timeline_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_timeline([], fps=Fraction(30), sample_rate=RATE, gap=0)


@pytest.mark.parametrize("fps", [Fraction(30), NTSC, FILM, Fraction(25)])
def test_frame_sample_conversions_round_trip(fps: Fraction) -> None:
    for frame in range(0, 100_000, 997):
        sample = frame_to_sample(frame, fps, RATE)
        assert abs(Fraction(sample, RATE) - Fraction(frame) / fps) <= Fraction(1, 2 * RATE)
        assert sample_to_frame(sample, fps, RATE) == frame


def test_frame_sample_conversions_are_exact_at_ntsc() -> None:
    # 30000/1001 fps: 1000 frames last exactly 33.366... s = 1,601,600 samples.
    assert frame_to_sample(1000, NTSC, RATE) == 1_601_600
    assert sample_to_frame(1_601_600, NTSC, RATE) == 1000
    assert frame_to_sample(30_000, NTSC, RATE) == 1001 * RATE
    assert frame_to_sample(1, NTSC, RATE) == 1602  # 1601.6 rounds half up


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001), Fraction(24000, 1001)])
def test_ceil_frame_is_the_first_frame_starting_at_or_after_a_sample(fps: Fraction) -> None:
    rng = random.Random(7)
    for sample in [0, 1, 1919, 1920, 1921, 1601, 1602, *rng.sample(range(10**7), 200)]:
        frame = ceil_frame(sample, fps, 48_000)
        assert frame == math.ceil(Fraction(sample) * fps / 48_000)
        assert frame_to_sample(frame, fps, 48_000) >= sample
        assert frame == 0 or Fraction(frame - 1) * 48_000 / fps < sample
