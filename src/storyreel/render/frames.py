"""The frame source: a producer thread that fills encoder frames, segment by segment.

Pictures (prepared stills, or decoders of intro/outro clips) are opened one segment
ahead by a single loader thread, so at most two pictures and a bounded queue of
frames exist at any time, whatever the project's length. During a crossfade the
incoming picture is drawn into a scratch frame and blended in. The producer stops
when ``stop`` is set and hands its exceptions to the consumer through the queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import numpy as np
from av.video.frame import VideoFrame

from storyreel.frames.blend import crossfade, smooth
from storyreel.media.encoder import PlaneViews
from storyreel.render.priority import give_way
from storyreel.timeline.plan import Plan, SegmentSpan

__all__ = ["Decorate", "FrameProducer", "Picture", "PictureLoader", "draw_frame",
           "scratch_like"]


class Picture(Protocol):
    """Something that draws a segment's frames into YUV planes."""

    def draw(self, dest: PlaneViews, index: int, t: float) -> None:
        """Draw frame ``index`` of the segment (``t`` = progress 0..1) into ``dest``."""
        ...

    def close(self) -> None:
        """Release what the picture holds (decoders, buffers)."""
        ...


PictureLoader = Callable[[int], Picture]
"""Opens the picture of a segment (0-based)."""

Decorate = Callable[[int, PlaneViews], None]
"""Draws over a finished frame (captions, logo, fades); gets the global frame index."""

_END = object()


class FrameProducer:
    """Generates the frames of ``plan`` on a background thread into a bounded queue.

    ``span`` limits the frames to a range of the timeline (a part of a chunked render);
    only the pictures visible in it are opened.
    """

    def __init__(
        self,
        plan: Plan,
        load: PictureLoader,
        new_frame: Callable[[], tuple[VideoFrame, PlaneViews]],
        decorate: Decorate | None = None,
        *,
        span: range | None = None,
        depth: int = 6,
    ) -> None:
        self._plan = plan
        self._range = span if span is not None else range(plan.total_frames)
        self._load = load
        self._new_frame = new_frame
        self._decorate = decorate
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        # Frames come back after encoding and are filled again: fresh 3 MB buffers would
        # cost a page fault per 4 KiB on every frame.
        self._free: queue.Queue[tuple[VideoFrame, PlaneViews]] = queue.Queue()
        self._pool: dict[int, tuple[VideoFrame, PlaneViews]] = {}  # keeps the frames alive
        self._pool_limit = depth + 3
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storyreel-frames", daemon=True)
        self._scratch: PlaneViews | None = None

    def __enter__(self) -> FrameProducer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the producer and wait for it (and its loader) to finish."""
        self._stop.set()
        while self._thread.is_alive():
            self._drain()
            self._thread.join(timeout=0.05)
        self._drain()

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def frames(self, *, poll: Callable[[], None]) -> Iterator[VideoFrame]:
        """Yield frames in order; ``poll`` is called while waiting (it may raise to cancel)."""
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                poll()
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, VideoFrame)
            yield item

    def recycle(self, frame: VideoFrame) -> None:
        """Give back a frame the encoder is done with (it has copied the pixels)."""
        entry = self._pool.get(id(frame))
        if entry is not None and entry[0] is frame:
            self._free.put(entry)

    def _take(self) -> tuple[VideoFrame, PlaneViews] | None:
        """A frame to fill: a recycled one, a new one while the pool is small, else wait."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        if len(self._pool) < self._pool_limit:
            frame, views = self._new_frame()
            self._pool[id(frame)] = (frame, views)
            return frame, views
        while not self._stop.is_set():
            try:
                return self._free.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        give_way()  # the picture loader it starts inherits its priority
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storyreel-picture")
        opened: dict[int, Future[Picture]] = {}
        try:
            first, end = self._range.start, self._range.stop
            spans = self._plan.spans
            shown = [s for s in spans if s.end_frame > first and s.first_frame < end]
            if shown:
                opened[shown[0].index] = loader.submit(self._load, shown[0].index)
            for span in shown:
                following = spans[span.index + 1] if span.index + 1 < len(spans) else None
                if following is not None and following.visible_start >= end:
                    following = None  # not visible in this range
                if following is not None and following.index not in opened:
                    opened[following.index] = loader.submit(self._load, following.index)
                current = opened[span.index].result()
                if not self._segment(span, current, following, opened):
                    return
                del opened[span.index]  # keep at most two pictures alive
                current.close()
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
        finally:
            loader.shutdown(wait=True, cancel_futures=True)
            for future in opened.values():
                if future.done() and not future.cancelled() and future.exception() is None:
                    future.result().close()

    def _segment(self, span: SegmentSpan, current: Picture, following: SegmentSpan | None,
                 opened: dict[int, Future[Picture]]) -> bool:
        first = max(span.first_frame, self._range.start)
        for frame_index in range(first, min(span.end_frame, self._range.stop)):
            if self._stop.is_set():
                return False
            taken = self._take()
            if taken is None:
                return False
            frame, views = taken
            incoming = None
            if following is not None and frame_index >= following.visible_start:
                incoming = following, opened[following.index].result()
                if self._scratch is None:
                    self._scratch = scratch_like(views)
            draw_frame(views, frame_index, span, current, incoming, self._scratch)
            if self._decorate is not None:
                self._decorate(frame_index, views)
            if not self._put(frame):
                return False
        return True


def scratch_like(views: PlaneViews) -> PlaneViews:
    """Planes of the same shapes as ``views``, to draw an incoming picture into."""
    y, u, v = views
    return np.empty_like(y), np.empty_like(u), np.empty_like(v)


def draw_frame(views: PlaneViews, frame_index: int, span: SegmentSpan, picture: Picture,
               incoming: tuple[SegmentSpan, Picture] | None = None,
               scratch: PlaneViews | None = None) -> None:
    """Draw frame ``frame_index`` of the timeline into ``views``: the picture of ``span``
    (the segment whose frame it is) and, inside the crossfade into the next segment, that
    segment's picture (``incoming``, drawn into ``scratch``) blended over it.

    Every frame of a render is drawn here, and so is a single frame of a preview.
    """
    picture.draw(views, frame_index - span.visible_start, _progress(span, frame_index))
    if incoming is None:
        return
    following, next_picture = incoming
    assert scratch is not None
    local = frame_index - following.visible_start
    next_picture.draw(scratch, local, _progress(following, frame_index))
    crossfade(views, scratch, smooth((local + 1) / (following.crossfade + 1)))


def _progress(span: SegmentSpan, frame_index: int) -> float:
    length = span.end_frame - span.visible_start
    return (frame_index - span.visible_start) / (length - 1) if length > 1 else 0.0
