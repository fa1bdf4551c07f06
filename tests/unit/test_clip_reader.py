"""Clips read right: which source frame is on screen at a clip time, whatever the file.

Every test clip carries a frame counter (big black and white blocks, see
``media.counter_image``), so a test reads back *which* frame it was given from the
picture itself, not from the reader's own bookkeeping.
"""

from __future__ import annotations

import logging
import math
import threading
import tracemalloc
import weakref
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil
import pytest
from numpy.typing import NDArray
from PIL import Image

from media import (
    counter_image,
    read_counter,
    write_clip,
    write_edit_list_clip,
    write_image,
    write_interleaved_clip,
    write_sound_clip,
)
from storyreel import MediaError
from storyreel.audio.fades import FadeDirection, apply_fade
from storyreel.audio.soundtrack import FadedStream
from storyreel.frames.video import VideoPicture
from storyreel.media import clip as clip_module
from storyreel.media.clip import (
    ClipInfo,
    ClipReader,
    ClipSound,
    clip_sound,
    probe_clip,
)
from storyreel.media.clipread import ClipFrame, nominal, tone_map
from storyreel.media.image import RGB_TO_YUV709, Planes
from storyreel.model.visual import ClipOptions, Video
from storyreel.timeline.story import ClipFacts

FPS = Fraction(30)


def shown(reader: ClipReader, t: Fraction, size: tuple[int, int] = (160, 90)) -> int:
    """The counter of the frame ``reader`` shows at ``t``, read from its picture."""
    return read_counter(reader.frame_at(t).planes(*size).y)


def clip_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("clip-")]


# -- every codec the wheel writes -------------------------------------------------------

CODECS = [
    ("libx264", "mp4", "yuv420p", {"bf": "3"}),  # B-frames: display order is not decode order
    ("libx264", "mkv", "yuv420p", {"bf": "3"}),  # the same without an edit list
    ("libx265", "mp4", "yuv420p", {"x265-params": "log-level=error:bframes=3"}),
    ("mpeg4", "avi", "yuv420p", {"qscale": "2", "bf": "2"}),
    ("libvpx-vp9", "webm", "yuv420p", {}),
    ("libvpx", "webm", "yuv420p", {}),
    ("prores_ks", "mov", "yuv422p10le", {}),
    ("mjpeg", "avi", "yuvj420p", {}),  # full range
    ("mpeg2video", "ts", "yuv420p", {"bf": "2"}),  # MPEG-TS starts its clock at 1.4 s
    ("ffv1", "mkv", "yuv420p", {}),
    ("libsvtav1", "mkv", "yuv420p", {"preset": "12"}),
]


@pytest.mark.parametrize(("codec", "ext", "pix_fmt", "options"), CODECS,
                         ids=[f"{c[0]}-{c[1]}" for c in CODECS])
def test_each_codec_shows_the_right_frame_at_each_time(
        tmp_path: Path, codec: str, ext: str, pix_fmt: str, options: dict[str, str]) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"PyAV's FFmpeg cannot write {codec}")
    path = write_clip(tmp_path / f"clip.{ext}", codec=codec, pix_fmt=pix_fmt, options=options,
                      frames=24)
    info = probe_clip(path, check_frames=True)
    assert info.duration == Fraction(24) / FPS
    assert info.fps == FPS
    assert (info.width, info.height) == (160, 90)
    assert info.rotation == 0 and info.hdr is None and not info.interlaced
    with ClipReader(path) as reader:
        for k in range(24):
            at = reader.frame_at(Fraction(k) / FPS)
            assert (at.index, at.time) == (k, Fraction(k) / FPS)
            assert read_counter(at.planes(160, 90).y) == k
            # Halfway to the next frame, the frame is still on screen.
            assert shown(reader, (k + Fraction(1, 2)) / FPS) == k
        assert shown(reader, Fraction(100)) == 23  # after the end: the last frame


# -- exact time ----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(25), Fraction(50),
                                 Fraction(60000, 1001), Fraction(60)], ids=str)
def test_each_rate_lands_on_a_30_fps_output_grid_as_computed(tmp_path: Path, ext: str,
                                                             fps: Fraction) -> None:
    frames = int(fps)  # about a second
    path = write_clip(tmp_path / f"clip.{ext}", frames=frames, fps=fps)
    assert probe_clip(path).duration == frames / fps
    with ClipReader(path) as reader:
        for n in range(30):
            t = Fraction(n, 30)
            expected = min(frames - 1, math.floor(t * fps))  # latest frame not after t
            assert shown(reader, t) == expected, (n, t)


