"""Video clips and title cards as segments' visuals, rendered and read back.

The test clips carry a frame counter (:func:`media.counter_image`), so which source
frame shows at each output frame is read from the decoded MP4; their sound is a tone
at a frequency no narration uses, so where it is heard is found in the decoded samples.
"""

from __future__ import annotations

import math
import os
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from numpy.typing import NDArray

import storyreel
from media import (
    PLAIN_SETTINGS,
    read_counter,
    write_clip,
    write_manifest,
    write_solid,
    write_tone_wav,
)
from storyreel.frames import video as video_frames

FPS = Fraction(10)
SIZE = (160, 90)
RATE = 48_000
CLIP_TONE = 1000.0
VOICE_TONE = 300.0


def voice(folder: Path, name: str, seconds: float) -> str:
    write_tone_wav(folder / "audio" / name, seconds, freq=VOICE_TONE)
    return f"audio/{name}"


def render(folder: Path, segments: list[dict[str, Any]], **settings: Any
           ) -> storyreel.RenderResult:
    manifest = write_manifest(folder, segments, width=SIZE[0], height=SIZE[1], fps=10,
                              settings={**PLAIN_SETTINGS, "gap": 0.0, **settings})
    return storyreel.render(storyreel.load_project(manifest), folder / "out.mp4",
                            cache=False)


def lumas(path: Path) -> list[NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def rgbs(path: Path) -> list[NDArray[np.float32]]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.float32)
                for f in container.decode(video=0)]


def sound(path: Path) -> NDArray[np.float64]:
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1).mean(axis=0).astype(np.float64)


def tone_level(samples: NDArray[np.float64], freq: float) -> float:
    """The amplitude of ``freq`` in ``samples`` (a windowed single-bin DFT)."""
    n = samples.size
    window = np.hanning(n)
    phase = np.exp(-2j * math.pi * freq * np.arange(n) / RATE)
    return float(2 * abs(np.sum(samples * window * phase)) / np.sum(window))


