"""Where a draft starts each segment, as the studio's frame grid says (``draft_seconds``):
the planned timeline's draft grid against a draft render, decoded frame by frame."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from media import PALETTE, write_project
from storyreel import load_project, render
from storyreel.render.moment import plan_moments

#: Narration lengths and a pause whose frame counts round differently one by one (a
#: draft: segments start 18 frames apart) and from the start of the video (the final
#: render: 18 or 19 apart) at 29.97 fps.
SECONDS = (0.517, 0.517, 0.517, 0.517, 0.517)
GAP = 0.1


def _segment_of_each_frame(path: Path) -> list[int]:
    """The segment (by its flat colour) each decoded frame shows."""
    colours = np.array(PALETTE[:len(SECONDS)], dtype=np.float64)
    shown = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            h, w = rgb.shape[:2]
            mean = rgb[h // 4: 3 * h // 4, w // 4: 3 * w // 4].reshape(-1, 3).mean(axis=0)
            distance = np.abs(colours - mean).sum(axis=1)
            assert distance.min() < 30, f"frame {len(shown)} shows no segment's colour"
            shown.append(int(distance.argmin()))
    return shown


def test_the_planned_draft_grid_is_where_a_draft_starts_each_segment(project_dir: Path,
                                                                     out_dir: Path) -> None:
    manifest = write_project(project_dir, list(SECONDS), fps="30000/1001",
                             settings={"gap": GAP})
    project = load_project(manifest)
    timeline = plan_moments(project)
    story, draft = timeline.story, timeline.draft_plan
    spans = [story.item_span_of_segment(i) for i in range(len(SECONDS))]
    final_starts = [story.plan.spans[s].first_frame for s in spans]
    draft_starts = [draft.spans[s].first_frame for s in spans]
    assert draft_starts != final_starts, "the lengths no longer tell the two grids apart"

    result = render(project, out_dir / "draft.mp4", draft=True)
    shown = _segment_of_each_frame(result.path)
    found = [shown.index(segment) for segment in range(len(SECONDS))]
    assert found == draft_starts
    assert len(shown) == draft.total_frames
