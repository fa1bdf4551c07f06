"""Opening what each item of a story shows: a still with its Ken Burns motion, or a clip."""

from __future__ import annotations

from storyreel.frames.kenburns import Motion, StillPicture, choose_motion
from storyreel.media.clip import ClipPicture
from storyreel.media.image import even_ceil, load_cover_planes
from storyreel.model.project import Project
from storyreel.timeline.story import Story

__all__ = ["cover_size", "open_picture", "segment_motion"]


def segment_motion(project: Project, segment: int) -> Motion:
    """The Ken Burns motion of a segment (0-based)."""
    kb = project.settings.ken_burns
    seg = project.segments[segment]
    return choose_motion(
        segment, zoom=_zoom(project, segment), direction=seg.direction or kb.direction,
        pan=kb.pan, eased=kb.easing == "ease-in-out",
    )


def cover_size(project: Project, segment: int) -> tuple[int, int]:
    """The size a segment's still is prepared at (room for its largest zoom)."""
    zoom = 1.0 if segment_motion(project, segment).static else _zoom(project, segment)
    return even_ceil(project.width * zoom), even_ceil(project.height * zoom)


def open_picture(project: Project, story: Story, position: int) -> StillPicture | ClipPicture:
    """Open what item ``position`` of ``story`` shows."""
    item = story.items[position]
    if item.kind != "segment":
        assert item.clip is not None
        return ClipPicture(item.clip, project.width, project.height, project.fps)
    assert item.segment is not None
    width, height = cover_size(project, item.segment)
    planes = load_cover_planes(project.segments[item.segment].image, width, height,
                               item.segment + 1)
    return StillPicture(planes, segment_motion(project, item.segment))


def _zoom(project: Project, segment: int) -> float:
    seg = project.segments[segment]
    return seg.zoom if seg.zoom is not None else project.settings.ken_burns.zoom