def test_trim_and_every_fit_show_the_source_frames_they_should(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clips" / "count.mp4", frames=40, fps=FPS, size=SIZE,
                      sound_seconds=4.0, sound_freq=CLIP_TONE)
    trim = {"start": 1.0, "end": 2.0}  # source frames 10-19
    video = str(clip.relative_to(tmp_path))
    segments = [
        {"video": video, "audio": voice(tmp_path, "a.wav", 2.0), "clip": {**trim}},
        {"video": video, "audio": voice(tmp_path, "b.wav", 2.0),
         "clip": {**trim, "fit": "loop"}},
        {"video": video, "audio": voice(tmp_path, "c.wav", 2.0),
         "clip": {**trim, "fit": "speed"}},
        {"video": video, "audio": voice(tmp_path, "d.wav", 0.5),
         "clip": {**trim, "fit": "extend"}},
        {"video": video},  # an interlude: the whole clip, with its sound
        {"video": video, "audio": voice(tmp_path, "f.wav", 1.0)},  # cut at its end
    ]
    result = render(tmp_path, segments)
    shown = [read_counter(y) for y in lumas(result.path)]
    freeze = [*range(10, 20), *[19] * 10]
    loop = [*range(10, 20), *range(10, 20)]
    speed = [10 + n // 2 for n in range(20)]
    extend = list(range(10, 20))
    interlude = list(range(40))
    cut = list(range(10))
    assert shown == freeze + loop + speed + extend + interlude + cut

    audio = sound(result.path)
    second = RATE
    start = (20 + 20 + 20 + 10) * second // 10
    heard = tone_level(audio[start + second // 10 : start + 39 * second // 10], CLIP_TONE)
    assert heard > 0.1  # the interlude plays its clip's sound at 0 dB
    for first, last in ((0, 20), (20, 40), (40, 60), (110, 120)):  # narrated: muted
        window = audio[first * second // 10 + 2400 : last * second // 10 - 2400]
        assert tone_level(window, CLIP_TONE) < 0.003
        assert tone_level(window, VOICE_TONE) > 0.1  # ... and the narration plays there
    # extend: the 0.5 s narration starts with its segment's first frame (frame 60), then
    # the clip plays on without it
    speaking, after = audio[6 * second + 2400 : 6 * second + 21600], audio[
        6 * second + 26400 : 7 * second - 2400]
    assert tone_level(speaking, VOICE_TONE) > 0.1 > tone_level(after, VOICE_TONE) * 30
    loud = np.nonzero(np.abs(audio[6 * second : 7 * second]) > 0.05)[0]
    assert abs(loud.max() - second // 2) < 240  # it ends 0.5 s after that frame (5 ms)


def test_clip_sound_plays_under_the_narration_when_given_a_volume(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=20, fps=FPS, size=SIZE,
                      sound_seconds=2.0, sound_freq=CLIP_TONE)
    segments = [{"video": "clip.mp4", "audio": voice(tmp_path, "a.wav", 2.0),
                 "clip": {"volume": -6.0}}]
    audio = sound(render(tmp_path, segments).path)
    level = tone_level(audio[RATE // 2 : 3 * RATE // 2], CLIP_TONE)
    # -6 dB on a 0.3 tone, lowered while the voice speaks (ducked by 10 dB)
    assert 0.3 * 10 ** (-17 / 20) < level < 0.3 * 10 ** (-5 / 20)
    assert clip.exists()


def square(level: int) -> Any:
    return lambda _i: np.full((90, 90, 3), level, np.uint8)


@pytest.mark.parametrize("crop", ["cover", "contain", "blur"])
def test_crop_modes_fill_letterbox_or_blur_the_sides(tmp_path: Path, crop: str) -> None:
    write_clip(tmp_path / "square.mp4", frames=10, fps=FPS, size=(90, 90), draw=square(230))
    segments = [{"video": "square.mp4", "audio": voice(tmp_path, "a.wav", 1.0),
                 "clip": {"crop": crop}}]
    frame = rgbs(render(tmp_path, segments).path)[5]
    centre, side = frame[:, 40:120].mean(), frame[:, :30].mean()
    assert centre == pytest.approx(230, abs=4)
    if crop == "cover":
        assert side == pytest.approx(230, abs=4)
    elif crop == "contain":
        assert side < 3  # black bars
    else:  # the clip blurred and darkened behind itself
        assert 60 < side < 200
        assert frame[:, :10].std() < 12  # blurred: no edges in it


def test_a_push_in_scales_the_clip_up_over_the_segment(tmp_path: Path) -> None:
    write_clip(tmp_path / "square.mp4", frames=10, fps=FPS, size=(90, 90), draw=square(230))
    segments = [{"video": "square.mp4", "audio": voice(tmp_path, "a.wav", 2.0),
                 "clip": {"crop": "contain", "zoom": 1.5}}]
    frames = rgbs(render(tmp_path, segments).path)
    widths = [int((f[45, :, 0] > 115).sum()) for f in (frames[0], frames[-1])]
    assert widths[0] == pytest.approx(90, abs=2)
    assert widths[1] == pytest.approx(135, abs=4)


def test_a_title_card_shows_the_background_and_its_title(tmp_path: Path) -> None:
    segments = [{"title": "The End", "audio": voice(tmp_path, "a.wav", 1.0)},
                {"audio": voice(tmp_path, "b.wav", 1.0)}]
    frames = rgbs(render(tmp_path, segments, background="#2040A0").path)
    titled, plain = frames[5], frames[15]
    for frame in (titled, plain):
        assert frame[:8, :8].mean(axis=(0, 1)) == pytest.approx([32, 64, 160], abs=6)
    assert plain.std(axis=(0, 1)).max() < 2  # no title: the colour alone
    letters = titled.min(axis=2) > 200  # white, in the caption colour
    rows, columns = np.nonzero(letters.any(axis=1))[0], np.nonzero(letters.any(axis=0))[0]
    assert rows.max() - rows.min() >= 8  # large: capitals ~0.09 of the height
    assert abs((rows.min() + rows.max()) / 2 - 45) < 6  # centred
    assert abs((columns.min() + columns.max()) / 2 - 80) < 6


def test_a_crossfade_into_and_out_of_a_clip_blends_moving_frames(tmp_path: Path) -> None:
    write_solid(tmp_path / "black.png", SIZE, (0, 0, 0))
    write_clip(tmp_path / "count.mp4", frames=40, fps=FPS, size=SIZE)
    segments = [{"image": "black.png", "audio": voice(tmp_path, "a.wav", 1.0)},
                {"video": "count.mp4", "audio": voice(tmp_path, "b.wav", 1.5)},
                {"image": "black.png", "audio": voice(tmp_path, "c.wav", 1.0)}]
    result = render(tmp_path, segments, transitions={"crossfade": 0.5},
                    ken_burns={"direction": "none"})
    frames = lumas(result.path)
    # 1 s narration + 0.5 s pause holding the crossfade: the clip is seen from frame 10,
    # alone from frame 15 to 29, fading out under the last still from frame 30 to 34.
    assert len(frames) == 15 + 20 + 10
    # The clip plays from the first frame it is seen: its crossfade in shows frames 0-4.
    assert [read_counter(frames[f]) for f in range(15, 30)] == list(range(5, 20))
    fading_in = [frames[f].astype(np.float32) for f in range(10, 15)]
    fading_out = [frames[f].astype(np.float32) for f in range(30, 35)]
    for blend in (fading_in, fading_out):
        assert all(2 < b.max() < 250 for b in blend)  # partly black, partly the clip
    # moving: the clip keeps playing while it fades in and out (its counter, brought
    # back to full brightness, reads on)
    faded = [read_counter(b * (255 / b.max())) for b in fading_in[1:] + fading_out[:-1]]
    assert faded == [1, 2, 3, 4, 20, 21, 22, 23]
    assert frames[40].max() < 20  # the last still alone


def test_a_reused_part_never_opens_its_clip(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    write_solid(tmp_path / "still.png", SIZE, (200, 40, 40))
    write_clip(tmp_path / "count.mp4", frames=40, fps=FPS, size=SIZE)
    segments = [{"image": "still.png", "audio": voice(tmp_path, "a.wav", 1.5)},
                {"video": "count.mp4", "audio": voice(tmp_path, "b.wav", 1.5),
                 "clip": {"start": 0.5}},
                {"image": "still.png", "audio": voice(tmp_path, "c.wav", 1.5)}]
    settings = {**PLAIN_SETTINGS, "gap": 0.0}
    manifest = write_manifest(tmp_path, segments, width=SIZE[0], height=SIZE[1], fps=10,
                              settings=settings)
    opened: list[Path] = []
    real = video_frames.ClipReader

    def spy(path: Path, **options: Any) -> Any:
        opened.append(path)
        return real(path, **options)

    monkeypatch.setattr(video_frames, "ClipReader", spy)
    first = storyreel.render(storyreel.load_project(manifest), tmp_path / "a.mp4")
    assert (first.chunks_encoded, first.chunks_reused) == (3, 0) and opened
    opened.clear()
    again = storyreel.render(storyreel.load_project(manifest), tmp_path / "b.mp4")
    assert (again.chunks_encoded, again.chunks_reused) == (0, 3)
    assert opened == []
    shown = [read_counter(y) for y in lumas(again.path)[15:30]]
    assert shown == list(range(5, 20))

    for change in ({"start": 1.0}, {"start": 0.5, "fit": "loop"}, {"start": 0.5, "zoom": 1.2},
                   {"start": 0.5, "crop": "contain"}):
        segments[1]["clip"] = change
        write_manifest(tmp_path, segments, width=SIZE[0], height=SIZE[1], fps=10,
                       settings=settings)
        edited = storyreel.render(storyreel.load_project(manifest), tmp_path / "c.mp4")
        assert (edited.chunks_encoded, edited.chunks_reused) == (1, 2), change
    # the clip file's contents are in the key too, not only its name
    write_clip(tmp_path / "count.mp4", frames=40, fps=FPS, size=SIZE, draw=square(20))
    edited = storyreel.render(storyreel.load_project(manifest), tmp_path / "d.mp4")
    assert (edited.chunks_encoded, edited.chunks_reused) == (1, 2)


def test_a_project_made_of_text_alone_renders_as_cards(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [
        {"title": "Chapter one", "text": "The lighthouse stood alone."},
        {"text": "Its keeper climbed the steps."}],
        width=SIZE[0], height=SIZE[1], fps=10, settings={"preset": "ultrafast"})
    result = storyreel.render(storyreel.load_project(manifest), tmp_path / "out.mp4",
                              cache=False)
    assert result.synthesised == [0, 1]
    frames = rgbs(result.path)
    assert len(frames) == result.frames > 20
    assert all(f[:8, :8].max() < 8 for f in frames)  # the default background: black
    spoken = sound(result.path)
    assert np.sqrt(np.mean(spoken**2)) > 0.02  # narrated by the built-in voice


def test_a_render_cancelled_inside_a_clip_leaves_no_thread_file_or_output(
        tmp_path: Path) -> None:
    write_clip(tmp_path / "count.mp4", frames=20, fps=FPS, size=SIZE, sound_seconds=2.0,
               sound_freq=CLIP_TONE)
    clip = {"fit": "loop", "volume": -6, "crop": "blur"}
    out = tmp_path / "out"
    warm = render(tmp_path, [{"video": "count.mp4", "audio": voice(tmp_path, "a.wav", 1.0),
                              "clip": clip}])  # loads what a render loads once
    warm.path.rename(tmp_path / "warm-up.mp4")
    manifest = write_manifest(tmp_path, [{"video": "count.mp4", "clip": clip,
                                          "audio": voice(tmp_path, "long.wav", 20.0)}],
                              width=SIZE[0], height=SIZE[1], fps=10,
                              settings={**PLAIN_SETTINGS, "gap": 0.0})
    threads, fds = threading.active_count(), len(os.listdir("/proc/self/fd"))
    cancel = threading.Event()

    def on_progress(progress: storyreel.Progress) -> None:
        if progress.phase == "export" and progress.done > 20:
            cancel.set()

    with pytest.raises(storyreel.RenderCancelled):
        storyreel.render(storyreel.load_project(manifest), out / "cancelled.mp4",
                         on_progress=on_progress, cancel=cancel, cache=False)
    assert threading.active_count() == threads, threading.enumerate()
    assert len(os.listdir("/proc/self/fd")) == fds
    assert not out.exists() or list(out.iterdir()) == []


def test_an_upright_phone_clip_with_a_unicode_name_shows_upright(tmp_path: Path) -> None:
    # Stored landscape with a 90-degree rotation, as phones write it; 90x158 upright.
    name = "港 ñoño clip.mp4"
    write_clip(tmp_path / name, frames=12, fps=FPS, size=(90, 158), rotation=90)
    segments = [{"video": name, "audio": voice(tmp_path, "a.wav", 1.0),
                 "clip": {"crop": "blur"}, "title": "ignored: the segment has a video"}]
    manifest = write_manifest(tmp_path, segments, width=320, height=180, fps=10,
                              settings={**PLAIN_SETTINGS, "gap": 0.0})
    result = storyreel.render(storyreel.load_project(manifest), tmp_path / "out.mp4",
                              cache=False)
    frames = lumas(result.path)
    # contained: 180 px high, 102 px wide (90/158 of it, even), centred
    assert [read_counter(f[:, 112:208]) for f in frames] == list(range(10))  # then cut
    sides = frames[5][:, :100].astype(np.float32)
    assert 20 < sides.mean() < 150 and sides.std() < 40  # blurred and darkened, not black


def test_captions_and_the_logo_are_drawn_over_a_clip_as_over_a_still(tmp_path: Path) -> None:
    write_clip(tmp_path / "dark.mp4", frames=10, fps=FPS, size=SIZE, draw=lambda _i: np.full(
        (SIZE[1], SIZE[0], 3), 30, np.uint8))
    write_solid(tmp_path / "logo.png", (40, 40), (230, 20, 20))
    segments = [{"video": "dark.mp4", "audio": voice(tmp_path, "a.wav", 1.0),
                 "text": "Boats at dawn."}]
    frame = rgbs(render(tmp_path, segments, subtitles={"enabled": True},
                        logo={"path": "logo.png", "corner": "top-right", "scale": 0.1})
                 .path)[5]
    red = (frame[:, :, 0] > 150) & (frame[:, :, 1] < 90)
    rows, columns = np.nonzero(red)
    assert rows.max() < 45 and columns.min() > 80  # the logo, top right
    white = np.nonzero(frame.min(axis=2) > 200)[0]
    assert white.size > 20 and white.min() > 45  # the caption, in the lower half