def test_measured_rates_near_a_standard_rate_are_that_rate() -> None:
    assert nominal(Fraction(19001, 317)) == Fraction(60000, 1001)  # from Matroska's ms
    assert nominal(Fraction(2997, 100)) == Fraction(30000, 1001)
    assert nominal(Fraction(30)) == 30 and nominal(Fraction(30000, 1001)) != 30
    assert nominal(Fraction(160000, 6311)) == Fraction(160000, 6311)  # variable: as measured


def test_variable_frame_rate_maps_each_timestamp_exactly(tmp_path: Path) -> None:
    # Off any 30 fps grid by more than a millisecond, but for 100 and 400 (on it).
    ms = [0, 37, 50, 100, 183, 210, 240, 290, 291, 400, 705, 710, 725, 1010]
    path = write_clip(tmp_path / "vfr.mp4", frames=len(ms), pts=ms,
                      time_base=Fraction(1, 1000))
    times = [Fraction(t, 1000) for t in ms]
    with ClipReader(path) as reader:
        for k, time in enumerate(times):
            if k:  # a tick before a frame, the one before it is still shown
                assert shown(reader, time - Fraction(1, 1000)) == k - 1
            frame = reader.frame_at(time)
            assert (frame.time, frame.index) == (time, k)
            assert read_counter(frame.planes(160, 90).y) == k


def test_millisecond_stamps_are_put_on_the_frame_grid_without_merging_frames(
        tmp_path: Path) -> None:
    # 33 ms is 30 fps frame 1 rounded; 34 ms is a frame of its own just after it.
    path = write_clip(tmp_path / "ms.mkv", frames=4, pts=[0, 33, 34, 67],
                      time_base=Fraction(1, 1000), container="matroska")
    with ClipReader(path) as reader:
        assert reader.frame_at(Fraction(1, 30)).time == Fraction(1, 30)
        assert shown(reader, Fraction(1, 30)) == 1
        assert reader.frame_at(Fraction(34, 1000)).time == Fraction(34, 1000)
        assert shown(reader, Fraction(34, 1000)) == 2
        assert shown(reader, Fraction(2, 30)) == 3


def test_a_clip_whose_timestamps_start_late_starts_at_zero(tmp_path: Path) -> None:
    # The first frame is stamped 0.5 s (as cut from a longer recording).
    path = write_clip(tmp_path / "late.mkv", frames=15, pts=[15 + i for i in range(15)],
                      container="matroska")
    with av.open(str(path)) as container:
        assert container.streams.video[0].start_time != 0
    assert probe_clip(path).duration == Fraction(15) / FPS
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k) / FPS) for k in range(15)] == list(range(15))


def test_an_edit_list_hides_the_frames_it_cuts(tmp_path: Path) -> None:
    path = write_edit_list_clip(tmp_path / "cut.mp4", frames=30, hidden=10)
    with av.open(str(path)) as container:  # the cut frames are in the file, marked
        assert sum(p.is_discard for p in container.demux(video=0) if p.size) == 10
    assert probe_clip(path, check_frames=True).duration == Fraction(20) / FPS
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k) / FPS) for k in range(20)] == list(range(10, 30))
        assert shown(reader, Fraction(1)) == 29


def test_a_late_start_in_mp4_is_an_edit_list_too(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "late.mp4", frames=15, pts=[15 + i for i in range(15)])
    assert probe_clip(path).duration == Fraction(15) / FPS
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k) / FPS) for k in range(15)] == list(range(15))


def test_frames_without_timestamps_follow_each_other(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "raw.h264", frames=12, container="h264")
    assert probe_clip(path, check_frames=True).duration == Fraction(12) / FPS
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k) / FPS) for k in range(12)] == list(range(12))


# -- trims, loops, seeks -------------------------------------------------------------------


