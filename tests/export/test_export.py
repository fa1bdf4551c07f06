"""``storyreel export``: each format opened by a real client and checked against the render.

melt (the engine under Kdenlive and Shotcut) plays the Kdenlive file; opentimelineio reads
the OTIO file and parses the EDL back; the FCPXML is checked for a version the editors
accept and for media that resolve. Without melt the melt test is skipped, except on CI
(``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from xml.etree import ElementTree

import av
import numpy as np
import opentimelineio as otio
import pytest

from media import PALETTE, write_clip, write_manifest, write_solid
from storyreel import load_project, render
from storyreel.cli import main
from storyreel.demo import write_speechlike_wav
from storyreel.export import export_project
from storyreel.media.sidecar import parse_srt
from storyreel.render.analysis import analyse_project
from storyreel.timeline.story import Story, build_story
from storyreel.voice.narrate import narrate_project

SIZE = (160, 90)
COLOURS = PALETTE[:3]


def _story_project(folder: Path, *, crossfade: float = 0.2, fade_in: float = 0.0,
                   fps: int | str = 25) -> Path:
    """Three coloured stills with recorded narrations, then a card its text is spoken for."""
    segments: list[dict[str, Any]] = []
    for index, colour in enumerate(COLOURS):
        write_solid(folder / f"média/{index}.png", SIZE, colour)
        write_speechlike_wav(folder / f"média/{index}.wav", 0.7 + 0.1 * index, seed=index)
        segments.append({"image": f"média/{index}.png", "audio": f"média/{index}.wav",
                         "text": f"Part {index} of the night train", "chapter": f"Part {index}"})
    segments.append({"title": "Zürich", "text": "The end."})
    return write_manifest(folder, segments, title="Night Train to Zürich", width=SIZE[0],
                          height=SIZE[1], fps=fps,
                          settings={"preset": "ultrafast", "gap": 0.2,
                                    "subtitles": {"enabled": False, "sidecar": True},
                                    "transitions": {"crossfade": crossfade,
                                                    "fade_in": fade_in},
                                    "loudness": {"enabled": False}})


def _plan(manifest: Path) -> Story:
    """The story as the render plans it, computed here on its own."""
    project = load_project(manifest)
    with narrate_project(project) as narrated:
        analysis = analyse_project(narrated.project, speech=True, words=narrated.words)
        assert analysis.ok
        return build_story(narrated.project, analysis)


def _frames(rt: Any, fps: float = 25) -> int:
    value = rt.rescaled_to(fps).value
    assert abs(value - round(value)) < 1e-6
    return round(value)


def _path_of(url: str, base: Path) -> Path:
    path = unquote(urlparse(url).path) if url.startswith("file:") else url
    return (base / path).resolve()


def _melt() -> str:
    found = shutil.which("melt")
    if found is None:
        reason = "Debian's melt is not installed (apt-get install melt)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"melt test cannot run on CI: {reason}")
        pytest.skip(reason)
    return found


def _play(melt: str, timeline: Path, output: Path, *options: str) -> Path:
    """``timeline`` played by melt into ``output`` (FFV1: the picture as melt made it).

    MLT's Qt module (its image reader and the Transform effect) asks for an X display;
    Qt itself draws offscreen. ``real_time=0``: every frame is drawn, none dropped when
    the machine is busy (a consumer's default is to keep to the clock)."""
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}
    subprocess.run([melt, "-quiet", str(timeline), "-consumer", f"avformat:{output}",
                    "real_time=0", "vcodec=ffv1", *options], check=True, env=environment,
                   capture_output=True, timeout=240)
    return output


def _mean_colours(path: Path) -> list[tuple[float, ...]]:
    with av.open(str(path)) as container:
        return [tuple(frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0))
                for frame in container.decode(video=0)]


def _closest(colour: tuple[float, ...]) -> int:
    """Index of the segment colour nearest to ``colour`` (3: the black card)."""
    choices = [*COLOURS, (0, 0, 0)]
    distances = [float(np.abs(np.subtract(colour, c)).sum()) for c in choices]
    return int(np.argmin(distances))


