"""One render, several platforms: a video each, read back at its own size, sharing one
narration, one analysis and one sound track; captions and logo in each one's safe area."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from mp4probe import audio_track, probe
from numpy.typing import NDArray

import storyreel
from media import SegmentSpec, write_project, write_solid
from storyreel.errors import EncoderError, PlatformFailed, RenderCancelled
from storyreel.model.platforms import PLATFORMS
from storyreel.render.parts import PartJob, encode_part, part_encoder
from storyreel.render.progress import CancelToken, Progress
from storyreel.voice.cache import NarrationCache
from storyreel.voice.narrate import Narrator
from storyreel.voice.speaker import LocalSpeaker, OnSpoken, SpeechJob

DARK = (20, 20, 30)
SIZES = {"youtube": (320, 180), "shorts": (180, 320), "square": (180, 180)}


class CountingSpeaker:
    """The local speaker, counting the texts it is asked to speak."""

    def __init__(self) -> None:
        self.spoken: list[str] = []
        self._local = LocalSpeaker()

    def __call__(self, jobs: Sequence[SpeechJob], cache: NarrationCache,
                 cancel: Callable[[], None] | None, on_spoken: OnSpoken) -> None:
        self.spoken += [job.text for job in jobs]
        self._local(jobs, cache, cancel, on_spoken)


def decode_rgb(path: Path) -> list[NDArray[np.int16]]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def story(folder: Path, settings: dict[str, Any], *, spoken: bool = False) -> storyreel.Project:
    """Two dark stills: a recorded narration, then (``spoken``) one said from its text."""
    specs = [SegmentSpec(seconds=1.2, colour=DARK, image_size=(96, 96),
                         text="Every platform gets its own captions.")]
    if spoken:
        specs.append(SegmentSpec(seconds=1.0, colour=DARK, image_size=(96, 96),
                                 text="Spoken once."))
    manifest = write_project(folder, specs, settings=settings, width=320, height=180)
    if spoken:  # the second segment loses its recording: the voice says its text
        text = manifest.read_text(encoding="utf-8").replace('"audio/002.wav"', "null")
        manifest.write_text(text, encoding="utf-8")
    return storyreel.load_project(manifest)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[storyreel.RenderResult, CountingSpeaker, list[Progress]]:
    folder = tmp_path_factory.mktemp("three")
    project = story(folder, {"platforms": ["youtube", "shorts", "square"],
                             "subtitles": {"enabled": True, "sidecar": True}}, spoken=True)
    speaker = CountingSpeaker()
    seen: list[Progress] = []
    result = storyreel.render(project, folder / "out" / "story.mp4", on_progress=seen.append,
                              narrator=Narrator(NarrationCache(folder / "voices"),
                                                speaker=speaker))
    return result, speaker, seen


def test_each_platform_gets_its_own_video_at_its_size(
        three: tuple[storyreel.RenderResult, CountingSpeaker, list[Progress]]) -> None:
    result, _, _ = three
    out = result.path.parent
    assert [(v.platform, v.path.name, (v.width, v.height)) for v in result.videos] == [
        (name, f"story-{name}.mp4", SIZES[name]) for name in SIZES]
    assert not (out / "story.mp4").exists()
    frames = set()
    for video in result.videos:
        info = probe(video.path)
        assert (info.width, info.height) == SIZES[video.platform or ""]
        assert video.size == video.path.stat().st_size
        frames.add(info.frames)
        assert video.duration == pytest.approx(result.duration)
    assert frames == {result.frames}  # one timeline: the same length everywhere


def test_every_video_carries_the_same_sound(
        three: tuple[storyreel.RenderResult, CountingSpeaker, list[Progress]]) -> None:
    result, _, _ = three
    tracks = [audio_track(v.path) for v in result.videos]
    first, rate = tracks[0]
    assert rate == 48_000 and np.abs(first).max() > 0.05  # narration, not silence
    for samples, _ in tracks[1:]:
        assert samples.shape == first.shape
        assert np.array_equal(samples, first)  # the same AAC track, decoded the same


def test_the_narration_is_spoken_once(
        three: tuple[storyreel.RenderResult, CountingSpeaker, list[Progress]]) -> None:
    result, speaker, _ = three
    assert speaker.spoken == ["Spoken once."]
    assert result.synthesised == [1]


def test_each_video_has_its_own_sidecars(
        three: tuple[storyreel.RenderResult, CountingSpeaker, list[Progress]]) -> None:
    result, _, _ = three
    for video in result.videos:
        assert sorted(p.name for p in video.sidecars) == [
            f"story-{video.platform}.srt", f"story-{video.platform}.vtt"]
        srt = video.path.with_suffix(".srt").read_text(encoding="utf-8")
        assert "own captions" in srt and "Spoken once" in srt
    assert result.sidecars == result.videos[0].sidecars


def test_progress_names_each_video(
        three: tuple[storyreel.RenderResult, CountingSpeaker, list[Progress]]) -> None:
    _, _, seen = three
    exports = [(p.output, p.output_index, p.outputs) for p in seen if p.phase == "export"]
    assert sorted(set(exports)) == [("shorts", 1, 3), ("square", 2, 3), ("youtube", 0, 3)]
    assert {p.output for p in seen if p.phase in ("narrate", "analyse")} == {""}
    overall = [p.overall_fraction for p in seen if p.phase == "export"]
    assert overall == sorted(overall) and overall[-1] == 1.0  # one bar over all three


def test_each_video_has_its_own_parts_in_the_cache(tmp_path: Path) -> None:
    project = story(tmp_path, {"platforms": ["youtube", "square"]})
    cache = storyreel.PartCache(tmp_path / "cache")
    first = storyreel.render(project, tmp_path / "out.mp4", cache=cache)
    assert first.chunks_reused == 0 and first.chunks_encoded >= 2
    again = storyreel.render(project, tmp_path / "out.mp4", cache=cache)
    assert again.chunks_encoded == 0 and again.chunks_reused == first.chunks_encoded
    one = storyreel.render(project, tmp_path / "one.mp4", cache=cache, platform="square",
                           width=180, height=180)
    assert one.chunks_encoded == 0  # the square video's parts, as a render of its own
    assert [v.platform for v in one.videos] == ["square"]
    assert (one.videos[0].width, one.videos[0].height) == (180, 180)


def test_a_single_platform_keeps_its_name(tmp_path: Path) -> None:
    project = story(tmp_path, {"platforms": ["shorts"]})
    result = storyreel.render(project, tmp_path / "story.mp4", cache=False)
    assert result.path == tmp_path / "story.mp4"
    assert [(v.platform, v.width, v.height) for v in result.videos] == [("shorts", 180, 320)]


class FailingFor:
    """Encodes parts here, but fails those of one size (a part that cannot be encoded)."""

    threads = None

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)

    def __call__(self, jobs: Sequence[PartJob], cancel: CancelToken,
                 on_frame: Callable[[], None],
                 on_part: Callable[[PartJob, list[str]], None]) -> None:
        for job in jobs:
            if (job.settings.width, job.settings.height) == self.size:
                raise EncoderError("the encoder refused the part", "test")
            on_part(job, encode_part(job, part_encoder, cancel, on_frame))


def test_a_failed_video_names_its_platform_and_the_finished_ones_stay(tmp_path: Path) -> None:
    project = story(tmp_path, {"platforms": ["youtube", "shorts", "square"]})
    with pytest.raises(PlatformFailed) as caught:
        storyreel.render(project, tmp_path / "out" / "story.mp4", cache=False,
                         parts=FailingFor(*SIZES["shorts"]))
    assert caught.value.platform == "shorts"
    assert "shorts" in str(caught.value) and "the encoder refused" in str(caught.value)
    assert isinstance(caught.value.__cause__, EncoderError)
    youtube = tmp_path / "out" / "story-youtube.mp4"
    assert caught.value.finished == [youtube]
    assert probe(youtube).width == 320  # finished, verified and kept
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["story-youtube.mp4"]


def test_a_cancel_keeps_the_finished_videos_and_says_so(tmp_path: Path) -> None:
    project = story(tmp_path, {"platforms": ["youtube", "shorts", "square"],
                               "subtitles": {"sidecar": True}})
    cancel = threading.Event()

    def on_progress(update: Progress) -> None:
        if update.output == "shorts" and update.phase == "export" and update.done > 3:
            cancel.set()  # mid-way through the second video's frames

    out = tmp_path / "out"
    with pytest.raises(RenderCancelled) as caught:
        storyreel.render(project, out / "story.mp4", cache=False, cancel=cancel,
                         on_progress=on_progress)
    assert caught.value.kept == [out / "story-youtube.mp4"]
    assert "finished and kept: story-youtube.mp4" in str(caught.value)
    assert sorted(p.name for p in out.iterdir()) == [
        "story-youtube.mp4", "story-youtube.srt", "story-youtube.vtt"]  # no temp, no half
    assert probe(out / "story-youtube.mp4").height == 180
    again = pickle.loads(pickle.dumps(caught.value))
    assert again.kept == caught.value.kept and str(again) == str(caught.value)
    failed = pickle.loads(pickle.dumps(PlatformFailed("shorts", "disk full", [out])))
    assert (failed.platform, failed.finished, str(failed)) == (
        "shorts", [out], "the shorts video failed: disk full (finished and kept: out)")


def test_an_unwritable_target_is_named_before_anything_is_made(tmp_path: Path) -> None:
    project = story(tmp_path, {"platforms": ["youtube", "square"]})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "story-square.mp4").mkdir()  # a folder where the video would go
    with pytest.raises(PlatformFailed, match=r"the square video failed: .*is a folder"):
        storyreel.render(project, tmp_path / "out" / "story.mp4", cache=False)
    assert not (tmp_path / "out" / "story-youtube.mp4").exists()


# -- captions and logo per output -------------------------------------------------------


def test_captions_and_logo_lie_in_each_platforms_safe_area(tmp_path: Path) -> None:
    logo = write_solid(tmp_path / "logo.png", (30, 16), (0, 0, 255))
    names = ["youtube", "shorts", "reels", "square"]
    project = story(tmp_path, {
        "platforms": names,
        "subtitles": {"enabled": True, "color": "#FFFFFF", "outline": 0.0,
                      "size": 0.08, "max_words": 12},
        "logo": {"path": str(logo), "corner": "bottom-right", "margin": 0.0,
                 "opacity": 1.0}})
    result = storyreel.render(project, tmp_path / "out" / "story.mp4", cache=False)
    for video in result.videos:
        name = video.platform or ""
        left, top, right, bottom = PLATFORMS[name].safe
        w, h = video.width, video.height
        allowed = np.zeros((h, w), bool)
        allowed[math.floor(h * top): math.ceil(h * (1 - bottom)),
                math.floor(w * left): math.ceil(w * (1 - right))] = True
        caption = logo_pixels = 0
        for rgb in decode_rgb(video.path):
            drawn = np.abs(rgb - np.array(DARK, np.int16)).max(axis=2) > 40
            assert not (drawn & ~allowed).any(), f"{name}: drawn outside its safe area"
            caption += int((rgb.min(axis=2) > 200).sum())  # white letters
            blue = (rgb[:, :, 2] > 200) & (rgb[:, :, 0] < 60)
            logo_pixels += int(blue.sum())
            # The logo sits in the safe area's corner, not the frame's.
            ys, xs = np.nonzero(blue)
            assert ys.max() >= math.ceil(h * (1 - bottom)) - 3, name
            assert xs.max() >= math.ceil(w * (1 - right)) - 3, name
        assert caption > 100 and logo_pixels > 100, name


def test_adding_a_platform_reuses_the_others_parts(tmp_path: Path) -> None:
    project = story(tmp_path, {"platforms": ["youtube", "shorts"]})
    cache = storyreel.PartCache(tmp_path / "cache")
    two = storyreel.render(project, tmp_path / "out.mp4", cache=cache)
    assert two.chunks_reused == 0 and two.chunks_encoded >= 2
    three = storyreel.render(project, tmp_path / "out.mp4", cache=cache,
                             platforms=["youtube", "shorts", "square"], width=320, height=180)
    assert [v.platform for v in three.videos] == ["youtube", "shorts", "square"]
    assert three.chunks_reused == two.chunks_encoded  # youtube's and shorts' parts
    square = storyreel.render(project, tmp_path / "square.mp4", cache=False,
                              platform="square", width=180, height=180)
    assert three.chunks_encoded == square.chunks_encoded  # only square's are new
    assert (three.videos[2].width, three.videos[2].height) == SIZES["square"]


def test_a_platforms_changed_safe_area_is_not_taken_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = story(tmp_path, {"platforms": ["youtube", "square"],
                               "subtitles": {"enabled": True}})
    cache = storyreel.PartCache(tmp_path / "cache")
    before = storyreel.render(project, tmp_path / "out.mp4", cache=cache)
    # A newer release moves YouTube's safe area (platforms change their interfaces).
    moved = dataclasses.replace(PLATFORMS["youtube"], safe=(0.05, 0.05, 0.05, 0.30))
    monkeypatch.setitem(PLATFORMS, "youtube", moved)
    after = storyreel.render(project, tmp_path / "moved.mp4", cache=cache)
    assert after.chunks_reused == before.chunks_encoded // 2  # square's parts only
    youtube = [decode_rgb(r.videos[0].path)[20] for r in (before, after)]
    assert not np.array_equal(*youtube)  # the captions moved up with the safe area


def test_a_card_title_too_long_for_one_platforms_shape_is_warned_about(tmp_path: Path) -> None:
    title = "The long night train from Zurich to the mountains at dawn"
    manifest = write_project(tmp_path, [SegmentSpec(seconds=0.6, colour=DARK)],
                             settings={"platforms": ["youtube", "shorts"]},
                             width=320, height=180)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    del data["segments"][0]["image"]
    data["segments"][0]["title"] = title  # a title card
    manifest.write_text(json.dumps(data), encoding="utf-8")
    result = storyreel.render(storyreel.load_project(manifest), tmp_path / "story.mp4",
                              cache=False)
    # 1080 wide fits it in three lines; the Short's narrow safe area does not
    assert [w for w in result.warnings if title in w] == [
        f"shorts video: segment 1 title: caption too long for 3 line(s) at a readable size, "
        f"drawn on 4 lines at 13 px: {title!r}"]
