"""Bad segment clips get a clear answer: one line each naming the segment and the file,
exit 2, and nothing rendered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from media import PLAIN_SETTINGS, all_files, write_clip, write_manifest, write_solid, write_tone_wav
from storyreel.cli.main import main


def empty(path: Path) -> None:
    path.write_bytes(b"")


def text(path: Path) -> None:
    path.write_text("not a video, whatever its name says\n" * 20, encoding="utf-8")


def truncated(path: Path) -> None:
    write_clip(path, frames=60, container_options={"movflags": "faststart"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])


def sound_only(path: Path) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48_000)
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp",
                                           layout="stereo")
        frame.sample_rate, frame.pts = 48_000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)


def unknown_codec(path: Path) -> None:
    data = write_clip(path.with_suffix(".mov"), frames=4, codec="qtrle",
                      pix_fmt="rgb24").read_bytes()
    path.write_bytes(data.replace(b"rle ", b"zzzz"))  # a FourCC nothing decodes


def over_8k(path: Path) -> None:
    write_clip(path, frames=2, size=(7696, 16), codec="mpeg4")


def good(path: Path) -> None:
    write_clip(path, frames=20)


#: Each bad clip, the clip options it is used with, and words its line must hold.
BAD: list[tuple[str, Callable[[Path], None], dict[str, float], str]] = [
    ("empty.mp4", empty, {}, "empty"),
    ("text.mp4", text, {}, "not a supported video"),
    ("truncated.mp4", truncated, {}, "truncated"),
    ("sound.mp4", sound_only, {}, "no video stream"),
    ("zzzz.mp4", unknown_codec, {}, "codec is not supported"),
    ("huge.mp4", over_8k, {}, "larger than 8K"),
    ("short.mp4", good, {"start": 5.0}, "outside the clip"),
    ("ends.mp4", good, {"start": 0.2, "end": 3.0}, "outside the clip"),
]


@pytest.fixture
def bad_project(tmp_path: Path) -> Path:
    write_solid(tmp_path / "still.png", (64, 36), (200, 40, 40))
    write_tone_wav(tmp_path / "voice.wav", 0.5)
    segments: list[dict[str, object]] = [{"image": "still.png", "audio": "voice.wav"}]
    (tmp_path / "clips").mkdir()
    for name, make, options, _ in BAD:
        make(tmp_path / "clips" / name)
        segments.append({"video": f"clips/{name}", "audio": "voice.wav", "clip": options})
    segments.append({"video": "clips/ends.mp4", "audio": "voice.wav"})  # fine as it is
    return write_manifest(tmp_path, segments, width=128, height=72, fps=10,
                          settings=PLAIN_SETTINGS)


def test_validate_names_every_bad_clip_in_one_line(bad_project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(bad_project)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == len(BAD)
    for number, (line, (name, _, _, words)) in enumerate(zip(lines, BAD, strict=True),
                                                          start=2):
        assert f"segment {number} video" in line and name in line and words in line


def test_a_render_with_a_bad_clip_renders_nothing(bad_project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = all_files(bad_project.parent)
    out = bad_project.parent / "out" / "story.mp4"
    assert main(["render", str(bad_project), "-o", str(out), "-q", "--no-cache"]) == 2
    assert all_files(bad_project.parent) == before
    err = capsys.readouterr().err
    assert all(name in err for name, *_ in BAD)
