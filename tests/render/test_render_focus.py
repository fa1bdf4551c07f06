"""Focus: a wide picture cropped to 9:16 keeps its face (found, or pointed at) in every frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

import storyreel
from media import ClipSpec, write_clip, write_manifest, write_tone_wav
from storyreel.media.focus import find_focus, picture_focus
from storyreel.media.image import load_reduced_grey
from storyreel.render.cache import PartCache
from storyreel.timeline.framing import cover_box, focus_in, paste_offset

skimage_data = pytest.importorskip("skimage.data")

WIDE = (1280, 720)
#: Where the face (and the red frame drawn round it) sits in the wide picture.
FACE = (980, 230, 220)  # left, top, size
RED = np.array([255, 0, 0])
BLUE = np.array([0, 0, 255])
CYAN = np.array([0, 255, 255])
YELLOW = np.array([255, 255, 0])


def wide_picture() -> NDArray[np.uint8]:
    """A wide landscape-like gradient, a bright disc at the left (the salient thing
    without a face) and a real face at the right, framed in red."""
    width, height = WIDE
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.dstack([60 + xs * 80 // width, 110 + ys * 60 // height,
                         90 + 0 * xs]).astype(np.uint8)
    cv2.circle(picture, (200, 360), 70, (250, 250, 240), -1)
    cv2.rectangle(picture, (150, 600), (250, 660), tuple(int(c) for c in BLUE), -1)
    picture[:, :8] = CYAN  # the picture's own edges, to tell them from what lies beyond
    picture[:, -8:] = YELLOW
    left, top, size = FACE
    face = np.asarray(skimage_data.astronaut())[30:210, 130:310]
    picture[top:top + size, left:left + size] = cv2.resize(face, (size, size),
                                                          interpolation=cv2.INTER_AREA)
    cv2.rectangle(picture, (left - 8, top - 8), (left + size + 7, top + size + 7),
                  tuple(int(c) for c in RED), 6)
    return picture


def write_wide(folder: Path) -> Path:
    path = folder / "wide.png"
    Image.fromarray(wide_picture()).save(path)
    return path


def vertical_project(folder: Path, segment: dict[str, Any], *, seconds: float = 1.0,
                     ken_burns: dict[str, Any] | None = None) -> storyreel.Project:
    audio = write_tone_wav(folder / "n.wav", seconds)
    settings = {"preset": "ultrafast", "gap": 0.0, "transitions": {"crossfade": 0.0},
                "subtitles": {"enabled": False, "sidecar": False},
                "loudness": {"enabled": False},
                "ken_burns": ken_burns or {"zoom": 1.2, "direction": "in"}}
    manifest = write_manifest(folder, [{"audio": audio.name, **segment}], width=180,
                              height=320, fps=15, settings=settings)
    return storyreel.load_project(manifest)


def rgb_frames(path: Path) -> list[NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def mask(frame: NDArray[np.uint8], colour: NDArray[np.int_]) -> NDArray[np.bool_]:
    return np.asarray(np.abs(frame.astype(int) - colour).sum(axis=2) < 120)


def whole_box_inside(frame: NDArray[np.uint8]) -> bool:
    """The red frame round the face is seen whole: all four sides, none at the edge."""
    ys, xs = np.nonzero(mask(frame, RED))
    if len(xs) < 20:
        return False
    height, width = frame.shape[:2]
    inside = xs.min() > 0 and ys.min() > 0 and xs.max() < width - 1 and ys.max() < height - 1
    box_h = ys.max() - ys.min()
    left_side = np.count_nonzero(xs <= xs.min() + 2)
    right_side = np.count_nonzero(xs >= xs.max() - 2)
    return bool(inside and left_side > box_h // 2 and right_side > box_h // 2)


def test_the_detector_finds_the_face_and_not_the_bright_disc(tmp_path: Path) -> None:
    found = picture_focus(write_wide(tmp_path))
    assert found is not None
    left, top, size = FACE
    assert left / WIDE[0] < found[0] < (left + size) / WIDE[0]
    assert top / WIDE[1] < found[1] < (top + size) / WIDE[1]


def test_without_a_face_the_salient_region_wins_and_a_flat_picture_keeps_none() -> None:
    grey = np.full((270, 480), 90, np.uint8)
    assert find_focus(grey) is None
    cv2.circle(grey, (400, 70), 25, 250, -1)
    found = find_focus(grey)
    assert found is not None
    assert abs(found[0] - 400 / 480) < 0.06 and abs(found[1] - 70 / 270) < 0.08


def test_a_face_at_the_side_is_in_every_frame_of_a_vertical_render(
        project_dir: Path, out_dir: Path) -> None:
    write_wide(project_dir)
    project = vertical_project(project_dir, {"image": "wide.png"})
    frames = rgb_frames(storyreel.render(project, out_dir / "v.mp4", cache=False).path)
    assert len(frames) == 15
    assert all(whole_box_inside(f) for f in frames)
    # Cropped about its centre, the picture would not show the face at all.
    box = cover_box(*WIDE, 180, 320)
    assert box[2] < FACE[0]


def test_an_explicit_focus_overrides_the_face(project_dir: Path, out_dir: Path) -> None:
    write_wide(project_dir)
    project = vertical_project(project_dir, {"image": "wide.png", "focus": [0.15, 0.6]})
    frames = rgb_frames(storyreel.render(project, out_dir / "left.mp4", cache=False).path)
    assert not any(mask(f, RED).any() for f in frames)
    assert all(np.count_nonzero(mask(f, BLUE)) > 50 for f in frames)


def test_a_focus_at_the_very_edge_shows_only_the_picture(project_dir: Path,
                                                        out_dir: Path) -> None:
    write_wide(project_dir)
    for corner, column, edge in (([1.0, 1.0], -1, YELLOW), ([0.0, 0.0], 0, CYAN)):
        project = vertical_project(project_dir, {"image": "wide.png", "focus": corner},
                                   ken_burns={"zoom": 1.5, "direction": "out"})
        frames = rgb_frames(storyreel.render(project, out_dir / "edge.mp4", cache=False).path)
        # The picture's own edge is the frame's edge all along: nothing beyond it shows.
        for frame in frames:
            assert mask(frame[:, column : column + 1 or None], edge).mean() > 0.95


def test_a_changed_focus_changes_the_parts_key(project_dir: Path, out_dir: Path) -> None:
    write_wide(project_dir)
    cache = PartCache(project_dir / "cache")
    first = storyreel.render(vertical_project(project_dir, {"image": "wide.png"}),
                             out_dir / "a.mp4", cache=cache)
    again = storyreel.render(vertical_project(project_dir, {"image": "wide.png"}),
                             out_dir / "b.mp4", cache=cache)
    moved = storyreel.render(vertical_project(project_dir, {"image": "wide.png",
                                                            "focus": [0.2, 0.5]}),
                             out_dir / "c.mp4", cache=cache)
    assert first.chunks_encoded >= 1 and again.chunks_encoded == 0
    assert moved.chunks_encoded >= 1
    assert cache.stats().kinds["facts"] >= 1  # the found focus is kept


def test_a_clip_is_cropped_around_its_face(project_dir: Path, out_dir: Path) -> None:
    picture = wide_picture()
    small = cv2.resize(picture, (640, 360), interpolation=cv2.INTER_AREA)
    write_clip(project_dir / "wide.mp4", ClipSpec(frames=10, size=(640, 360),
                                                  draw=lambda i: small))
    project = vertical_project(project_dir, {"video": "wide.mp4", "text": "",
                                             "clip": {"zoom": 1.2}})
    frames = rgb_frames(storyreel.render(project, out_dir / "clip.mp4", cache=False).path)
    assert frames and all(whole_box_inside(f) for f in frames)


def test_framing_geometry_against_a_direct_computation() -> None:
    # 1000 x 500 into a square: a 500-wide window, its left at focus * 1000 - 250, clamped.
    for fx in (0.0, 0.1, 0.5, 0.77, 1.0):
        box = cover_box(1000, 500, 64, 64, (fx, 0.5))
        assert box[0] == min(max(fx * 1000 - 250, 0), 500) and box[2] - box[0] == 500
        inside = focus_in(box, 1000, 500, (fx, 0.5))
        assert inside[0] == pytest.approx(min(1, max(0, (fx * 1000 - box[0]) / 500)))
    assert paste_offset(100, 40, 0.5) == -30
    assert paste_offset(100, 40, 1.0) == -60 and paste_offset(100, 40, 0.0) == 0
    assert paste_offset(30, 40, 0.9) == 5


def test_focus_is_validated_naming_the_segment(project_dir: Path) -> None:
    write_wide(project_dir)
    for bad in ([1.5, 0.5], [0.5], "middle"):
        manifest = write_manifest(project_dir, [{"title": "Hi", "text": "a"},
                                                {"image": "wide.png", "text": "b",
                                                 "focus": bad}])
        with pytest.raises(storyreel.ValidationFailed, match="segment 2 focus"):
            storyreel.load_project(manifest)


def test_the_reduced_grey_copy_is_upright_and_small(tmp_path: Path) -> None:
    grey = load_reduced_grey(write_wide(tmp_path), 480)
    assert grey.shape == (270, 480)


def test_bands_across_the_picture_are_no_focus() -> None:
    # Three flat bands: their edges are salient, but span the picture: no one region.
    grey = np.full((480, 160), 60, np.uint8)
    grey[160:320] = 200
    grey[320:] = 110
    assert find_focus(grey) is None