def test_a_trim_holds_its_first_and_last_frames(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", frames=30)
    with ClipReader(path, start=Fraction(1, 2), end=Fraction(9, 10)) as reader:
        assert shown(reader, Fraction(0)) == 15  # before the start: the start
        assert shown(reader, Fraction(2, 3)) == 20
        # 0.9 s is frame 27's time: the trim's last frame is 26 from then on.
        assert shown(reader, Fraction(9, 10) - Fraction(1, 1000)) == 26
        assert shown(reader, Fraction(9, 10)) == 26
        assert shown(reader, Fraction(5)) == 26


def test_loops_seek_back_and_continue(tmp_path: Path) -> None:
    # A keyframe every 10 frames, so going back is a seek, not a restart.
    path = write_clip(tmp_path / "loop.mp4", frames=90, options={"g": "10", "bf": "2"})
    start, end = Fraction(1), Fraction(2)
    with ClipReader(path, start=start, end=end) as reader:
        for _lap in range(3):
            seen = [shown(reader, start + Fraction(k) / FPS) for k in range(30)]
            assert seen == list(range(30, 60))
        assert reader.frame_at(start + Fraction(7) / FPS).index == 37
        assert shown(reader, Fraction(0)) == 30  # a loop from the very start


def test_a_trim_deep_into_a_clip_starts_there(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "deep.mp4", frames=90, options={"g": "12", "bf": "3"})
    with ClipReader(path, start=Fraction(5, 2)) as reader:
        frame = reader.frame_at(Fraction(5, 2))
        assert read_counter(frame.planes(160, 90).y) == 75
        assert frame.index == 75
        assert [shown(reader, Fraction(5, 2) + Fraction(k) / FPS) for k in range(15)] == \
            list(range(75, 90))


def test_a_trim_must_be_in_order(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", frames=6)
    with pytest.raises(ValueError, match="trim"):
        ClipReader(path, start=Fraction(1), end=Fraction(1, 2))


# -- the picture, normalised ---------------------------------------------------------------


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_phone_footage_is_shown_upright(tmp_path: Path, rotation: int) -> None:
    upright = (90, 160) if rotation in (90, 270) else (160, 90)
    path = write_clip(tmp_path / "phone.mp4", frames=8, size=upright, rotation=rotation)
    with av.open(str(path)) as container:  # stored sideways, as a phone does
        stored = container.streams.video[0].codec_context
        assert (stored.width, stored.height) == ((160, 90) if rotation != 180 else upright)
    info = probe_clip(path)
    assert (info.rotation, info.width, info.height) == (rotation, *upright)
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k) / FPS, upright) for k in range(8)] == list(range(8))


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_mirrored_display_matrix_is_shown_mirrored(tmp_path: Path, rotation: int) -> None:
    # FFmpeg reads a matrix that only mirrors as a half turn: turning it would show the
    # picture upside down.
    upright = (90, 160) if rotation in (90, 270) else (160, 90)
    path = write_clip(tmp_path / "selfie.mp4", frames=6, size=upright, rotation=rotation,
                      mirror=True)
    info = probe_clip(path)
    assert (info.rotation, info.mirrored, info.width, info.height) == (rotation, True, *upright)
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k) / FPS, upright) for k in range(6)] == list(range(6))


def test_non_square_pixels_are_shown_at_their_display_width(tmp_path: Path) -> None:
    # Stored 120 pixels wide, each 4/3 as wide as tall: shown 160 wide.
    path = write_clip(tmp_path / "anamorphic.mp4", frames=6, sar=Fraction(4, 3))
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.width == 120
    info = probe_clip(path)
    assert (info.width, info.height) == (160, 90)
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k) / FPS) for k in range(6)] == list(range(6))


def test_pal_dv_is_interlaced_with_wide_pixels(tmp_path: Path) -> None:
    if "dvvideo" not in av.codecs_available:
        pytest.skip("PyAV's FFmpeg cannot write DV")
    path = write_clip(tmp_path / "tape.avi", frames=6, codec="dvvideo", size=(720, 576),
                      fps=Fraction(25))
    info = probe_clip(path, check_frames=True)
    assert (info.width, info.height, info.interlaced) == (768, 576, True)  # 720 x 16/15
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k, 25), (768, 576)) for k in range(6)] == list(range(6))


def test_an_animated_gif_plays_at_its_frame_delays(tmp_path: Path) -> None:
    frames = [Image.fromarray(counter_image(k, (160, 90))) for k in range(6)]
    path = tmp_path / "loop.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[100, 100, 300,
                                                                            100, 100, 100])
    assert probe_clip(path, check_frames=True).duration == Fraction(8, 10)
    with ClipReader(path) as reader:
        seen = [shown(reader, Fraction(k, 10)) for k in range(8)]
    assert seen == [0, 1, 2, 2, 2, 3, 4, 5]


def _moving_bar(i: int) -> NDArray[np.uint8]:
    """A bar moving right, caught by an interlaced camera: its two fields disagree."""
    image = np.zeros((96, 160, 3), np.uint8)
    x = 20 + 16 * i
    image[0::2, x:x + 40] = 255  # top field
    image[1::2, x + 8:x + 48] = 255  # bottom field, half a frame later
    return image


def _combing(luma: NDArray[np.uint8], x: int) -> float:
    """Mean difference between neighbouring lines in the 8 columns from ``x``."""
    return float(np.abs(np.diff(luma[8:88, x:x + 8].astype(int), axis=0)).mean())


INTERLACED = {
    "h264": ("mp4", "libx264", None,
             {"flags": "+ildct+ilme", "x264-params": "interlaced=1:tff=1:crf=4"}),
    "mpeg2": ("mpg", "mpeg2video", "mpeg", {"flags": "+ildct+ilme", "top": "1", "qscale": "2"}),
}


