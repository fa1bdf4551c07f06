"""Encoding the parts of a chunked render: in this process, or by a pool of workers.

Each part is drawn by its own :class:`FrameProducer` limited to the part's frames
and written by a :class:`VideoEncoder` to a video-only MP4. A pool is used only when
the machine has more cores than one encoder uses well; workers then share the cores
(threads per encoder chosen so the total fits) and poll one shared cancel flag.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from storyreel._threads import one_thread_pools
from storyreel.errors import RenderCancelled
from storyreel.frames.pictures import PreparedStills, open_picture
from storyreel.media.encoder import EncoderSettings, Mp4Encoder, VideoEncoder
from storyreel.model.project import Project
from storyreel.render.decor import Decorator
from storyreel.render.frames import FrameProducer
from storyreel.render.progress import CancelToken, raise_if_cancelled
from storyreel.timeline.chunks import Chunk
from storyreel.timeline.story import Story

__all__ = ["EncoderFactory", "PartDispatcher", "PartJob", "encode_part", "encode_parts",
           "workers_for"]

EncoderFactory = Callable[[Path, EncoderSettings], VideoEncoder]
"""Opens the encoder that writes one part (a video-only MP4) to a path."""

#: Cores one libx264 encoder (and the one thread that draws its frames) uses well.
_CORES_PER_ENCODER = 8
#: Memory one worker may need at 1080p (x264's look-ahead and references, frames).
_BYTES_PER_WORKER = 1_000_000_000


@dataclass(frozen=True)
class PartJob:
    """One part to encode: the story, the part's frames and where to write it."""

    project: Project
    story: Story
    chunk: Chunk
    settings: EncoderSettings
    fades: tuple[int, int]
    path: Path


class PartDispatcher(Protocol):
    """Encodes parts elsewhere (e.g. on workers through Redis) instead of in this process.

    ``threads`` is the encoder thread count every part uses (parts must share their
    H.264 headers, so one render uses one count); ``None`` lets the render choose.
    """

    @property
    def threads(self) -> int | None:
        """Encoder threads per part, or ``None``."""

    def __call__(self, jobs: Sequence[PartJob], cancel: CancelToken,
                 on_frame: Callable[[], None],
                 on_part: Callable[[PartJob, list[str]], None]) -> None:
        """Encode ``jobs`` into their paths; call ``on_part`` as each is complete."""


def part_encoder(path: Path, settings: EncoderSettings) -> VideoEncoder:
    """The real encoder of a part: stitchable libx264 into a video-only MP4."""
    return Mp4Encoder(path, settings, streams=("video",), stitchable=True)


def encode_part(job: PartJob, encoders: EncoderFactory, cancel: CancelToken,
                on_frame: Callable[[], None], stills: PreparedStills | None = None
                ) -> list[str]:
    """Draw and encode one part; returns the warnings drawing it raised.

    ``stills`` keeps the pictures prepared for the previous parts of the same render.
    """
    project, story, chunk = job.project, job.story, job.chunk
    decorator = Decorator(project, story, *job.fades)
    encoder = encoders(job.path, job.settings)
    try:
        with FrameProducer(story.plan, lambda i: open_picture(project, story, i, stills),
                           encoder.new_frame, decorator if decorator.active else None,
                           span=range(chunk.start, chunk.end)) as producer:
            for frame in producer.frames(poll=lambda: raise_if_cancelled(cancel)):
                raise_if_cancelled(cancel)
                encoder.write_video(frame)
                producer.recycle(frame)
                on_frame()
        encoder.finish()
    finally:
        encoder.close()
    return list(dict.fromkeys(decorator.warnings))


def workers_for(cores: int, free_memory: int) -> int:
    """How many encoders to run side by side on this machine."""
    by_memory = max(1, free_memory // _BYTES_PER_WORKER)
    return max(1, min(cores // _CORES_PER_ENCODER, by_memory))


def encode_parts(jobs: Sequence[PartJob], encoders: EncoderFactory, cancel: CancelToken,
                 on_frame: Callable[[], None], on_part: Callable[[PartJob, list[str]], None],
                 workers: int, stills: PreparedStills | None = None) -> None:
    """Encode ``jobs``: one by one here, or by ``workers`` processes when more than one
    (``stills``: where the stills prepared here are kept; default: for this call)."""
    if workers <= 1 or len(jobs) <= 1:
        stills = stills if stills is not None else PreparedStills()
        for job in jobs:
            on_part(job, encode_part(job, encoders, cancel, on_frame, stills))
        return
    _pooled(jobs, cancel, on_frame, on_part, workers)


def pool_threads(settings: EncoderSettings, workers: int, cores: int) -> EncoderSettings:
    """Settings whose thread count shares ``cores`` between ``workers`` encoders.

    libx264 runs slice threads (each frame cut into one slice per thread, all
    encoded at once), and left to choose it takes one thread per core. More threads
    than cores leave a core with two slices of each frame while the other waits:
    on 2 cores, 3 threads kept 1.65 cores busy where 2 kept 1.81, for the same CPU.
    """
    return replace(settings, threads=max(1, cores // workers))


# -- the pool ---------------------------------------------------------------------------

_shared: dict[str, Any] = {}


def _init_worker(stop: Any, frames: Any) -> None:
    # A process of storyreel's own, beside the other encoders: see one_thread_pools.
    one_thread_pools()
    # A pool serves one render: its stills can be kept from one part to the next.
    _shared["stop"], _shared["frames"], _shared["stills"] = stop, frames, PreparedStills()


def _run_in_worker(job: PartJob) -> list[str]:
    frames = _shared["frames"]

    def count() -> None:
        with frames.get_lock():
            frames.value += 1

    return encode_part(job, part_encoder, _shared["stop"], count, _shared["stills"])


def _pooled(jobs: Sequence[PartJob], cancel: CancelToken, on_frame: Callable[[], None],
            on_part: Callable[[PartJob, list[str]], None], workers: int) -> None:
    context = multiprocessing.get_context("spawn")
    stop, frames = context.Event(), context.Value("q", 0)
    seen = 0
    with _pool(workers, context, stop, frames) as pool:
        pending: dict[Future[list[str]], PartJob] = {
            pool.submit(_run_in_worker, job): job for job in jobs}
        while pending:
            done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            if cancel.is_set():
                stop.set()
                raise RenderCancelled("render cancelled")
            counted = frames.value  # read once: workers go on counting meanwhile
            for _ in range(counted - seen):
                on_frame()
            seen = counted
            for future in done:
                on_part(pending.pop(future), future.result())


@contextlib.contextmanager
def _pool(workers: int, context: Any, stop: Any, frames: Any) -> Iterator[ProcessPoolExecutor]:
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(stop, frames))
    try:
        yield pool
    finally:
        stop.set()  # on error or cancel the workers stop at their next frame
        pool.shutdown(wait=True, cancel_futures=True)


def machine_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