@pytest.mark.parametrize("fps", [25, "30000/1001"])
def test_melt_plays_the_kdenlive_export_like_the_render(tmp_path: Path, fps: int | str) -> None:
    melt = _melt()
    manifest = _story_project(tmp_path / "project", fps=fps)
    result = render(load_project(manifest), tmp_path / "render.mp4", cache=False)
    (tmp_path / "edit").mkdir()
    exported = export_project(load_project(manifest), tmp_path / "edit" / "story.kdenlive",
                              "kdenlive")
    assert exported.frames == result.frames
    played = _play(melt, exported.path, tmp_path / "melt.mkv", "acodec=pcm_s16le")
    ours, theirs = _mean_colours(result.path), _mean_colours(played)
    assert abs(len(theirs) - result.frames) <= 1
    with av.open(str(played)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        assert container.streams.video[0].codec_context.width == SIZE[0]
    frame = Fraction(48_000) / Fraction(fps)  # samples in a frame
    assert abs(samples - result.frames * frame) <= frame
    story = _plan(manifest)
    for index, span in enumerate(story.plan.spans):
        middle = span.first_frame + span.frames // 2
        assert _closest(theirs[middle]) == index, f"segment {index + 1} at frame {middle}"
        assert _closest(ours[middle]) == index
        assert np.abs(np.subtract(theirs[middle], ours[middle])).max() < 24


def test_otio_reads_back_with_the_plan_s_clips_and_cuts(tmp_path: Path) -> None:
    # 29.97 fps: the narrations' first samples are mostly not on a frame's start
    manifest = _story_project(tmp_path / "project", fade_in=0.13, fps="30000/1001")
    target = tmp_path / "story.otio"
    result = export_project(load_project(manifest), target, "otio")
    story = _plan(manifest)
    fps = Fraction(30000, 1001)

    def frames(rt: Any) -> int:
        return _frames(rt, float(fps))

    timeline = otio.adapters.read_from_file(str(target))
    picture, narration = timeline.tracks[0], timeline.tracks[1]
    clips = list(picture.find_clips())
    assert [frames(c.source_range.duration) for c in clips] == [
        s.frames for s in story.plan.spans]
    assert [frames(c.range_in_parent().start_time) for c in clips] == [
        s.first_frame for s in story.plan.spans]
    assert frames(timeline.duration()) == story.plan.total_frames == result.frames
    fades = [t for t in picture if isinstance(t, otio.schema.Transition)]
    assert [frames(t.in_offset) for t in fades] == [
        s.crossfade for s in story.plan.spans if s.crossfade]
    assert isinstance(clips[3].media_reference, otio.schema.GeneratorReference)
    assert clips[3].name == "Zürich"
    voices = list(narration.find_clips())
    assert len(voices) == 4
    for clip, span in zip(voices, story.plan.spans, strict=True):
        placed = clip.range_in_parent()
        # after the lead-in, a narration starts with its segment's picture
        first = span.first_frame if span.index else round(Fraction(span.audio_start) * fps
                                                          / 48_000)
        assert frames(placed.start_time) == first
        end = Fraction(span.narration_end) * fps / 48_000
        assert frames(placed.end_time_exclusive()) == -(-end.numerator // end.denominator)
        path = _path_of(clip.media_reference.target_url, tmp_path)
        assert path.is_file() and path.is_absolute()
    assert _path_of(voices[3].media_reference.target_url, tmp_path).parent == (
        tmp_path / "story.narration")
    assert [m.name for m in timeline.tracks.markers] == ["Part 0", "Part 1", "Part 2"]
    assert [frames(m.marked_range.start_time) for m in timeline.tracks.markers] == [
        c.start for c in story.chapters]
    assert result.captions is not None
    cues = parse_srt(result.captions.read_text(encoding="utf-8"))
    assert len(cues) == len(story.captions) > 0
    for (start, end, _), caption in zip(cues, story.captions, strict=True):  # SRT: whole ms
        assert abs(start - caption.start / fps) <= Fraction(1, 2000)
        assert abs(end - caption.end / fps) <= Fraction(1, 2000)


@pytest.mark.parametrize("fps", [25, "30000/1001"])
def test_fcpxml_has_an_accepted_version_and_every_media_file(tmp_path: Path,
                                                             fps: int | str) -> None:
    manifest = _story_project(tmp_path / "project", fps=fps)
    rate = Fraction(fps)
    target = tmp_path / "story.fcpxml"
    export_project(load_project(manifest), target, "fcpxml")
    root = ElementTree.parse(target).getroot()
    major, minor = (int(part) for part in root.attrib["version"].split("."))
    assert major == 1 and 8 <= minor <= 11
    sources = [asset.attrib["src"] for asset in root.iter("asset")]
    assert len(sources) == 3 + 4  # the stills and the narrations (the card is a title)
    for source in sources:
        assert _path_of(source, tmp_path).is_file(), source
    form = root.find("./resources/format")
    assert form is not None and form.attrib["frameDuration"] == _fcp_time(1, rate)
    assert (form.attrib["width"], form.attrib["height"]) == tuple(str(s) for s in SIZE)
    card = _plan(manifest).plan.spans[3]  # a Basic Title in the spine where the card is
    assert [(g.attrib["offset"], g.attrib["duration"]) for g in root.findall(".//spine/title")
            ] == [(_fcp_time(card.first_frame, rate), _fcp_time(card.frames, rate))]
    assert not root.findall(".//spine/gap")
    # every time in the sequence falls on a frame (editors refuse times between frames)
    title = root.find(".//spine/title")
    assert title is not None
    times = [e.attrib[name] for e in root.iter() for name in ("offset", "duration", "time")
             if name in e.attrib] + [title.attrib["start"]]
    assert len(times) > 20
    for text in times:
        frames = Fraction(text.removesuffix("s")) * rate
        assert frames.denominator == 1, text


def _fcp_time(frames: int, fps: Fraction = Fraction(25)) -> str:
    """FCPXML's rational seconds (``76/25s``, ``4/5s``, ``3s``)."""
    seconds = frames / fps
    return f"{seconds.numerator}s" if seconds.denominator == 1 else f"{seconds}s"


def test_edl_parses_back_with_relative_paths(tmp_path: Path) -> None:
    manifest = _story_project(tmp_path / "project", crossfade=0.0)
    (tmp_path / "edit").mkdir()
    target = tmp_path / "edit" / "story.edl"
    export_project(load_project(manifest), target, "edl", relative=True)
    story = _plan(manifest)
    timeline = otio.adapters.read_from_file(str(target), rate=25)
    clips = list(timeline.tracks[0].find_clips())
    assert [_frames(c.source_range.duration) for c in clips] == [
        s.frames for s in story.plan.spans[:3]]
    for clip, colour in zip(clips, range(3), strict=True):
        url = clip.media_reference.target_url
        assert not Path(url).is_absolute()
        assert (target.parent / url).resolve() == (
            tmp_path / "project" / f"média/{colour}.png").resolve()


def test_cli_exports_and_refuses_in_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _story_project(tmp_path / "project")
    assert main(["export", str(manifest), "--to", "otio", "-o", str(tmp_path / "a.otio")]) == 0
    assert "4 clips" in capsys.readouterr().out
    assert main(["export", str(manifest), "--to", "premiere", "-o", str(tmp_path / "a.x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown export format 'premiere'" in err
    assert main(["export", str(manifest), "--to", "otio", "-o", str(manifest)]) == 2
    assert "an input of the project" in capsys.readouterr().err
    assert json.loads(manifest.read_text(encoding="utf-8"))["title"] == "Night Train to Zürich"
    (tmp_path / "project" / "média" / "1.png").unlink()
    assert main(["export", str(manifest), "--to", "edl", "-o", str(tmp_path / "b.edl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1.png" in err
    assert not (tmp_path / "b.edl").exists()


def test_export_command_runs_as_a_program(tmp_path: Path) -> None:
    manifest = _story_project(tmp_path / "project")
    done = subprocess.run([sys.executable, "-m", "storyreel", "export", str(manifest),
                           "--to", "kdenlive", "-o", str(tmp_path / "s.kdenlive")],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(tmp_path / "s.kdenlive"))
    assert "deprecated" not in done.stdout + done.stderr  # the writer's own printing is kept in


def _clip_project(folder: Path, *, end: float) -> Path:
    """The story project with its second still a 50-frame counter clip from 0.4 s to
    ``end``."""
    manifest = _story_project(folder)
    write_clip(folder / "clip.mp4", frames=50, fps=Fraction(25))
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["segments"][1] = {"video": "clip.mp4", "clip": {"start": 0.4, "end": end},
                           "audio": "média/1.wav", "text": "A clip in the middle"}
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return manifest


def test_a_clip_keeps_its_trim_and_each_format_names_what_it_leaves_out(tmp_path: Path
                                                                        ) -> None:
    manifest = _clip_project(tmp_path / "project", end=1.6)
    story = _plan(manifest)
    result = export_project(load_project(manifest), tmp_path / "clip.otio", "otio")
    clip = list(otio.adapters.read_from_file(str(result.path)).tracks[0].find_clips())[1]
    # 0.4 s at 25 fps, and the frames the crossfade into it shows before its cut
    fade = story.plan.spans[1].crossfade
    assert fade > 0
    assert _frames(clip.source_range.start_time) == 10 + fade
    assert _frames(clip.media_reference.available_range.start_time) == 10
    assert _frames(clip.source_range.duration) == story.plan.spans[1].frames
    assert _path_of(clip.media_reference.target_url, tmp_path).name == "clip.mp4"
    notes = {fmt: export_project(load_project(manifest), tmp_path / f"n.{fmt}", fmt).warnings
             for fmt in ("otio", "fcpxml", "kdenlive", "edl")}
    fades = {fmt: any("crossfade" in note for note in notes[fmt]) for fmt in notes}
    assert fades == {"otio": False, "fcpxml": False, "kdenlive": False, "edl": True}
    chapters = {fmt: any("chapters" in note for note in notes[fmt]) for fmt in notes}
    assert chapters == {"otio": False, "fcpxml": False, "kdenlive": False, "edl": True}
    assert any("picture only" in note for note in notes["edl"])
    motion = {fmt: any("Ken Burns" in note for note in notes[fmt]) for fmt in notes}
    assert motion == {"otio": True, "fcpxml": False, "kdenlive": False, "edl": True}


def test_an_export_without_captions_leaves_no_older_srt_beside_it(tmp_path: Path) -> None:
    manifest = _story_project(tmp_path)
    target = tmp_path / "edit" / "night.otio"
    first = export_project(load_project(manifest), target, "otio")
    assert first.captions == target.with_suffix(".srt") and first.captions.is_file()
    text = manifest.read_text(encoding="utf-8").replace('"sidecar": true', '"sidecar": false')
    manifest.write_text(text, encoding="utf-8")
    again = export_project(load_project(manifest), target, "otio")
    assert again.captions is None
    assert sorted(p.name for p in target.parent.iterdir() if p.is_file()) == ["night.otio"]
