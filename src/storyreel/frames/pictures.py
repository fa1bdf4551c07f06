"""Opening what each item of a story shows, whatever its visual: a still with its Ken
Burns motion, a video clip, or a title card."""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Protocol, assert_never

from storyreel.frames.card import CardPicture, card_planes
from storyreel.frames.kenburns import Motion, StillPicture, around, choose_motion
from storyreel.frames.video import VideoPicture
from storyreel.media.files import file_identity
from storyreel.media.image import Planes, even_ceil, load_framed
from storyreel.model.project import Project
from storyreel.model.visual import Card, Still, Video
from storyreel.timeline.framing import Focus
from storyreel.timeline.story import Item, Story

__all__ = ["DRAFT_STILLS", "AnyPicture", "PreparedStills", "StillSource", "cover_size", "motion_of",
           "open_picture", "segment_motion"]

AnyPicture = StillPicture | VideoPicture | CardPicture


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


def motion_of(project: Project, item: Item) -> dict[str, object]:
    """What, beyond its visual, shapes an item's picture: a still's Ken Burns motion and
    the size it is prepared at (nothing for other visuals)."""
    if item.segment is None or not isinstance(item.visual, Still):
        return {}
    return {"motion": repr(segment_motion(project, item.segment)),
            "cover": cover_size(project, item.segment)}


class StillSource(Protocol):
    """Where a segment's still comes from, fitted to cover a size around its focus."""

    def get(self, visual: Still, segment: int, width: int, height: int
            ) -> tuple[Planes, Focus]:
        """Segment ``segment``'s still, fitted to cover ``width`` x ``height`` around its
        focus, and where the focus lies in it."""
        ...


class PreparedStills:
    """The last few stills prepared, kept for the next part that shows them.

    A still is shown by two parts when a crossfade leads into it (the crossfade ends
    one part, its hold starts the next), so without this it would be decoded and
    fitted twice. Keyed by the image file's identity (path, size, modification time,
    inode), the size and the focus, so one kept across renders (:data:`DRAFT_STILLS`)
    prepares an unchanged still once. A still may be prepared ahead on another thread;
    one asked for while it is being prepared is waited for, not prepared twice.
    """

    def __init__(self, keep: int = 3) -> None:
        self._keep = keep
        self._planes: OrderedDict[tuple[object, ...], tuple[Planes, Focus]] = OrderedDict()
        self._loading: dict[tuple[object, ...], Future[tuple[Planes, Focus]]] = {}
        self._lock = threading.Lock()  # pictures are opened on a producer's loader thread

    def get(self, visual: Still, segment: int, width: int, height: int
            ) -> tuple[Planes, Focus]:
        """Segment ``segment``'s still, fitted to cover ``width`` x ``height`` around its
        focus, and where the focus lies in it."""
        try:
            key: tuple[object, ...] = (*file_identity(visual.image), width, height,
                                       visual.focus)
        except OSError:  # load_framed says what is wrong with it
            key = (segment, str(visual.image), width, height, visual.focus)
        with self._lock:
            if key in self._planes:
                self._planes.move_to_end(key)
                return self._planes[key]
            loading = self._loading.get(key)
            mine: Future[tuple[Planes, Focus]] = Future()
            if loading is None:
                self._loading[key] = mine
        if loading is not None:
            return loading.result()  # prepared by another thread (its error, if it failed)
        try:
            planes = load_framed(visual.image, width, height, segment + 1, visual.focus)
        except BaseException as exc:
            with self._lock:
                del self._loading[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            del self._loading[key]
            self._planes[key] = planes
            while len(self._planes) > self._keep:
                self._planes.popitem(last=False)
        mine.set_result(planes)
        return planes


#: The stills a draft prepared, kept in this process for the next draft (an edit of one
#: segment's text leaves every picture as it was). At a draft's size a still takes
#: about 1 MB.
DRAFT_STILLS = PreparedStills(keep=24)


def open_picture(project: Project, story: Story, position: int,
                 stills: StillSource | None = None) -> AnyPicture:
    """Open what item ``position`` of ``story`` shows (its still from ``stills`` when given)."""
    item = story.items[position]
    visual = item.visual
    match visual:
        case Still():
            assert item.segment is not None
            width, height = cover_size(project, item.segment)
            if stills is not None:
                planes, focus = stills.get(visual, item.segment, width, height)
            else:
                planes, focus = load_framed(visual.image, width, height, item.segment + 1,
                                            visual.focus)
            motion = segment_motion(project, item.segment)
            return StillPicture(planes, motion if visual.focus is None else around(motion,
                                                                                    focus))
        case Video():
            assert item.clip is not None
            span = story.plan.spans[position]
            return VideoPicture(visual, item.clip, width=project.width, height=project.height,
                                fps=project.fps, shown_frames=span.end_frame - span.visible_start)
        case Card():
            settings = project.settings
            planes, _ = card_planes(visual.title, settings.background, settings.subtitles,
                                    project.width, project.height, settings.safe_insets,
                                    project.settings.language if item.segment is None
                                    else project.language_of(item.segment))
            return CardPicture(planes)
        case _:
            assert_never(visual)


def _zoom(project: Project, segment: int) -> float:
    seg = project.segments[segment]
    return seg.zoom if seg.zoom is not None else project.settings.ken_burns.zoom
