"""Chunked against continuous encoding: PSNR-Y, SSIM-Y and size, against the exact frames.

``python -m bench.quality MANIFEST --work DIR [--preset medium]`` renders the project
twice with storyreel's own pipeline and no cache: cut into parts as a render is, and
as one continuous encode with the plain libx264 settings (no part settings). It then
draws the frames again (exactly as the renders drew them) and compares both decoded
files with them frame by frame: PSNR of the Y plane over every frame, SSIM of the Y
plane over evenly spaced frames, and the files' video bytes.
"""

from __future__ import annotations

import argparse
import math
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.frame import VideoFrame
from skimage.metrics import structural_similarity

from bench.measure import emit
from storyreel.frames.pictures import open_picture
from storyreel.media.encoder import EncoderSettings, Mp4Encoder, VideoEncoder, plane_views
from storyreel.model.load import load_project
from storyreel.model.project import Project
from storyreel.render.analysis import analyse_project
from storyreel.render.decor import Decorator
from storyreel.render.frames import FrameProducer
from storyreel.render.job import Job
from storyreel.render.parts import part_encoder
from storyreel.render.progress import ProgressReporter
from storyreel.timeline.story import Story, build_story

__all__ = ["compare", "main"]

_SSIM_SAMPLES = 60


def _continuous(path: Path, settings: EncoderSettings) -> VideoEncoder:
    """The encoder as a render without parts would open it: no part settings."""
    return Mp4Encoder(path, settings, streams=("video",))


def _render(project: Project, out: Path, *, single_part: bool) -> int:
    """Render without a cache; returns the video stream's bytes."""
    encoders = _continuous if single_part else part_encoder
    job = Job(project, out, ProgressReporter(None), threading.Event(), single_part=single_part,
              encoders=encoders)
    job.run()
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        return sum(p.size for p in container.demux(stream))


def _story(project: Project) -> Story:
    subtitles = project.settings.subtitles
    analysis = analyse_project(project, speech=subtitles.enabled or subtitles.sidecar)
    return build_story(project, analysis)


def compare(project: Project, files: dict[str, Path]) -> dict[str, dict[str, float]]:
    """PSNR-Y and SSIM-Y of each decoded file against the frames drawn again."""
    story = _story(project)
    fades = Job(project, Path("unused"), ProgressReporter(None), None).fades(story)
    decorator = Decorator(project, story, *fades)
    total = story.plan.total_frames
    step = max(1, total // _SSIM_SAMPLES)
    scores: dict[str, dict[str, list[float]]] = {k: {"psnr": [], "ssim": []} for k in files}

    def new_frame() -> tuple[VideoFrame, Any]:
        frame = VideoFrame(project.width, project.height, "yuv420p")
        return frame, plane_views(frame)

    containers = {name: av.open(str(path)) for name, path in files.items()}
    try:
        decoders = {name: c.decode(video=0) for name, c in containers.items()}
        with FrameProducer(story.plan, lambda i: open_picture(project, story, i), new_frame,
                           decorator if decorator.active else None) as producer:
            for index, frame in enumerate(producer.frames(poll=lambda: None)):
                want = plane_views(frame)[0].astype(np.float32)
                for name, decoder in decoders.items():
                    got = plane_views(next(decoder))[0]
                    mse = float(np.mean((got.astype(np.float32) - want) ** 2))
                    scores[name]["psnr"].append(99.0 if mse == 0 else
                                                10 * math.log10(255**2 / mse))
                    if index % step == step // 2:
                        scores[name]["ssim"].append(float(structural_similarity(  # type: ignore[no-untyped-call]
                            got, want.astype(np.uint8), data_range=255)))
                producer.recycle(frame)
    finally:
        for container in containers.values():
            container.close()
    return {name: {"psnr_y": float(np.mean(s["psnr"])), "ssim_y": float(np.mean(s["ssim"])),
                   "frames": len(s["psnr"])} for name, s in scores.items()}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints (and optionally writes) the result JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--preset", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    project = load_project(args.manifest)
    if args.preset:
        data = project.model_dump()
        data["settings"]["preset"] = args.preset
        base = project.base_dir
        project = Project.model_validate(data, context={"base_dir": base})
        project._base_dir = base
    args.work.mkdir(parents=True, exist_ok=True)
    files = {"continuous": args.work / "continuous.mp4", "chunked": args.work / "chunked.mp4"}
    sizes = {name: _render(project, path, single_part=name == "continuous")
             for name, path in files.items()}
    result: dict[str, Any] = compare(project, files)
    for name, size in sizes.items():
        result[name]["video_bytes"] = size
    cont, chunk = result["continuous"], result["chunked"]
    result["delta"] = {"psnr_y_db": chunk["psnr_y"] - cont["psnr_y"],
                       "ssim_y": chunk["ssim_y"] - cont["ssim_y"],
                       "size_pct": 100 * (chunk["video_bytes"] / cont["video_bytes"] - 1)}
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
