"""Crossfades as transitions and chapters as markers in the FCPXML and Kdenlive exports.

The transitions and markers are read back and placed against the render's plan, worked
out here on its own (:func:`_plan`); melt plays the Kdenlive file and its frame in the
middle of each crossfade is compared with storyreel's own.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import opentimelineio as otio
import pytest
from test_export import (
    _clip_project,
    _frames,
    _mean_colours,
    _melt,
    _plan,
    _play,
    _story_project,
)
from test_export_motion import _luma, picture_entries

from media import read_counter
from storyreel import load_project, render
from storyreel.export import export_project
from storyreel.export.editors import CROSS_DISSOLVE


def _seconds(text: str) -> Fraction:
    assert text.endswith("s"), text
    return Fraction(text[:-1])


def _on_grid(text: str, fps: Fraction) -> int:
    """``text`` (FCPXML's rational seconds) in frames; fails between frames."""
    frames = _seconds(text) * fps
    assert frames.denominator == 1, text
    return frames.numerator


@pytest.mark.parametrize("fps", [25, "30000/1001"])
def test_fcpxml_dissolves_end_on_the_render_s_cuts(tmp_path: Path, fps: int | str) -> None:
    manifest = _story_project(tmp_path / "project", fps=fps)
    rate = Fraction(fps)
    result = export_project(load_project(manifest), tmp_path / "story.fcpxml", "fcpxml")
    spans = _plan(manifest).plan.spans
    assert [s.crossfade > 0 for s in spans] == [False, True, True, True]
    root = ElementTree.parse(result.path).getroot()
    sequence = root.find("./project/sequence")
    assert sequence is not None
    assert _on_grid(sequence.attrib["duration"], rate) == result.frames
    spine = sequence.find("spine")
    assert spine is not None
    items = [e for e in spine if e.tag != "transition"]
    assert [_on_grid(e.attrib["offset"], rate) for e in items] == [s.first_frame for s in spans]
    assert sum(_on_grid(e.attrib["duration"], rate) for e in items) == result.frames
    effect = root.find(f"./resources/effect[@uid='{CROSS_DISSOLVE}']")
    assert effect is not None and effect.attrib["name"] == "Cross Dissolve"
    order = list(spine)
    transitions = spine.findall("transition")
    assert len(transitions) == 3
    for transition, span in zip(transitions, spans[1:], strict=True):
        # over the frames the render blends, just before the incoming item
        assert _on_grid(transition.attrib["offset"], rate) == span.visible_start
        assert _on_grid(transition.attrib["duration"], rate) == span.crossfade
        assert order[order.index(transition) + 1] is items[span.index]
        assert transition.find(f"filter-video[@ref='{effect.attrib['id']}']") is not None
    for clip, span in zip(items[1:3], spans[1:3], strict=True):
        # the incoming still starts under the dissolve: its media reaches back that far
        assert _on_grid(clip.attrib["start"], rate) == span.crossfade
        video = clip.find("video")
        assert video is not None
        asset = root.find(f"./resources/asset[@id='{video.attrib['ref']}']")
        assert asset is not None
        for media in (video, asset):
            assert _on_grid(media.attrib["duration"], rate) >= span.crossfade + span.frames
        # its narration still starts on the cut
        narration = clip.find("clip[@lane='-1']")
        assert narration is not None
        assert _seconds(narration.attrib["offset"]) == _seconds(clip.attrib["start"])


@pytest.mark.parametrize("fps", [25, "30000/1001"])
def test_chapters_are_markers_at_their_frames(tmp_path: Path, fps: int | str) -> None:
    manifest = _story_project(tmp_path / "project", fps=fps)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["segments"][3]["chapter"] = "Ende — Zürich"  # a chapter on the title card too
    manifest.write_text(json.dumps(data), encoding="utf-8")
    rate = Fraction(fps)
    chapters = _plan(manifest).chapters
    assert [c.title for c in chapters] == ["Part 0", "Part 1", "Part 2", "Ende — Zürich"]
    fcpxml = export_project(load_project(manifest), tmp_path / "story.fcpxml", "fcpxml")
    assert not any("chapter" in note for note in fcpxml.warnings)
    spine = ElementTree.parse(fcpxml.path).getroot().find("./project/sequence/spine")
    assert spine is not None
    found = []
    for item in spine:
        for marker in item.findall("chapter-marker"):
            # a marker's start is in its item's own time, which begins at the item's start
            local = _seconds(marker.attrib["start"]) - _seconds(item.get("start", "0s"))
            found.append((_on_grid(item.attrib["offset"], rate) + _on_grid(f"{local}s", rate),
                          marker.attrib["value"]))
            assert _on_grid(marker.attrib["duration"], rate) == 1
    assert found == [(c.start, c.title) for c in chapters]
    kdenlive = export_project(load_project(manifest), tmp_path / "story.kdenlive", "kdenlive")
    assert not any("chapter" in note for note in kdenlive.warnings)
    root = ElementTree.parse(kdenlive.path).getroot()
    guides = root.findtext("playlist[@id='main_bin']/"
                           "property[@name='kdenlive:docproperties.guides']")
    assert guides is not None
    assert [(g["pos"], g["comment"]) for g in json.loads(guides)] == [
        (c.start, c.title) for c in chapters]


def test_kdenlive_mixes_alternate_the_sub_tracks_under_each_crossfade(tmp_path: Path
                                                                       ) -> None:
    manifest = _story_project(tmp_path / "project", fps="30000/1001")
    result = export_project(load_project(manifest), tmp_path / "story.kdenlive", "kdenlive")
    spans = _plan(manifest).plan.spans
    root = ElementTree.parse(result.path).getroot()
    entries = picture_entries(root)
    # each clip starts where the render first shows it: under the crossfade into it
    assert [at for at, _, _ in entries] == [s.visible_start for s in spans]
    for (at, _, entry), span in zip(entries, spans, strict=True):
        assert int(entry.attrib["out"]) - int(entry.attrib["in"]) + 1 == (
            span.end_frame - at)
    sides = [side for _, side, _ in entries]
    assert sides == [0, 1, 0, 1]  # a crossfade's two clips on different sub-tracks
    tractor = next(t for t in root.iter("tractor")
                   if t.findtext("property[@name='kdenlive:track_name']") == "Picture")
    assert [t.attrib["hide"] for t in tractor.findall("track")] == ["audio", "audio"]
    mixes = tractor.findall("transition")
    assert len(mixes) == 3
    for mix, span, side in zip(mixes, spans[1:], sides[1:], strict=True):
        props = {p.attrib["name"]: p.text for p in mix.findall("property")}
        assert props["mlt_service"] == "luma" and "resource" not in props  # a dissolve
        assert (int(mix.attrib["in"]), int(mix.attrib["out"])) == (
            span.visible_start, span.first_frame - 1)
        assert props["kdenlive:mixcut"] == str(span.crossfade)
        # a luma blends b_track over a_track; reversed when the incoming clip is on a
        assert props["reverse"] == ("1" if side == 0 else "0")


def test_melt_dissolves_like_the_render(tmp_path: Path) -> None:
    melt = _melt()
    manifest = _story_project(tmp_path / "project")
    project = load_project(manifest)
    result = render(project, tmp_path / "render.mp4", cache=False)
    exported = export_project(project, tmp_path / "story.kdenlive", "kdenlive")
    played = _play(melt, exported.path, tmp_path / "melt.mkv", "an=1")
    ours, theirs = np.array(_mean_colours(result.path)), np.array(_mean_colours(played))
    assert abs(len(theirs) - len(ours)) <= 1
    spans = _plan(manifest).plan.spans
    for before, span in itertools.pairwise(spans):
        assert span.crossfade >= 3
        outgoing = ours[span.visible_start - 1]  # the last frame before the fade
        incoming = ours[span.first_frame]  # the cut: the next picture alone
        apart = float(np.abs(outgoing - incoming).mean())
        assert apart > 40, (before.index, apart)
        middle = span.visible_start + span.crossfade // 2
        # the render's middle frame is a blend, far from either picture: a cut is not it
        for picture in (outgoing, incoming):
            assert float(np.abs(ours[middle] - picture).mean()) > apart / 4
        # melt's dissolve is linear where the render eases it: a tenth of the way apart
        off = float(np.abs(theirs[middle] - ours[middle]).mean())
        assert off < apart / 6, (span.index, off, apart)
        for frame in (span.visible_start - 1, span.first_frame):  # either side of it
            assert float(np.abs(theirs[frame] - ours[frame]).mean()) < apart / 20


def test_edl_dissolves_between_pictures_and_cuts_at_a_card(tmp_path: Path) -> None:
    manifest = _story_project(tmp_path / "project")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    card = data["segments"].pop()
    data["segments"].insert(1, card)  # still, card, still, still
    manifest.write_text(json.dumps(data), encoding="utf-8")
    spans = _plan(manifest).plan.spans
    assert all(span.crossfade == 5 for span in spans[1:])
    result = export_project(load_project(manifest), tmp_path / "story.edl", "edl")
    assert any("crossfades into and out of title cards are cuts" in note
               for note in result.warnings)
    text = result.path.read_text(encoding="utf-8")
    assert text.count(" D 005 ") == 1  # the one crossfade between two pictures
    timeline = otio.adapters.read_from_file(str(result.path), rate=25)
    track = timeline.tracks[0]
    clips = list(track.find_clips())
    assert [c.name for c in clips] == ["segment 1", "segment 3", "segment 4"]
    # an EDL's dissolve begins its incoming event: each picture from where it is first
    # seen (after the card, a cut on its first frame) to where the next one is
    starts = [spans[0].first_frame, spans[2].first_frame, spans[3].visible_start]
    ends = [spans[0].end_frame, spans[3].visible_start, spans[3].end_frame]
    assert [_frames(c.range_in_parent().start_time) for c in clips] == starts
    assert [_frames(c.range_in_parent().end_time_exclusive()) for c in clips] == ends
    dissolves = [t for t in track if isinstance(t, otio.schema.Transition)]
    assert [_frames(t.out_offset) for t in dissolves] == [spans[3].crossfade]
    assert all(_frames(c.source_range.start_time) == 0 for c in clips)  # stills from 0


def test_melt_shows_a_clip_from_the_frame_the_render_fades_it_in_with(tmp_path: Path
                                                                      ) -> None:
    melt = _melt()
    manifest = _clip_project(tmp_path / "project", end=1.8)
    project = load_project(manifest)
    result = render(project, tmp_path / "render.mp4", cache=False)
    exported = export_project(project, tmp_path / "story.kdenlive", "kdenlive")
    played = _play(melt, exported.path, tmp_path / "melt.mkv", "an=1")
    span = _plan(manifest).plan.spans[1]
    assert span.crossfade == 5
    frames = (span.first_frame, span.first_frame + 1, span.end_frame - 6)
    ours, theirs = _luma(result.path), _luma(played)
    # at the cut the render shows the clip's frame trim + crossfade: it started under
    # the fade
    assert [read_counter(ours[f]) for f in frames] == [
        10 + f - span.visible_start for f in frames]
    assert [read_counter(theirs[f]) for f in frames] == [
        10 + f - span.visible_start for f in frames]


def test_fcpxml_starts_a_trimmed_clip_under_the_dissolve_into_it(tmp_path: Path) -> None:
    manifest = _clip_project(tmp_path / "project", end=1.8)
    span = _plan(manifest).plan.spans[1]
    result = export_project(load_project(manifest), tmp_path / "story.fcpxml", "fcpxml")
    root = ElementTree.parse(result.path).getroot()
    clip = root.find("./project/sequence/spine/clip[@name='segment 2']")
    assert clip is not None
    rate = Fraction(25)
    # the render shows the clip's frame trim (0.4 s: 10) + crossfade at the cut
    assert _on_grid(clip.attrib["start"], rate) == 10 + span.crossfade
    video = clip.find("video")
    assert video is not None
    asset = root.find(f"./resources/asset[@id='{video.attrib['ref']}']")
    assert asset is not None
    first = _on_grid(asset.attrib["start"], rate)
    assert first <= 10  # the frames under the dissolve are in the asset
    # and so is the last frame shown, but no more than the trim's end (1.8 s: 45)
    end = first + _on_grid(asset.attrib["duration"], rate)
    assert 10 + span.crossfade + span.frames <= end <= 45
