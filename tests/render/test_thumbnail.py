"""Thumbnails: a cover beside the video, at the platform's size, its title inside the safe area."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

import storyreel
from media import ClipSpec, write_clip, write_manifest, write_solid, write_tone_wav
from storyreel.model.platforms import PLATFORMS
from storyreel.render.thumbnail import MAX_THUMBNAIL_BYTES

GREY = (128, 128, 128)


def project_of(folder: Path, segments: list[dict[str, Any]], *, size: tuple[int, int],
               **settings: Any) -> storyreel.Project:
    for i, segment in enumerate(segments):
        segment.setdefault("audio", write_tone_wav(folder / f"{i}.wav", 0.3).name)
    base = {"preset": "ultrafast", "gap": 0.0, "transitions": {"crossfade": 0.0},
            "subtitles": {"enabled": False, "sidecar": False},
            "loudness": {"enabled": False}, "ken_burns": {"direction": "none"}}
    manifest = write_manifest(folder, segments, title="Night Train", width=size[0],
                              height=size[1], fps=25, settings={**base, **settings})
    return storyreel.load_project(manifest)


def cover_of(video: Path) -> tuple[NDArray[np.uint8], int]:
    path = video.with_name(video.stem + "-thumbnail.jpg")
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        return np.asarray(im.convert("RGB")), len(data)


def text_box(rgb: NDArray[np.uint8], background: tuple[int, int, int]
             ) -> tuple[int, int, int, int]:
    """Left, top, right, bottom of what differs clearly from ``background``."""
    differs = np.abs(rgb.astype(int) - np.array(background)).max(axis=2) > 60
    ys, xs = np.nonzero(differs)
    assert len(xs) > 500, "no title drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def assert_inside_safe_area(box: tuple[int, int, int, int], size: tuple[int, int],
                            insets: tuple[float, float, float, float]) -> None:
    width, height = size
    slack = 8  # a JPEG block's ringing round the outline
    assert box[0] >= insets[0] * width - slack and box[1] >= insets[1] * height - slack
    assert box[2] <= (1 - insets[2]) * width + slack
    assert box[3] <= (1 - insets[3]) * height + slack


@pytest.mark.parametrize(("platform", "size", "cover"), [
    ("youtube", (128, 72), (1280, 720)), ("shorts", (72, 128), (1080, 1920)),
    ("square", (64, 64), (1080, 1080))])
def test_a_cover_of_the_platform_s_size_with_the_title_in_its_safe_area(
        project_dir: Path, out_dir: Path, platform: str, size: tuple[int, int],
        cover: tuple[int, int]) -> None:
    write_solid(project_dir / "grey.png", (300, 200), GREY)
    project = project_of(project_dir, [{"image": "grey.png"}], size=size, platform=platform)
    result = storyreel.render(project, out_dir / "story.mp4", thumbnail=True, cache=False)
    assert out_dir / "story-thumbnail.jpg" in result.sidecars
    rgb, weight = cover_of(result.path)
    assert (rgb.shape[1], rgb.shape[0]) == cover and weight < MAX_THUMBNAIL_BYTES
    box = text_box(rgb, GREY)
    assert_inside_safe_area(box, cover, PLATFORMS[platform].safe)
    assert box[3] - box[1] > 0.06 * min(cover), "the title is not drawn large"


def test_a_long_unicode_title_wraps_and_shrinks_to_fit(project_dir: Path,
                                                       out_dir: Path) -> None:
    write_solid(project_dir / "grey.png", (300, 200), GREY)
    title = "Über den Wolken — 東京の夜、とても長い旅の物語 — Ünïcödé everywhere " * 3
    project = project_of(project_dir, [{"image": "grey.png"}], size=(72, 128),
                         platform="reels", thumbnail={"title": title})
    result = storyreel.render(project, out_dir / "long.mp4", cache=False)
    rgb, weight = cover_of(result.path)
    assert weight < MAX_THUMBNAIL_BYTES
    box = text_box(rgb, GREY)
    assert_inside_safe_area(box, (1080, 1920), PLATFORMS["reels"].safe)
    rows = np.abs(rgb.astype(int) - np.array(GREY)).max(axis=2).max(axis=1) > 60
    bands = np.count_nonzero(np.diff(rows.astype(int)) == 1)
    assert bands >= 2, "a title this long takes several lines"


def test_the_chosen_segment_s_picture_a_clip_s_first_trimmed_frame(
        project_dir: Path, out_dir: Path) -> None:
    red, green = (200, 30, 30), (30, 200, 30)
    write_solid(project_dir / "grey.png", (300, 200), GREY)
    write_clip(project_dir / "c.mp4", ClipSpec(
        frames=30, size=(96, 54),
        draw=lambda i: np.full((54, 96, 3), red if i < 15 else green, np.uint8)))
    project = project_of(project_dir, [{"image": "grey.png"},
                                       {"video": "c.mp4", "clip": {"start": 0.6}}],
                         size=(128, 72), thumbnail={"segment": 2, "title": "Go"})
    result = storyreel.render(project, out_dir / "clip.mp4", cache=False)
    rgb, _ = cover_of(result.path)
    corner = rgb[-40:, :40].reshape(-1, 3).mean(axis=0)
    assert np.abs(corner - np.array(green)).max() < 25


def test_no_thumbnail_unless_asked_and_a_stale_one_is_removed(project_dir: Path,
                                                              out_dir: Path) -> None:
    write_solid(project_dir / "grey.png", (300, 200), GREY)
    project = project_of(project_dir, [{"image": "grey.png"}], size=(128, 72))
    storyreel.render(project, out_dir / "s.mp4", thumbnail=True, cache=False)
    assert (out_dir / "s-thumbnail.jpg").is_file()
    storyreel.render(project, out_dir / "s.mp4", cache=False)
    assert not (out_dir / "s-thumbnail.jpg").exists()


def test_a_thumbnail_segment_the_project_lacks_is_refused(project_dir: Path) -> None:
    write_solid(project_dir / "grey.png", (300, 200), GREY)
    with pytest.raises(storyreel.ValidationFailed, match=r"thumbnail\.segment 3"):
        project_of(project_dir, [{"image": "grey.png"}], size=(128, 72),
                   thumbnail={"segment": 3})


def test_the_command_line_flag_keeps_the_manifest_s_choice(project_dir: Path,
                                                           out_dir: Path) -> None:
    from storyreel.cli import main

    red = (200, 30, 30)
    write_solid(project_dir / "grey.png", (300, 200), GREY)
    write_solid(project_dir / "red.png", (300, 200), red)
    project_of(project_dir, [{"image": "grey.png"}, {"image": "red.png"}], size=(128, 72),
               thumbnail={"segment": 2})
    manifest = project_dir / "story.json"
    assert main(["render", str(manifest), "-o", str(out_dir / "cli.mp4"), "--thumbnail",
                 "-q"]) == 0
    rgb, _ = cover_of(out_dir / "cli.mp4")
    corner = rgb[-40:, :40].reshape(-1, 3).mean(axis=0)
    assert np.abs(corner - np.array(red)).max() < 25


def test_each_platform_s_video_has_its_own_cover(project_dir: Path, out_dir: Path) -> None:
    write_solid(project_dir / "grey.png", (300, 200), GREY)
    project = project_of(project_dir, [{"image": "grey.png"}], size=(128, 72),
                         platforms=["youtube", "shorts"], thumbnail=True)
    result = storyreel.render(project, out_dir / "story.mp4", cache=False)
    for platform, size in (("youtube", (1280, 720)), ("shorts", (1080, 1920))):
        rgb, weight = cover_of(out_dir / f"story-{platform}.mp4")
        assert (rgb.shape[1], rgb.shape[0]) == size and weight < MAX_THUMBNAIL_BYTES
        assert_inside_safe_area(text_box(rgb, GREY), size, PLATFORMS[platform].safe)
    assert out_dir / "story-shorts-thumbnail.jpg" in {p for v in result.videos
                                                      for p in v.sidecars}
