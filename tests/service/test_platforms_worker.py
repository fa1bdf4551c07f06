"""The studio's render process and a render for several platforms that fails part-way:
the job fails, and the videos finished before it leave the data folder with it, as a
cancelled one's do (a failed job lists no video, so nothing else would remove them)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from studiokit import TINY, png_bytes

from storyreel.errors import EncoderError, MediaError, PlatformFailed
from storyreel.render.parts import PartJob, encode_part, part_encoder
from storyreel.render.progress import CancelToken
from storyreel.service import worker
from storyreel.service.options import build_manifest
from storyreel.service.protocol import describe_error
from storyreel.service.store import SegmentRow


class SquareFails:
    """Encodes parts here, but a square video's parts fail."""

    threads = None

    def __call__(self, jobs: Sequence[PartJob], cancel: CancelToken,
                 on_frame: Callable[[], None],
                 on_part: Callable[[PartJob, list[str]], None]) -> None:
        for job in jobs:
            if job.settings.width == job.settings.height:
                raise EncoderError("the encoder refused the part", "test")
            on_part(job, encode_part(job, part_encoder, cancel, on_frame))


def test_a_failed_platform_leaves_no_video_in_the_data_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "project"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "a.png").write_bytes(png_bytes())
    options = {**TINY, "settings": {**TINY["settings"], "platforms": ["youtube", "square"],
                                    "subtitles": {"sidecar": True}}}
    rows = [SegmentRow(1, 1, 0, "A harbour at dusk.", None, None, "images/a.png", 480, 270,
                       None, None, 0.0, None)]
    spec = {"job_id": 1, "manifest": build_manifest("T", options, rows),
            "base_dir": str(folder), "output": str(folder / "output" / "v.mp4"),
            "kind": "render", "narrate": [], "options": options, "draft": True, "cache": ""}
    monkeypatch.setattr(worker, "_remote_parts", SquareFails)
    kind, payload = worker._render(spec, threading.Event(), io.StringIO())
    assert kind == "error", payload
    assert payload["message"].startswith(
        "The square video failed. The video encoder failed: the encoder refused the part")
    assert "kept" not in payload["message"]  # the youtube video is not kept either
    output = folder / "output"
    assert not output.exists() or not list(output.iterdir())


def test_a_failed_platform_is_described_by_what_failed() -> None:
    missing = MediaError("cannot read file (No such file)", path=Path("images/a.png"),
                         segment=1)
    try:
        raise PlatformFailed("shorts", missing, [Path("v-youtube.mp4")]) from missing
    except PlatformFailed as exc:
        message, problems = describe_error(exc)
    assert message == ("The shorts video failed. A media file could not be read: "
                       "cannot read file (No such file).")
    assert problems == [{"message": "cannot read file (No such file)", "segment": 1,
                         "field": None}]  # the segment it points at, as without platforms
    unpickled = describe_error(PlatformFailed("square", "disk full", []))  # no cause
    assert unpickled == ("The square video failed. disk full.", None)
