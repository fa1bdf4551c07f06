"""A segment's visual: the closed set of kinds, the clip options, the clip clock and the
segment lengths a clip asks for."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storyreel import ValidationFailed
from storyreel.model import project_from_dict
from storyreel.model.project import Segment
from storyreel.model.schema import manifest_schema, shipped_schema
from storyreel.model.visual import Card, ClipOptions, Still, Video
from storyreel.timeline.cliptime import MIN_SPEED, clip_rate, clip_time
from storyreel.timeline.plan import SAMPLE_RATE
from storyreel.timeline.story import ClipFacts, build_story
from storyreel.timeline.words import WordTimings


def manifest(*segments: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"segments": list(segments), "width": 128, "height": 72, "fps": 10,
            "settings": {"gap": 0.5, "transitions": {"crossfade": 0.0}}, **fields}


def test_each_segment_shows_exactly_one_visual(tmp_path: Path) -> None:
    project = project_from_dict(manifest(
        {"image": "a.png", "text": "Still."},
        {"video": "clips/harbour.mp4", "text": "Clip.",
         "clip": {"start": 2.0, "end": 9.0, "fit": "loop", "crop": "blur"}},
        {"text": "Card.", "title": "Chapter one"}), base_dir=tmp_path)
    still, video, card = (s.visual for s in project.segments)
    assert still == Still(image=tmp_path / "a.png")
    assert isinstance(video, Video) and video.video == tmp_path / "clips" / "harbour.mp4"
    assert (video.clip.start, video.clip.end, video.clip.fit, video.clip.crop) == (
        2.0, 9.0, "loop", "blur")
    assert card == Card(title="Chapter one")
    assert [v.moves for v in (still, video, card)] == [False, True, False]
    assert project.input_files() == [tmp_path / "a.png", tmp_path / "clips" / "harbour.mp4"]


@pytest.mark.parametrize(("segment", "words"), [
    ({"image": "a.png", "video": "b.mp4", "text": "x"}, "not both"),
    ({"image": "a.png", "clip": {"fit": "loop"}, "text": "x"}, "clip options need a video"),
    ({"video": "b.mp4", "clip": {"start": 5, "end": 2}}, "must be after its start"),
    ({"video": "b.mp4", "clip": {"fit": "stretch"}}, "fit"),
    ({"video": "b.mp4", "clip": {"crop": "fill"}}, "crop"),
    ({"video": "b.mp4", "clip": {"zoom": 3}}, "zoom"),
    ({"video": "b.mp4", "clip": {"volume": 40}}, "volume"),
    ({"video": "b.mp4", "clip": {"speed": 2}}, "speed"),
])
def test_bad_visuals_are_refused_with_the_reason(tmp_path: Path, segment: dict[str, Any],
                                                  words: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        project_from_dict(manifest(segment), base_dir=tmp_path)
    assert words in str(caught.value)


def test_clip_sound_is_muted_under_narration_and_heard_in_an_interlude() -> None:
    narrated = Segment(video=Path("/c.mp4"), text="Spoken.")
    interlude = Segment(video=Path("/c.mp4"))
    recorded = Segment(video=Path("/c.mp4"), audio=Path("/a.wav"))
    assert not narrated.interlude and interlude.interlude and not recorded.interlude
    assert narrated.visual.sound_gain(interlude=narrated.interlude) is None
    assert interlude.visual.sound_gain(interlude=interlude.interlude) == 0.0
    loud = Segment(video=Path("/c.mp4"), text="x", clip=ClipOptions(volume=-6.0))
    assert loud.visual.sound_gain(interlude=False) == -6.0
    muted = Segment.model_validate({"video": "/c.mp4", "clip": {"volume": None}})
    assert muted.interlude and muted.visual.sound_gain(interlude=True) is None
    assert Segment(image=Path("/a.png"), text="x").visual.sound_gain(interlude=False) is None


def test_the_shape_of_a_clip_leaves_out_its_file_and_its_sound() -> None:
    a = Video(video=Path("/a.mp4"), clip=ClipOptions(start=1.0, volume=-3.0))
    b = Video(video=Path("/elsewhere/b.mp4"), clip=ClipOptions(start=1.0))
    assert a.shape() == b.shape()
    assert a.shape() != Video(video=Path("/a.mp4"), clip=ClipOptions(start=1.5)).shape()
    assert Card(title="A").shape() != Card(title="B").shape()


def test_the_shipped_schema_knows_videos_clips_and_titles() -> None:
    schema = shipped_schema()
    assert schema == json.loads(json.dumps(manifest_schema()))
    segment = schema["$defs"]["Segment"]["properties"]
    assert {"image", "video", "clip", "title"} <= segment.keys()
    options = schema["$defs"]["ClipOptions"]["properties"]
    assert options["fit"]["enum"] == ["freeze", "loop", "speed", "extend"]
    assert options["crop"]["enum"] == ["cover", "contain", "blur"]


# --- the clip's clock --------------------------------------------------------------------

FPS = st.sampled_from([Fraction(24), Fraction(25), Fraction(30), Fraction(30000, 1001),
                       Fraction(60)])
SECONDS = st.fractions(min_value=Fraction(1, 10), max_value=20).map(
    lambda f: f.limit_denominator(1000))


@given(fps=FPS, start=st.fractions(0, 30).map(lambda f: f.limit_denominator(100)),
       length=SECONDS, frames=st.integers(1, 2000), fit=st.sampled_from(
           ["freeze", "loop", "speed", "extend"]))
def test_every_frame_shows_a_moment_inside_the_trim(fps: Fraction, start: Fraction,
                                                     length: Fraction, frames: int,
                                                     fit: Any) -> None:
    times = [clip_time(n, fps=fps, start=start, length=length, fit=fit, shown_frames=frames)
             for n in range(0, frames, max(1, frames // 50))]
    assert all(start <= t <= start + length for t in times)
    if fit == "loop":
        assert all(t < start + length for t in times)
    else:
        assert times == sorted(times)  # never steps back


@given(fps=FPS, length=SECONDS, frames=st.integers(1, 2000))
def test_speed_fills_the_segment_never_below_half_speed(fps: Fraction, length: Fraction,
                                                        frames: int) -> None:
    shown = Fraction(frames) / fps
    rate = clip_rate("speed", length, shown)
    assert MIN_SPEED <= rate <= 1
    last = clip_time(frames - 1, fps=fps, start=Fraction(0), length=length, fit="speed",
                     shown_frames=frames)
    if length >= shown:  # longer than its segment: played as it is, cut at the end
        assert rate == 1 and last == Fraction(frames - 1) / fps
    elif length >= shown * MIN_SPEED:  # slowed just enough: the last frame ends the clip
        assert rate == length / shown and length - rate / fps <= last < length
    else:  # at half speed, then held
        assert rate == MIN_SPEED


def test_the_clock_on_known_frames() -> None:
    fps, start, length = Fraction(10), Fraction(2), Fraction(1)
    at = {fit: [clip_time(n, fps=fps, start=start, length=length, fit=fit, shown_frames=30)
                for n in (0, 5, 10, 15, 25)]
          for fit in ("freeze", "loop", "speed", "extend")}
    f = Fraction
    assert at["freeze"] == [f(2), f(5, 2), f(3), f(3), f(3)]
    assert at["extend"] == at["freeze"]
    assert at["loop"] == [f(2), f(5, 2), f(2), f(5, 2), f(5, 2)]
    assert at["speed"] == [f(2), f(9, 4), f(5, 2), f(11, 4), f(3)]  # half speed, then held


# --- what a clip does to its segment's length ---------------------------------------------


@dataclass
class Measured:
    narration_samples: list[int]
    clips: list[ClipFacts | None]
    speech: list[list[tuple[int, int]]] = field(default_factory=list)
    words: list[WordTimings] = field(default_factory=list)
    intro: ClipFacts | None = None
    outro: ClipFacts | None = None
    focus: list[tuple[float, float] | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.speech = [[] for _ in self.narration_samples]


def test_interludes_last_their_clip_and_extend_outlasts_the_narration(tmp_path: Path) -> None:
    clip = {"video": "c.mp4"}
    project = project_from_dict(manifest(
        {"image": "a.png", "text": "One."},
        {**clip},  # interlude: its clip, 3 s
        {**clip, "text": "Two.", "clip": {"fit": "extend"}},  # narration 1 s, clip 3 s
        {**clip, "text": "Three.", "clip": {"fit": "extend"}},  # narration 4 s, clip 3 s
        {**clip, "text": "Four.", "clip": {"fit": "loop"}},  # narration 1 s: 1.5 s
        {"text": "Five.", "title": "The end"}), base_dir=tmp_path)
    facts = ClipFacts(Fraction(3), 64, 36)
    second = SAMPLE_RATE
    measured = Measured([second, 0, second, 4 * second, second, second],
                        [None, facts, facts, facts, facts, None])
    story = build_story(project, measured)
    seconds = [span.frames / 10 for span in story.plan.spans]
    assert seconds == [1.5, 3.0, 3.0, 4.5, 1.5, 1.5]
    assert [item.gain for item in story.items] == [None, 0.0, None, None, None, None]
    assert [item.visual.moves for item in story.items] == [False, True, True, True, True, False]
    assert story.items[1].clip == facts


def test_a_card_title_with_characters_no_font_has_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from storyreel.frames import text as text_module
    from storyreel.render.analysis import analyse_project

    monkeypatch.setattr(text_module, "_system_fonts", lambda code: ())
    monkeypatch.setattr(text_module, "_KNOWN_FALLBACKS", [])
    project = project_from_dict(manifest({"title": "Harbour \U00012000", "text": "Spoken."},
                                         {"title": "Harbour", "text": "Spoken."}),
                                base_dir=tmp_path)
    analysis = analyse_project(project)
    assert analysis.ok
    assert len(analysis.warnings) == 1
    assert analysis.warnings[0].startswith("segment 1 title:") and "U+12000" in analysis.warnings[0]
