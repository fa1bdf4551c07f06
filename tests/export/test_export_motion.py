"""Ken Burns motion and title cards in the FCPXML and Kdenlive exports.

The keyframes are read back and compared with the render's own camera window, worked out
here from the source the render samples (:func:`cover_size`) rather than through the
exporter's code; melt plays the Kdenlive file and its frame in the middle of a moving
still is compared with storyreel's own.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import av
import numpy as np
import pytest
from numpy.typing import NDArray
from test_export import _melt, _plan, _play

from media import write_manifest, write_textured
from storyreel import load_project, render
from storyreel.demo import write_speechlike_wav
from storyreel.export import export_project
from storyreel.export.motion import keyframe_frames, still_rects
from storyreel.frames.kenburns import Motion
from storyreel.frames.pictures import cover_size, segment_motion
from storyreel.media.image import load_cover_planes
from storyreel.model.project import Project
from storyreel.timeline.plan import SegmentSpan
from storyreel.timeline.story import Story

IMAGE = (200, 150)  # 4:3 stills in a 16:9 frame: the render crops their top and bottom
Rect = tuple[float, float, float, float]


def _moving_project(folder: Path, size: tuple[int, int], *, zoom: float = 1.3,
                    seconds: float = 0.8) -> Path:
    """Two textured stills that zoom and pan (in, then out), then a title card."""
    segments: list[dict[str, Any]] = []
    for index in range(2):
        write_textured(folder / f"still {index}.png", IMAGE, seed=index, cell=10)
        write_speechlike_wav(folder / f"{index}.wav", seconds, seed=index)
        segments.append({"image": f"still {index}.png", "audio": f"{index}.wav"})
    segments.append({"title": "Grüße & <Ende>", "text": "The end."})
    return write_manifest(folder, segments, title="Moving", width=size[0], height=size[1],
                          fps=25, settings={
                              "preset": "ultrafast", "gap": 0.2,
                              "ken_burns": {"zoom": zoom, "pan": True},
                              "subtitles": {"enabled": False, "sidecar": False,
                                            "outline": 0},
                              "transitions": {"crossfade": 0.2},
                              "loudness": {"enabled": False}})


def _render_rect(project: Project, segment: int, span: SegmentSpan, frame: int) -> Rect:
    """Where the render draws the cover-fitted still on clip frame ``frame``: its camera
    window over the source it samples, mapped onto the output frame."""
    motion = segment_motion(project, segment)
    length = span.end_frame - span.visible_start
    zoom, px, py = motion.at((span.first_frame + frame - span.visible_start) / (length - 1))
    src_w, src_h = cover_size(project, segment)
    win_w, win_h = src_w / zoom, src_h / zoom
    sx, sy = project.width / win_w, project.height / win_h
    return (-px * (src_w - win_w) * sx, -py * (src_h - win_h) * sy, src_w * sx, src_h * sy)


def _whole_image(rect: Rect) -> Rect:
    """``rect`` of the cover-fitted part grown to the whole (taller) image it was cut from."""
    x, y, w, h = rect
    full = w * IMAGE[1] / IMAGE[0]
    return x, y - (full - h) / 2, w, full


def _between(keys: list[tuple[Fraction, list[float]]], at: Fraction) -> list[float]:
    """The value an editor plays at ``at``: linear between the keyframes around it."""
    for (t0, v0), (t1, v1) in itertools.pairwise(keys):
        if t0 <= at <= t1:
            share = float((at - t0) / (t1 - t0))
            return [a + (b - a) * share for a, b in zip(v0, v1, strict=True)]
    raise AssertionError(f"no keyframes around {at}")


def picture_entries(root: ElementTree.Element) -> list[tuple[int, int, ElementTree.Element]]:
    """The picture track's clips as ``(first frame, sub-track, entry)`` in the order they
    start, read from the Kdenlive track's two playlists (their blanks place them)."""
    tractor = next(t for t in root.iter("tractor")
                   if t.findtext("property[@name='kdenlive:track_name']") == "Picture")
    placed = []
    for side, track in enumerate(tractor.findall("track")):
        playlist = root.find(f"playlist[@id='{track.attrib['producer']}']")
        assert playlist is not None
        at = 0
        for child in playlist:
            if child.tag == "blank":
                at += int(child.attrib["length"])
            elif child.tag == "entry":
                placed.append((at, side, child))
                at += int(child.attrib["out"]) - int(child.attrib["in"]) + 1
    return sorted(placed, key=lambda found: found[0])


def _fcp_seconds(text: str) -> Fraction:
    assert text.endswith("s")
    return Fraction(text[:-1])


def _fcp_keys(transform: ElementTree.Element, name: str) -> list[tuple[Fraction, list[float]]]:
    frames = transform.findall(f"param[@name='{name}']/keyframeAnimation/keyframe")
    assert all(k.get("interp") == "linear" and k.get("curve") == "linear" for k in frames)
    return [(_fcp_seconds(k.attrib["time"]), [float(v) for v in k.attrib["value"].split()])
            for k in frames]