@pytest.mark.parametrize("kind", list(INTERLACED))
def test_interlaced_footage_is_deinterlaced(tmp_path: Path, kind: str) -> None:
    ext, codec, muxer, options = INTERLACED[kind]
    path = write_clip(tmp_path / f"tv.{ext}", frames=6, size=(160, 96), options=options,
                      codec=codec, container=muxer, draw=_moving_bar)
    assert probe_clip(path).interlaced
    with av.open(str(path)) as container:  # as stored: combed edges
        raw = [f.to_ndarray(format="gray") for f in container.decode(video=0)][3]
    assert _combing(raw, 68) > 200 and _combing(raw, 108) > 200
    with ClipReader(path) as reader:
        luma = reader.frame_at(Fraction(3) / FPS).planes(160, 96).y
    assert _combing(luma, 68) < 20 and _combing(luma, 108) < 20
    # The counter survives deinterlacing too.
    counted = write_clip(tmp_path / f"tv-counter.{ext}", frames=8, size=(160, 96),
                         options=options, codec=codec, container=muxer)
    with ClipReader(counted) as reader:
        assert [shown(reader, Fraction(k) / FPS, (160, 96)) for k in range(8)] == list(range(8))


def test_ten_bit_footage_keeps_its_levels(tmp_path: Path) -> None:
    grey = 150
    path = write_clip(tmp_path / "10bit.mp4", frames=4, pix_fmt="yuv420p10le",
                      draw=lambda i: np.full((90, 160, 3), grey, np.uint8))
    with ClipReader(path) as reader:
        luma = reader.frame_at(Fraction(0)).planes(160, 90).y
    expected = 16 + 219 * grey / 255  # BT.709 limited range
    assert abs(float(luma.mean()) - expected) < 3
    counted = write_clip(tmp_path / "10bit-counter.mp4", frames=6, pix_fmt="yuv420p10le")
    with ClipReader(counted) as reader:
        assert [shown(reader, Fraction(k) / FPS) for k in range(6)] == list(range(6))


def _sdr_luma_of_reference_white() -> float:
    """Where HDR's reference white (203 nits) lands, computed here from the curves' formulas.

    Light 1.0 (reference white) on the extended Reinhard curve with white at 1000 nits,
    then BT.1886's 2.4 gamma and limited range.
    """
    peak = 1000 / 203
    mapped = 1.0 * (1 + 1.0 / peak**2) / (1 + 1.0)
    return 16 + 219 * mapped ** (1 / 2.4)


@pytest.mark.parametrize(("hdr", "trc", "white"), [("pq", 16, 0.5807), ("hlg", 18, 0.75)])
def test_hdr_footage_is_tone_mapped_to_sdr_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, hdr: str, trc: int,
        white: float) -> None:
    # A flat frame at the signal level of HDR reference white (BT.2408: PQ 58 %, HLG 75 %).
    level = round(white * 255)
    path = write_clip(tmp_path / f"{hdr}.mp4", frames=4, pix_fmt="yuv420p10le",
                      colour_trc=trc, colour_primaries=9, colourspace=9,
                      draw=lambda i: np.full((90, 160, 3), level, np.uint8))
    assert probe_clip(path).hdr == hdr
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            with ClipReader(path) as reader:
                luma = reader.frame_at(Fraction(0)).planes(160, 90).y
    warnings = [r for r in caplog.records if "tone map" in r.getMessage()]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    # Naively shown, the signal would sit at 16 + 219 * white; tone-mapped it is white-ish.
    assert abs(float(luma.mean()) - _sdr_luma_of_reference_white()) < 4


def test_the_tone_map_keeps_black_and_orders_levels() -> None:
    signal = np.linspace(0, 65535, 256).astype(np.uint16)[None, :, None].repeat(3, axis=2)
    for hdr in ("pq", "hlg"):
        out = tone_map(signal, hdr)  # type: ignore[arg-type]
        assert out.dtype == np.uint8 and out.shape == signal.shape
        assert out[0, 0].max() == 0 and out[0, -1].min() >= 250
        assert np.all(np.diff(out[0, :, 1].astype(int)) >= 0)


def _half_transparent(i: int) -> NDArray[np.uint8]:
    rgba = np.zeros((90, 160, 4), np.uint8)
    rgba[..., :3] = counter_image(i, (160, 90))
    rgba[..., 3] = 255
    rgba[:, :, 3][:, 0:8] = 0  # a white column, fully transparent
    rgba[:, 0:8, :3] = 255
    rgba[:, 152:160, :3] = 255  # a white column at half opacity
    rgba[:, 152:160, 3] = 128
    return rgba


