"""Verification reads the index and the packets, and decodes the first picture only.

It must still refuse what it refused when it decoded a probe's worth of frames: a
file cut short, a picture in another pixel format, a first picture that does not
decode. Each file is made by a render, then damaged, or written directly with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from mp4probe import luma_frames

import storyreel
from media import ProjectFactory
from storyreel.errors import VerificationError
from storyreel.render.verify import Expected, verify_mp4

_RATE = 48_000


def _expected(result: storyreel.RenderResult, width: int, height: int) -> Expected:
    samples = round(result.frames / result.fps * _RATE)
    return Expected(width, height, result.fps, result.frames, samples, _RATE)


@pytest.fixture
def rendered(make_project: ProjectFactory, out_dir: Path) -> tuple[Path, Expected]:
    project = make_project([0.6, 0.5], settings={"preset": "ultrafast"})
    result = storyreel.render(project, out_dir / "story.mp4", cache=False)
    return result.path, _expected(result, project.width, project.height)


def test_a_render_verifies_with_every_frame_counted(rendered: tuple[Path, Expected]) -> None:
    path, expected = rendered
    verified = verify_mp4(path, expected)
    assert verified.frames == expected.frames == len(luma_frames(path))  # a full decode
    assert abs(verified.video_duration - float(expected.frames / expected.fps)) < 1e-6


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_a_file_cut_short_is_refused(rendered: tuple[Path, Expected], tmp_path: Path,
                                     keep: float) -> None:
    """With the index at the front, a cut file still claims every frame in its index:
    only reading the packets shows that some are gone."""
    path, expected = rendered
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(VerificationError):
        verify_mp4(cut, expected)


def test_a_first_picture_that_does_not_decode_is_refused(rendered: tuple[Path, Expected],
                                                         tmp_path: Path) -> None:
    path, expected = rendered
    with av.open(str(path)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        assert first.pos is not None
        start, size = first.pos, first.size
    data = bytearray(path.read_bytes())
    data[start : start + size] = bytes(size)  # the keyframe's slices zeroed
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(VerificationError):
        verify_mp4(broken, expected)


def _write_direct(path: Path, pix_fmt: str, frames: int, fps: Fraction) -> None:
    """An H.264 High + AAC file written by PyAV, index at the front."""
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, pix_fmt
        video.options = {"preset": "ultrafast", "profile": "high", "x264-params": "8x8dct=1"}
        audio = out.add_stream("aac", rate=_RATE)
        audio.layout = "stereo"
        for i in range(frames):
            image = np.full((48, 64, 3), 40 + 10 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = round(frames / fps * _RATE)
        for start in range(0, samples, 1024):
            block = np.zeros((2, min(1024, samples - start)), np.float32)
            sound = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            sound.sample_rate, sound.pts = _RATE, start
            out.mux(audio.encode(sound))
        out.mux(audio.encode(None))


def test_the_pixel_format_still_comes_from_a_decoded_picture(tmp_path: Path) -> None:
    fps = Fraction(10)
    good, full_range = tmp_path / "good.mp4", tmp_path / "full.mp4"
    _write_direct(good, "yuv420p", 10, fps)
    _write_direct(full_range, "yuvj420p", 10, fps)
    expected = Expected(64, 48, fps, 10, round(10 / fps * _RATE), _RATE)
    assert verify_mp4(good, expected).frames == 10
    with pytest.raises(VerificationError, match="pixel format is yuvj420p"):
        verify_mp4(full_range, expected)
