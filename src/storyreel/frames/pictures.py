"""Opening what each item of a story shows: a still with its Ken Burns motion, or a clip."""

from __future__ import annotations

import threading
from collections import OrderedDict

from storyreel.frames.kenburns import Motion, StillPicture, choose_motion
from storyreel.media.clip import ClipPicture
from storyreel.media.image import Planes, even_ceil, load_cover_planes
from storyreel.model.project import Project
from storyreel.timeline.story import Story

__all__ = ["PreparedStills", "cover_size", "open_picture", "segment_motion"]


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


class PreparedStills:
    """The last few stills prepared for one render, kept for the next part that shows them.

    A still is shown by two parts when a crossfade leads into it (the crossfade ends
    one part, its hold starts the next), so without this it would be decoded and
    fitted twice. Keyed by segment: use one per render (of one project).
    """

    def __init__(self, keep: int = 3) -> None:
        self._keep = keep
        self._planes: OrderedDict[tuple[int, int, int], Planes] = OrderedDict()
        self._lock = threading.Lock()  # pictures are opened on a producer's loader thread

    def get(self, project: Project, segment: int, width: int, height: int) -> Planes:
        """Segment ``segment``'s still, fitted to cover ``width`` x ``height``."""
        key = (segment, width, height)
        with self._lock:
            if key in self._planes:
                self._planes.move_to_end(key)
                return self._planes[key]
        planes = load_cover_planes(project.segments[segment].image, width, height, segment + 1)
        with self._lock:
            self._planes[key] = planes
            while len(self._planes) > self._keep:
                self._planes.popitem(last=False)
        return planes


def open_picture(project: Project, story: Story, position: int,
                 stills: PreparedStills | None = None) -> StillPicture | ClipPicture:
    """Open what item ``position`` of ``story`` shows (its still from ``stills`` when given)."""
    item = story.items[position]
    if item.kind != "segment":
        assert item.clip is not None
        return ClipPicture(item.clip, project.width, project.height, project.fps)
    assert item.segment is not None
    width, height = cover_size(project, item.segment)
    if stills is not None:
        planes = stills.get(project, item.segment, width, height)
    else:
        planes = load_cover_planes(project.segments[item.segment].image, width, height,
                                   item.segment + 1)
    return StillPicture(planes, segment_motion(project, item.segment))


def _zoom(project: Project, segment: int) -> float:
    seg = project.segments[segment]
    return seg.zoom if seg.zoom is not None else project.settings.ken_burns.zoom