@pytest.mark.parametrize(("codec", "pix_fmt"), [("png", "rgba"), ("qtrle", "argb"),
                                               ("prores_ks", "yuva444p10le"),
                                               ("libvpx-vp9", "yuva420p")])
def test_alpha_is_composited_over_black(tmp_path: Path, codec: str, pix_fmt: str) -> None:
    ext = "webm" if codec.startswith("libvpx") else "mov"
    path = write_clip(tmp_path / f"alpha.{ext}", frames=4, codec=codec, pix_fmt=pix_fmt,
                      draw=_half_transparent)
    assert probe_clip(path).alpha
    with ClipReader(path) as reader:
        for k in range(4):
            luma = reader.frame_at(Fraction(k) / FPS).planes(160, 90).y
            assert read_counter(luma) == k
            assert abs(float(luma[:, 1:6].mean()) - 16) < 3
            assert abs(float(luma[:, 154:158].mean()) - (16 + 219 * 128 / 255)) < 4


def test_odd_sized_footage_under_a_unicode_name(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "Zürich — 港 🎞.mkv", frames=5, codec="ffv1",
                      pix_fmt="yuv444p", size=(161, 91))
    info = probe_clip(path, check_frames=True)
    assert (info.width, info.height) == (161, 91)
    with ClipReader(path) as reader:
        assert [shown(reader, Fraction(k) / FPS) for k in range(5)] == list(range(5))
        assert reader.frame_at(Fraction(0)).planes(2, 2).size == (2, 2)


def _colour_bars(i: int) -> NDArray[np.uint8]:
    image = np.zeros((90, 160, 3), np.uint8)
    for k, colour in enumerate(BARS):
        image[:, k * 20:(k + 1) * 20] = colour
    return image


BARS = [(220, 40, 40), (40, 200, 60), (40, 70, 220), (230, 210, 40), (200, 50, 200),
        (40, 200, 210), (240, 140, 30), (120, 120, 120)]


def _planes_to_rgb(y: NDArray[np.uint8], u: NDArray[np.uint8],
                   v: NDArray[np.uint8]) -> NDArray[np.float64]:
    """BT.709 limited-range planes back to RGB, by inverting the engine's own matrix."""
    up = [np.repeat(np.repeat(c.astype(np.float64), 2, axis=0), 2, axis=1) for c in (u, v)]
    yuv = np.stack([y.astype(np.float64), *up], axis=-1) - RGB_TO_YUV709[:, 3]
    return np.asarray(yuv @ np.linalg.inv(RGB_TO_YUV709[:, :3].astype(np.float64)).T)


@pytest.mark.parametrize(("codec", "pix_fmt", "ext"), [
    ("libx264", "yuv420p", "mp4"), ("libx264", "yuv420p10le", "mp4"),
    ("mjpeg", "yuvj420p", "avi"), ("ffv1", "bgr0", "mkv"), ("libx264", "yuv444p", "mkv")])
def test_colours_come_through_as_they_were_drawn(tmp_path: Path, codec: str, pix_fmt: str,
                                                 ext: str) -> None:
    path = write_clip(tmp_path / f"bars.{ext}", frames=2, codec=codec, pix_fmt=pix_fmt,
                      draw=_colour_bars, options={"crf": "10"} if codec == "libx264" else {})
    with ClipReader(path) as reader:
        rgb = _planes_to_rgb(*astuple_planes(reader.frame_at(Fraction(0)).planes(160, 90)))
    for k, colour in enumerate(BARS):
        got = rgb[20:70, k * 20 + 5:(k + 1) * 20 - 5].reshape(-1, 3).mean(axis=0)
        assert np.abs(got - colour).max() < 10, (k, got, colour)


def astuple_planes(planes: Planes) -> tuple[NDArray[np.uint8], NDArray[np.uint8],
                                            NDArray[np.uint8]]:
    return planes.y, planes.u, planes.v


