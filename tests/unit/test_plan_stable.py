"""A draft's stable frame grid: each segment's length rounded on its own, so a longer
narration moves the segments after it without changing their frame counts."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest

from storyreel.timeline.chunks import plan_chunks
from storyreel.timeline.plan import Plan, frame_to_sample, plan_timeline

RATE = 48_000
NTSC = Fraction(30000, 1001)


def _plan(narrations: list[int], fps: Fraction, *, stable: bool, gap: int = 28_800,
          lead: int = 24_000, crossfade: int = 15) -> Plan:
    return plan_timeline(narrations, fps=fps, sample_rate=RATE, gap=gap, lead=lead,
                         crossfade=crossfade, stable=stable)


@pytest.mark.parametrize("fps", [Fraction(30), Fraction(25), Fraction(24)])
def test_a_longer_narration_leaves_the_lengths_after_it_alone(fps: Fraction) -> None:
    rng = random.Random(21)
    narrations = [rng.randint(48_000, 400_000) for _ in range(8)]
    before = _plan(narrations, fps, stable=True)
    for extra in (1, 799, 1_601, 12_345, -20_001):
        edited = [*narrations]
        edited[2] += extra
        after = _plan(edited, fps, stable=True)
        assert after.spans[:2] == before.spans[:2]
        shift = after.spans[3].first_frame - before.spans[3].first_frame
        for old, new in zip(before.spans[3:], after.spans[3:], strict=True):
            assert (new.frames, new.crossfade, new.narration) == (
                old.frames, old.crossfade, old.narration)
            assert new.first_frame == old.first_frame + shift
        assert after.total_frames == before.total_frames + shift


def test_the_cumulative_grid_does_move_lengths_the_stable_one_keeps() -> None:
    """The reason for the stable grid: a final render's rounding follows the total time,
    so some segment after an edit gains or loses a frame."""
    rng = random.Random(5)
    narrations = [rng.randint(48_000, 400_000) for _ in range(8)]
    edited = [*narrations]
    edited[1] += 800  # half a frame at 30 fps
    fps = Fraction(30)
    moved = [(a.frames, b.frames) for a, b in zip(_plan(narrations, fps, stable=False).spans[2:],
                                                   _plan(edited, fps, stable=False).spans[2:],
                                                   strict=True) if a.frames != b.frames]
    assert moved
    kept = [(a.frames, b.frames) for a, b in zip(_plan(narrations, fps, stable=True).spans[2:],
                                                  _plan(edited, fps, stable=True).spans[2:],
                                                  strict=True) if a.frames != b.frames]
    assert kept == []


@pytest.mark.parametrize("fps", [Fraction(30), NTSC])
def test_a_stable_grid_keeps_every_narration_whole_and_drifts_half_a_frame_at_most(
        fps: Fraction) -> None:
    rng = random.Random(7)
    narrations = [rng.randint(4_801, 480_007) for _ in range(60)]
    gap, lead = 28_800, 24_000
    plan = _plan(narrations, fps, stable=True, gap=gap, lead=lead)
    frame = Fraction(1) / fps
    for span, nxt in zip(plan.spans, plan.spans[1:], strict=False):
        assert span.end_frame == nxt.first_frame
        # A narration ends before the next one starts, and the crossfade lies in the pause.
        assert span.narration_end <= nxt.audio_start
        assert frame_to_sample(nxt.visible_start, fps, RATE) >= span.narration_end
    assert plan.spans[0].audio_start == frame_to_sample(round(lead * fps / RATE), fps, RATE)
    for span in plan.spans[1:]:
        assert span.audio_start == frame_to_sample(span.first_frame, fps, RATE)
        # Each segment rounds its own length: within half a frame of narration + pause
        # (and a sample of the grid's own rounding of its start).
        # The last is rounded up instead, so that its narration and pause are whole.
        wanted = Fraction(span.narration + gap, RATE)
        most = frame if span is plan.spans[-1] else frame / 2
        assert abs(span.frames * frame - wanted) <= most + Fraction(1, RATE)
    last = plan.spans[-1]
    assert plan.total_samples >= last.narration_end + gap
    ideal = Fraction(lead + sum(narrations) + gap * len(narrations), RATE)
    assert abs(plan.duration - ideal) <= len(narrations) * frame / 2 + frame


def test_a_draft_cuts_every_crossfade_into_a_part_of_its_own() -> None:
    rng = random.Random(3)
    fps = Fraction(30)
    plan = _plan([rng.randint(48_000, 200_000) for _ in range(7)], fps, stable=True)
    fade_in, fade_out = 15, 30
    chunks = plan_chunks(plan, fade_in=fade_in, fade_out=fade_out, tail_guard=15,
                         min_frames=30, apart=True)
    assert chunks[0].start == 0 and chunks[-1].end == plan.total_frames
    assert all(a.end == b.start and a.frames > 0 for a, b in itertools.pairwise(chunks))
    starts = {c.start for c in chunks}
    for span in plan.spans[1:]:
        assert span.visible_start in starts and span.first_frame in starts
        fade = next(c for c in chunks if c.start == span.visible_start)
        assert fade.frames == span.crossfade
    # Never inside the fades from and to black.
    assert all(c.start >= fade_in and c.start <= plan.total_frames - fade_out
               for c in chunks[1:])
    usual = plan_chunks(plan, fade_in=fade_in, fade_out=fade_out, tail_guard=15,
                        min_frames=30)
    assert len(usual) == len(plan.spans) and len(chunks) == 2 * len(plan.spans) - 1
