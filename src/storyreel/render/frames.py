"""The frame source: a producer thread that fills encoder frames, segment by segment.

Stills are decoded one segment ahead by a single loader thread, so at most two
prepared stills and a bounded queue of frames exist at any time, whatever the
project's length. The producer stops when ``stop`` is set and hands its
exceptions to the consumer through the queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from av.video.frame import VideoFrame

from storyreel.frames.kenburns import Motion, warp_into
from storyreel.media.encoder import PlaneViews
from storyreel.media.image import Planes
from storyreel.timeline.plan import Plan

__all__ = ["FrameProducer", "SegmentLook", "StillLoader"]

StillLoader = Callable[[int], Planes]
"""Prepares the still of a segment (0-based) at its source size."""

_END = object()


@dataclass(frozen=True)
class SegmentLook:
    """How one segment is drawn: its motion."""

    motion: Motion


class FrameProducer:
    """Generates every frame of ``plan`` on a background thread into a bounded queue."""

    def __init__(
        self,
        plan: Plan,
        looks: Sequence[SegmentLook],
        load_still: StillLoader,
        new_frame: Callable[[], tuple[VideoFrame, PlaneViews]],
        *,
        depth: int = 6,
    ) -> None:
        self._plan = plan
        self._looks = looks
        self._load = load_still
        self._new_frame = new_frame
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storyreel-frames", daemon=True)

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

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storyreel-still")
        try:
            pending: Future[Planes] | None = loader.submit(self._load, 0)
            spans = self._plan.spans
            for span in spans:
                assert pending is not None
                still = pending.result()
                pending = loader.submit(self._load, span.index + 1) if span.index + 1 < len(
                    spans) else None
                if not self._segment_frames(still, self._looks[span.index].motion, span.frames):
                    return
                del still
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
        finally:
            loader.shutdown(wait=True, cancel_futures=True)

    def _segment_frames(self, still: Planes, motion: Motion, count: int) -> bool:
        if motion.static:
            frame, views = self._new_frame()
            warp_into(still, views, motion, 0.0)
            first = [np.array(v) for v in views]
        for k in range(count):
            if self._stop.is_set():
                return False
            if motion.static:
                if k:
                    frame, views = self._new_frame()
                    for dst, src in zip(views, first, strict=True):
                        np.copyto(dst, src)
            else:
                frame, views = self._new_frame()
                warp_into(still, views, motion, k / (count - 1) if count > 1 else 0.0)
            if not self._put(frame):
                return False
        return True
