"""The orchestrator through its encoder seam: a fake :class:`VideoEncoder` sees every part."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from av.video.frame import VideoFrame

import storyreel
from media import all_files, write_project
from storyreel.errors import EncoderError
from storyreel.media.encoder import EncoderSettings, PlaneViews, VideoEncoder
from storyreel.render.job import Job
from storyreel.render.parts import EncoderFactory, part_encoder
from storyreel.render.progress import ProgressReporter


class SpyEncoder:
    """Passes everything to a real part encoder and records what it was asked to do."""

    def __init__(self, path: Path, settings: EncoderSettings, fail_at: int | None) -> None:
        self.inner: VideoEncoder = part_encoder(path, settings)
        self.frames = 0
        self.finished = False
        self.closed = False
        self.fail_at = fail_at

    def new_frame(self) -> tuple[VideoFrame, PlaneViews]:
        return self.inner.new_frame()

    def write_video(self, frame: VideoFrame) -> None:
        if self.frames == self.fail_at:
            raise EncoderError("libx264 encoder failed", "simulated")
        self.frames += 1
        self.inner.write_video(frame)

    def finish(self) -> None:
        self.finished = True
        self.inner.finish()

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def spies(fail_in: int | None = None) -> tuple[list[SpyEncoder], EncoderFactory]:
    made: list[SpyEncoder] = []

    def factory(path: Path, settings: EncoderSettings) -> VideoEncoder:
        made.append(SpyEncoder(path, settings, 5 if len(made) == fail_in else None))
        return made[-1]

    return made, factory


def test_every_part_goes_through_the_encoder_seam(project_dir: Path, out_dir: Path) -> None:
    manifest = write_project(project_dir, [1.2, 1.5, 1.1, 1.4])
    project = storyreel.load_project(manifest)
    made, factory = spies()
    job = Job(project, out_dir / "story.mp4", ProgressReporter(None), None,
              encoders=factory)
    outcome = job.run()
    assert len(made) == outcome.parts_encoded == 4
    assert sum(spy.frames for spy in made) == outcome.verified.frames
    assert all(spy.finished and spy.closed for spy in made)
    assert all_files(out_dir) == {"story.mp4"}


def test_a_failing_encoder_is_closed_and_nothing_is_published(project_dir: Path,
                                                              out_dir: Path) -> None:
    manifest = write_project(project_dir, [1.2, 1.5, 1.1, 1.4])
    project = storyreel.load_project(manifest)
    threads = threading.active_count()
    made, factory = spies(fail_in=1)
    job = Job(project, out_dir / "story.mp4", ProgressReporter(None), None,
              encoders=factory)
    with pytest.raises(EncoderError, match="simulated"):
        job.run()
    assert len(made) == 2, "the render went on after a part failed"
    assert made[0].finished and not made[1].finished
    assert all(spy.closed for spy in made)
    assert threading.active_count() == threads
    assert all_files(out_dir) == set()


def test_a_pool_of_workers_encodes_the_parts(project_dir: Path, out_dir: Path) -> None:
    manifest = write_project(project_dir, [1.2, 1.5, 1.1, 1.4],
                             settings={"subtitles": {"enabled": True}})
    project = storyreel.load_project(manifest)
    seen: list[storyreel.Progress] = []
    job = Job(project, out_dir / "pooled.mp4", ProgressReporter(seen.append, interval=0), None,
              workers=2)
    outcome = job.run()
    assert outcome.parts_encoded == 4
    export = [p for p in seen if p.phase == "export"]
    assert export[-1].done == outcome.verified.frames == export[-1].total
    alone = Job(project, out_dir / "alone.mp4", ProgressReporter(None), None).run()
    assert alone.verified.frames == outcome.verified.frames