def _close(ours: Rect | list[float], theirs: Rect | list[float], pixels: float = 0.5) -> bool:
    return all(abs(a - b) <= pixels for a, b in zip(ours, theirs, strict=True))


def _exported(folder: Path, fmt: str, size: tuple[int, int]
              ) -> tuple[Project, Story, ElementTree.Element]:
    """The moving project, its plan, and its export to ``fmt`` parsed."""
    manifest = _moving_project(folder / "project", size)
    project = load_project(manifest)
    result = export_project(project, folder / f"story.{fmt}", fmt)
    return project, _plan(manifest), ElementTree.parse(result.path).getroot()


def test_fcpxml_keyframes_move_each_still_as_the_render_does(tmp_path: Path) -> None:
    size = (192, 108)
    project, story, root = _exported(tmp_path, "fcpxml", size)
    spine = root.find("./project/sequence/spine")
    assert spine is not None
    clips = spine.findall("clip")
    assert len(clips) == 2
    width, height = size
    for segment, (clip, span) in enumerate(zip(clips, story.plan.spans, strict=False)):
        # the DTD's order: adjustments, then the picture and what is anchored to it
        assert [child.tag for child in clip][:3] == ["adjust-conform", "adjust-transform",
                                                     "video"]
        assert _fcp_seconds(clip.attrib["duration"]) == Fraction(span.frames, 25)
        assert clip[0].attrib["type"] == "fill"  # cover the frame, as the render does
        position, scale = _fcp_keys(clip[1], "position"), _fcp_keys(clip[1], "scale")
        # keyframes in the clip's own time, which starts at its first frame under the
        # crossfade into it (its ``start`` is the cut)
        start = _fcp_seconds(clip.get("start", "0s"))
        assert start == Fraction(span.crossfade, 25)
        assert position[0][0] == 0
        assert position[-1][0] == Fraction(span.crossfade + span.frames - 1, 25)
        for frame in (-span.crossfade, 0, span.frames // 2, span.frames - 1):
            at = start + Fraction(frame, 25)
            (cx, cy), (sx, sy) = _between(position, at), _between(scale, at)
            assert sx == pytest.approx(sy)
            w, h = sx * width, sy * height  # position: % of the height from the centre, y up
            played = (width / 2 + cx * height / 100 - w / 2,
                      height / 2 - cy * height / 100 - h / 2, w, h)
            expected = _render_rect(project, segment, span, frame)
            assert _close(expected, played), (segment, frame, expected, played)
        assert _render_rect(project, segment, span, 0) != _render_rect(
            project, segment, span, span.frames - 1)  # the still does move


def test_kdenlive_rect_keyframes_place_the_whole_image(tmp_path: Path) -> None:
    project, story, root = _exported(tmp_path, "kdenlive", (192, 108))
    entries = [entry for _, _, entry in picture_entries(root)]
    assert len(entries) == 3 and entries[2].find("filter") is None  # the card stays still
    card = root.find(f"producer[@id='{entries[2].attrib['producer']}']")
    assert card is not None
    properties = {p.attrib["name"]: p.text or "" for p in card.findall("property")}
    assert properties["mlt_service"] == "kdenlivetitle"
    titler = ElementTree.fromstring(properties["xmldata"])
    assert (titler.attrib["width"], titler.attrib["height"]) == ("192", "108")
    assert titler.findtext("item/content") == "Grüße & <Ende>"
    for segment, (entry, span) in enumerate(zip(entries[:2], story.plan.spans, strict=False)):
        motion = entry.find("filter")
        assert motion is not None
        properties = {p.attrib["name"]: p.text or "" for p in motion.findall("property")}
        assert properties["mlt_service"] == "qtblend" and properties["distort"] == "0"
        # the clip starts under the crossfade into it, its frame 0 drawn there
        shown = span.crossfade + span.frames
        assert (entry.attrib["in"], entry.attrib["out"]) == ("0", str(shown - 1))
        assert (motion.attrib["in"], motion.attrib["out"]) == ("0", str(shown - 1))
        keys = []
        for key in properties["rect"].split(";"):
            frame, values = key.split("=")
            keys.append((Fraction(frame), [float(v) for v in values.split()][:4]))
        assert keys[0][0] == 0 and keys[-1][0] == shown - 1
        assert len(keys) < span.frames  # a few keyframes, not one a frame
        for frame in (-span.crossfade, 0, span.frames // 2, span.frames - 1):
            played = _between(keys, Fraction(span.crossfade + frame))
            expected = _whole_image(_render_rect(project, segment, span, frame))
            assert _close(expected, played), (segment, frame, expected, played)


def test_keyframes_stay_within_the_tolerance_on_every_frame() -> None:
    motion = Motion(1.0, 1.6, (0.1, 0.9), (0.9, 0.1))
    rects = still_rects(motion, 300, 12, 1920, 1080)
    keys = keyframe_frames(rects, 0.25)
    assert keys[0] == 0 and keys[-1] == 299 and 2 < len(keys) < 100
    for frame, rect in enumerate(rects):
        after = next(k for k in keys if k >= frame)
        before = max(k for k in keys if k <= frame)
        share = (frame - before) / (after - before) if after > before else 0.0
        line = [a + (b - a) * share for a, b in zip(rects[before], rects[after], strict=True)]
        assert _close(rect, line, 0.25), frame
    assert keyframe_frames(still_rects(Motion(1.0, 1.0), 40, 0, 64, 36)) == [0, 39]
    # a straight zoom (no easing, no pan) is a straight line: its ends say it all
    straight = Motion(1.0, 1.3, eased=False)
    assert keyframe_frames(still_rects(straight, 3600, 0, 1920, 1080)) == [0, 3599]
    assert keyframe_frames(still_rects(motion, 1, 0, 64, 36)) == [0]


def test_fcpxml_carries_a_card_s_title_as_a_basic_title(tmp_path: Path) -> None:
    manifest = _moving_project(tmp_path / "project", (192, 108))
    export_project(load_project(manifest), tmp_path / "story.fcpxml", "fcpxml")
    card = _plan(manifest).plan.spans[2]
    text = (tmp_path / "story.fcpxml").read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n')
    root = ElementTree.fromstring(text)
    titles = root.findall("./project/sequence/spine/title")
    assert len(titles) == 1 and not root.findall("./project/sequence/spine/gap")
    title = titles[0]
    effect = root.find(f"./resources/effect[@id='{title.attrib['ref']}']")
    assert effect is not None and effect.attrib["name"] == "Basic Title"
    assert effect.attrib["uid"].endswith("Basic Title.moti")
    assert "".join(title.find("text").itertext()) == "Grüße & <Ende>"  # type: ignore[union-attr]
    style = title.find("text/text-style")
    assert style is not None
    assert root.find(f".//text-style-def[@id='{style.attrib['ref']}']") is not None
    assert (_fcp_seconds(title.attrib["offset"]), _fcp_seconds(title.attrib["duration"])) == (
        Fraction(card.first_frame, 25), Fraction(card.frames, 25))
    # the card's narration stays anchored to it
    assert title.find("clip/gap/audio") is not None
    assert [child.tag for child in title][:2] == ["text", "text-style-def"]
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["settings"]["background"] = "#203040"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    notes = export_project(load_project(manifest), tmp_path / "blue.fcpxml", "fcpxml").warnings
    assert any("title cards are over black" in note for note in notes)


def _luma(path: Path) -> list[NDArray[np.float64]]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray").astype(np.float64)
                for frame in container.decode(video=0)]


def _small(picture: NDArray[np.float64], block: int = 4) -> NDArray[np.float64]:
    """Averaged over ``block`` x ``block`` squares: resampling detail is not compared."""
    h, w = (s - s % block for s in picture.shape)
    return picture[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def _difference(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.abs(_small(a) - _small(b)).mean())


def test_melt_plays_a_moving_still_like_the_render(tmp_path: Path) -> None:
    melt = _melt()
    size = (192, 108)
    manifest = _moving_project(tmp_path / "project", size, zoom=1.5)
    project = load_project(manifest)
    result = render(project, tmp_path / "render.mp4", cache=False)
    exported = export_project(project, tmp_path / "story.kdenlive", "kdenlive")
    played = _play(melt, exported.path, tmp_path / "melt.mkv", "an=1")
    ours, theirs = _luma(result.path), _luma(played)
    assert abs(len(theirs) - len(ours)) <= 1
    story = _plan(manifest)
    for segment in range(2):
        span = story.plan.spans[segment]
        middle = span.first_frame + span.frames // 2
        image = project.segments[segment].image
        assert image is not None
        still = load_cover_planes(image, *size).y.astype(
            np.float64)  # the picture had it not moved
        moved = _difference(still, ours[middle])
        step = _difference(ours[middle + 1], ours[middle])  # a frame of the motion
        off = _difference(theirs[middle], ours[middle])
        assert moved > 20 and step > 3, f"segment {segment + 1} hardly moves"
        # about 1 grey level apart, where the motion moves a frame further by 6 to 10
        assert off < min(3.0, step / 2), (segment, off, step, moved)
    card = story.plan.spans[2]
    middle = card.first_frame + card.frames // 2
    ours_box, theirs_box = _text_box(ours[middle]), _text_box(theirs[middle])
    # the title is drawn, white on the card's black, centred where the render centres it
    assert np.abs(np.subtract(ours_box, theirs_box)).max() < 12, (ours_box, theirs_box)


def _text_box(picture: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """Centre and size (x, y, width, height) of the light pixels' bounding box."""
    rows, columns = np.nonzero(picture > 128)
    assert len(rows) > picture.size // 200, "no title drawn"
    return ((columns.min() + columns.max()) / 2, (rows.min() + rows.max()) / 2,
            float(columns.max() - columns.min()), float(rows.max() - rows.min()))