def test_planes_are_the_asked_size_and_kept(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", frames=3)
    with ClipReader(path) as reader:
        frame = reader.frame_at(Fraction(0))
        planes = frame.planes(320, 180)
        assert planes.size == (320, 180) and planes.u.shape == planes.v.shape == (90, 160)
        assert frame.planes(320, 180) is planes
        assert read_counter(frame.planes(64, 36).y) == 0
        assert frame.planes(320, 180) is planes  # two sizes in turn: both kept
        with pytest.raises(ValueError, match="even"):
            frame.planes(63, 36)


def test_frames_prepared_on_the_decode_thread_are_the_same(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", frames=10)
    with ClipReader(path, size=(96, 54)) as ahead, ClipReader(path) as plain:
        for k in range(10):
            t = Fraction(k) / FPS
            assert np.array_equal(ahead.frame_at(t).planes(96, 54).y,
                                  plain.frame_at(t).planes(96, 54).y)


# -- the decode thread ----------------------------------------------------------------------


def test_the_decode_thread_is_gone_after_close(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", frames=60)
    before = clip_threads()
    reader = ClipReader(path, read_ahead=2)
    reader.frame_at(Fraction(0))  # the thread is now blocked on a full queue
    assert reader.decoding
    reader.close()
    reader.close()
    assert not reader.decoding and clip_threads() == before
    with pytest.raises(RuntimeError, match="closed"):
        reader.frame_at(Fraction(0))


def test_the_decode_thread_is_gone_after_an_exception(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", frames=60)
    before = clip_threads()
    with pytest.raises(KeyError), ClipReader(path, read_ahead=2) as reader:
        reader.frame_at(Fraction(1, 2))
        raise KeyError("the caller failed mid-way")
    assert clip_threads() == before


def test_a_decode_error_names_the_file_and_stops_the_thread(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.avi", frames=30, codec="mjpeg", pix_fmt="yuvj420p")
    data = bytearray(path.read_bytes())
    for k in range(len(data) // 3, len(data) // 3 + 4000, 7):
        data[k] = 0xFF  # scribbled over a few frames
    path.write_bytes(bytes(data))
    before = clip_threads()
    with ClipReader(path) as reader, pytest.raises(MediaError) as caught:
        for k in range(30):
            reader.frame_at(Fraction(k) / FPS)
    assert str(path) in str(caught.value) and "decode" in str(caught.value)
    assert clip_threads() == before


def test_reading_a_long_clip_holds_a_bounded_number_of_frames(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_clip(tmp_path / "long.mp4", frames=400, options={"g": "30"})
    alive = [0]  # frames made and not yet freed
    made = ClipFrame.__init__

    def freed() -> None:
        alive[0] -= 1

    def tracked(self: ClipFrame, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        alive[0] += 1
        weakref.finalize(self, freed)

    monkeypatch.setattr(ClipFrame, "__init__", tracked)
    most = 0
    with ClipReader(path, read_ahead=4) as reader:
        for k in range(400):
            assert shown(reader, Fraction(k) / FPS) == k
            most = max(most, alive[0])  # frames in garbage cycles count too
    assert alive[0] <= 1  # at most the frame still named by ``shown``
    # The queue, the frame being decoded, the current and next frames: never the clip.
    assert 2 <= most <= 4 + 4


def test_reading_a_long_clip_through_does_not_grow_memory(tmp_path: Path) -> None:
    # Twenty seconds of 320x180: about 100 MB if decoded frames and their planes were kept.
    noise = np.random.default_rng(0).integers(0, 255, (180, 320, 3), dtype=np.uint8)
    path = write_clip(tmp_path / "long.mp4", frames=600, size=(320, 180),
                      options={"preset": "ultrafast", "g": "30"},
                      draw=lambda i: np.roll(noise, 2 * i, axis=1))
    process = psutil.Process()
    with ClipReader(path) as reader:
        for k in range(600):
            reader.frame_at(Fraction(k) / FPS).planes(320, 180)
            if k == 60:
                early = process.memory_info().rss
        late = process.memory_info().rss
    assert late - early < 16_000_000


# -- probing -------------------------------------------------------------------------------


def test_probe_describes_a_clip(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", frames=45, fps=Fraction(30000, 1001),
                      sound_seconds=1.5)
    info = probe_clip(path, check_frames=True)
    assert info == ClipInfo(
        duration=Fraction(45 * 1001, 30000), fps=Fraction(30000, 1001), width=160, height=90,
        has_audio=True, audio_duration=info.audio_duration, codec="h264", rotation=0,
        hdr=None, interlaced=False, alpha=False, format="mov")
    assert info.audio_duration is not None and abs(info.audio_duration - Fraction(3, 2)) < 0.05


def _write_text(path: Path) -> Path:
    path.write_text("this is not a video, it only says it is\n" * 20, encoding="utf-8")
    return path


def _write_truncated(path: Path) -> Path:
    write_clip(path, frames=60, container_options={"movflags": "faststart"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    return path


def _write_sound_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48_000)
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp",
                                           layout="stereo")
        frame.sample_rate, frame.pts = 48_000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def _write_unknown_codec(path: Path) -> Path:
    data = write_clip(path.with_suffix(".mov"), frames=4, codec="qtrle",
                      pix_fmt="rgb24").read_bytes()
    assert data.count(b"rle ") == 1
    path.write_bytes(data.replace(b"rle ", b"zzzz"))  # a FourCC nothing decodes
    return path


def _write_over_8k(path: Path) -> Path:
    return write_clip(path, frames=2, size=(7696, 16), codec="mpeg4")


def _write_still(path: Path) -> Path:
    write_image(path.with_suffix(".png"), (64, 48), "rgb").rename(path)
    return path


BAD = {
    "missing": (lambda p: p, "not found"),
    "empty": (lambda p: (p.write_bytes(b""), p)[1], "empty"),
    "text named .mp4": (_write_text, "corrupt or not a supported video"),
    "truncated": (_write_truncated, "truncated"),
    "no video stream": (_write_sound_only, "no video stream"),
    "unknown codec": (_write_unknown_codec, "codec is not supported"),
    "over 8K": (_write_over_8k, "larger than 8K"),
    "a still": (_write_still, "still image"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_probe_refuses_bad_clips_in_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    make, words = BAD[case]
    path = make(tmp_path / "clip.mp4")
    with pytest.raises(MediaError) as caught:
        probe_clip(path, check_frames=True)
    message = str(caught.value)
    assert words in message and str(path) in message and "\n" not in message
    if case not in ("truncated", "a still"):  # the reader shows what there is of those
        with pytest.raises(MediaError):
            ClipReader(path).close()


def test_an_unknown_codec_is_named_in_one_line(tmp_path: Path) -> None:
    path = _write_unknown_codec(tmp_path / "clip.mp4")
    for attempt in (lambda: probe_clip(path), lambda: ClipReader(path).close()):
        with pytest.raises(MediaError) as caught:
            attempt()
        message = str(caught.value)
        assert "codec is not supported (“zzzz”)" in message, message
        assert str(path) in message and "\n" not in message and "NoneType" not in message


@pytest.mark.parametrize("seed", range(8))
def test_scrambled_clips_fail_cleanly_or_play(tmp_path: Path, seed: int) -> None:
    """Bytes scribbled anywhere: a MediaError naming the file, or frames; nothing else."""
    rng = np.random.default_rng(seed)
    path = write_clip(tmp_path / "clip.mp4", frames=20, options={"g": "5"},
                      sound_seconds=0.7 if seed % 2 else None)
    data = bytearray(path.read_bytes())
    start = int(rng.integers(0, len(data) - 64))
    data[start:start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    before = clip_threads()
    try:
        probe_clip(path, check_frames=True)
    except MediaError as exc:
        assert str(path) in str(exc)
    try:
        with ClipReader(path, read_ahead=2) as reader:
            for k in range(25):
                reader.frame_at(Fraction(k) / FPS).planes(32, 18)
        clip_sound(path, Fraction(1, 10), 4_800)
    except MediaError as exc:
        assert str(path) in str(exc)
    assert clip_threads() == before


def test_probe_refuses_a_clip_over_the_length_limit(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_clip(tmp_path / "clip.mp4", frames=30)
    monkeypatch.setattr(clip_module, "MAX_CLIP_SECONDS", Fraction(1, 2))
    with pytest.raises(MediaError, match="longer than"):
        probe_clip(path)


# -- sound ----------------------------------------------------------------------------------


def _onset(samples: NDArray[np.float32]) -> int:
    loud = np.flatnonzero(np.abs(samples[0]) > 0.05)
    return int(loud[0]) if loud.size else -1


def test_clip_sound_is_the_range_asked_for_in_sync(tmp_path: Path) -> None:
    path = write_sound_clip(tmp_path / "clip.mov", onset=1.0, seconds=2.0, frames=60)
    whole = clip_sound(path, Fraction(0), 96_000)
    assert whole.shape == (2, 96_000) and whole.dtype == np.float32
    assert abs(_onset(whole) - 48_000) <= 48  # within a millisecond
    # The mono tone (amplitude 0.5) plays at its own level on both speakers.
    assert np.abs(whole[:, 60_000:90_000]).max(axis=1) == pytest.approx([0.5, 0.5], abs=0.01)
    later = clip_sound(path, Fraction(3, 4), 48_000)
    assert abs(_onset(later) - 12_000) <= 48
    assert np.allclose(later[:, 12_100:40_000], whole[:, 48_100:76_000], atol=1e-3)
    quieter = clip_sound(path, Fraction(3, 4), 48_000, gain_db=-6.0)
    assert np.allclose(quieter, later * 10 ** (-6 / 20), atol=1e-6)


@pytest.mark.parametrize(("container", "codec"), [("mpegts", "mp2"), ("mp4", "aac"),
                                                  ("matroska", "libopus")])
def test_clip_sound_keeps_sync_whatever_the_streams_start_times(
        tmp_path: Path, container: str, codec: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"PyAV's FFmpeg cannot write {codec}")
    path = write_interleaved_clip(tmp_path / "clip.bin", container=container,
                                  audio_codec=codec, onset=1.0)
    with ClipReader(path) as reader:  # the picture's clock is the sound's
        assert shown(reader, Fraction(1)) == 30
    # Within 2 ms: Matroska stamps a sound's packets to the millisecond.
    assert abs(_onset(clip_sound(path, Fraction(0), 96_000)) - 48_000) <= 96
    assert abs(_onset(clip_sound(path, Fraction(1, 2), 48_000)) - 24_000) <= 96


def test_sound_that_starts_after_the_picture_is_preceded_by_silence(tmp_path: Path) -> None:
    path = write_sound_clip(tmp_path / "clip.mov", onset=0.0, seconds=1.0, frames=45,
                            delay=24_000)
    assert abs(_onset(clip_sound(path, Fraction(0), 48_000)) - 24_000) <= 48
    assert abs(_onset(clip_sound(path, Fraction(1, 4), 48_000)) - 12_000) <= 48
    assert _onset(clip_sound(path, Fraction(1), 24_000)) <= 48


def test_clip_sound_is_padded_with_silence(tmp_path: Path) -> None:
    path = write_sound_clip(tmp_path / "clip.mov", onset=0.0, seconds=0.5, frames=30)
    sound = clip_sound(path, Fraction(0), 48_000)
    assert sound.shape == (2, 48_000)
    assert float(np.abs(sound[:, 1000:20_000]).max()) > 0.3
    assert float(np.abs(sound[:, 25_000:]).max()) == 0.0
    silent = write_clip(tmp_path / "mute.mp4", frames=6)
    assert not np.any(clip_sound(silent, Fraction(0), 4_800))
    assert clip_sound(silent, Fraction(0), 0).shape == (2, 0)


def test_a_long_sound_behind_a_short_picture_is_never_decoded_whole(tmp_path: Path) -> None:
    # Two seconds of picture, ten minutes of 8 kHz sound: 230 MB once decoded whole.
    path = write_sound_clip(tmp_path / "clip.mov", onset=0.0, seconds=600.0, frames=60,
                             rate=8_000)
    info = probe_clip(path)
    assert info.duration == 2 and info.audio_duration is not None
    assert info.audio_duration > 590
    tracemalloc.start()
    try:
        sound = clip_sound(path, Fraction(0), 96_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sound.shape == (2, 96_000) and float(np.abs(sound).max()) > 0.3
    assert peak < 8_000_000


def test_clip_sound_read_in_blocks_is_the_same_sound(tmp_path: Path) -> None:
    path = write_sound_clip(tmp_path / "clip.mov", onset=0.25, seconds=1.5, frames=45,
                            rate=44_100)
    whole = clip_sound(path, Fraction(1, 3), 60_000)
    with ClipSound(path, Fraction(1, 3)) as sound:
        blocks = [sound.read(n) for n in (1, 999, 4_000, 13_000, 41_000, 1_000)]
    assert np.array_equal(np.concatenate(blocks, axis=1)[:, :60_000], whole)
    assert not np.any(blocks[-1])  # past the sound's end: silence


def test_faded_clip_sound_streams_the_fades_it_had_whole(tmp_path: Path) -> None:
    path = write_sound_clip(tmp_path / "clip.mov", onset=0.0, seconds=1.0, frames=30)
    fades: list[tuple[int, int, FadeDirection]] = [(0, 4_800, "in"), (30_000, 18_000, "out")]
    expected = clip_sound(path, Fraction(0), 48_000)
    for start, length, direction in fades:
        expected = apply_fade(expected, 0, start, length, direction)
    stream = FadedStream(ClipSound(path), fades)
    try:
        got = np.concatenate([stream.read(n) for n in (1_000, 7_000, 25_000, 15_000)], axis=1)
    finally:
        stream.close()
    assert np.allclose(got, expected, atol=1e-7)


# -- intro and outro --------------------------------------------------------------------------


def test_an_intro_is_letterboxed_upright_on_black(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "phone.mp4", frames=10, size=(90, 160), rotation=90)
    visual = Video(video=path, clip=ClipOptions(crop="contain"))  # as intros are shown
    picture = VideoPicture(visual, ClipFacts(Fraction(1, 3), 90, 160), width=320, height=180,
                           fps=Fraction(30), shown_frames=10)
    try:
        y = np.zeros((180, 320), np.uint8)
        u = np.zeros((90, 160), np.uint8)
        v = np.zeros((90, 160), np.uint8)
        for k in range(10):
            picture.draw((y, u, v), k, float(k) / 30)
            # 90x160 upright, fitted to 180 high: 100 wide (even), centred.
            assert read_counter(y[:, 110:210]) == k
            assert float(y[:, :100].max()) == 16 and float(y[:, 220:].max()) == 16
    finally:
        picture.close()
    assert not clip_threads()
