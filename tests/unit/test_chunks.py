"""Where a chunked render cuts the timeline: only where an item's hold starts."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

from storyreel.timeline.chunks import Chunk, plan_chunks
from storyreel.timeline.plan import SAMPLE_RATE, Plan, plan_timeline

FPS = Fraction(30)


def plan(seconds: list[float], crossfade: int = 0, lead: float = 0.0) -> Plan:
    return plan_timeline([round(s * SAMPLE_RATE) for s in seconds], fps=FPS,
                         sample_rate=SAMPLE_RATE, gap=round(0.3 * SAMPLE_RATE),
                         lead=round(lead * SAMPLE_RATE), crossfade=crossfade)


def cut(p: Plan, **options: int) -> tuple[Chunk, ...]:
    settings = {"fade_in": 0, "fade_out": 0, "tail_guard": 15, "min_frames": 30, **options}
    return plan_chunks(p, **settings)


def test_parts_tile_the_timeline_and_start_where_a_hold_starts() -> None:
    p = plan([2.0, 2.5, 1.8, 3.0], crossfade=9)
    chunks = cut(p)
    assert [c.start for c in chunks] == [s.first_frame for s in p.spans]
    assert chunks[-1].end == p.total_frames
    assert all(a.end == b.start for a, b in pairwise(chunks))
    assert sum(c.frames for c in chunks) == p.total_frames
    for chunk in chunks[1:]:  # never inside a crossfade
        assert all(not (s.visible_start < chunk.start < s.first_frame) for s in p.spans)


def test_no_cut_into_a_short_hold_or_a_fade() -> None:
    p = plan([2.0, 2.0, 2.0, 2.0], crossfade=9)
    # A hold shorter than the guard before the next crossfade gets no cut.
    hold = p.spans[1].end_frame - p.spans[2].crossfade - p.spans[1].first_frame
    assert p.spans[1].first_frame not in [c.start for c in cut(p, tail_guard=hold + 1)]
    # The fade out covers the last segment: no cut there; the fade in the first frames.
    fades = cut(p, fade_out=p.total_frames - p.spans[3].first_frame,
                fade_in=p.spans[1].first_frame + 1)
    assert [c.start for c in fades] == [0, p.spans[2].first_frame]


def test_short_parts_join_the_next() -> None:
    p = plan([0.4, 0.4, 0.4, 3.0, 0.2])
    chunks = cut(p, min_frames=40)
    assert all(c.frames >= 40 for c in chunks)
    assert sum(c.frames for c in chunks) == p.total_frames
    assert len(cut(plan([5.0]))) == 1
