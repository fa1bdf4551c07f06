"""Captions, transitions, music, loudness, logo, intro/outro and chapters, read back from MP4s."""

from __future__ import annotations

import importlib
import itertools
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyloudnorm
import pytest
from numpy.typing import NDArray
from PIL import Image

import storyreel
from media import SegmentSpec, bursts, write_project, write_solid, write_wav
from storyreel.media.sidecar import parse_srt, parse_vtt

RATE = 48_000
FPS = 25
GREY = (110, 110, 110)


def render_features(folder: Path, specs: list[SegmentSpec], settings: dict[str, Any],
                    narrations: list[NDArray[np.float64]] | None = None, **fields: Any
                    ) -> storyreel.RenderResult:
    manifest = write_project(folder, specs, settings=settings,
                             **{"width": 192, "height": 108, "fps": FPS, **fields})
    for i, samples in enumerate(narrations or []):
        write_wav(folder / "audio" / f"{i + 1:03d}.wav", samples, RATE)
    project = storyreel.load_project(manifest)
    return storyreel.render(project, folder / "out" / "story.mp4")


def decode_rgb(path: Path) -> list[NDArray[np.float32]]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.float32)
                for f in container.decode(video=0)]


def decode_audio_mono(path: Path) -> NDArray[np.float64]:
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1).astype(np.float64)


def rms_db(x: NDArray[np.float64]) -> float:
    return 20 * math.log10(max(1e-9, float(np.sqrt(np.mean(np.square(x))))))


# -- captions ---------------------------------------------------------------------------

SPEECH = [(0.10, 0.90), (1.20, 2.00), (2.35, 3.10)]
TEXT = "The old keeper walked. Down to the river, slowly. And sang his songs alone."


@pytest.fixture(scope="module")
def captioned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, storyreel.RenderResult]:
    folder = tmp_path_factory.mktemp("captions")
    result = render_features(
        folder,
        [SegmentSpec(seconds=3.3, colour=GREY, text=TEXT, extra={"direction": "none"})],
        {"subtitles": {"enabled": True, "sidecar": True, "size": 0.12}, "gap": 0.2},
        [bursts(SPEECH, 3.3)],
    )
    return folder, result


def caption_frames(frames: list[NDArray[np.float32]]) -> list[bool]:
    """Whether each frame shows text: bright or dark pixels on the flat grey background."""
    shown = []
    for rgb in frames:
        deviation = np.abs(rgb - np.array(GREY, np.float32)).max(axis=2)
        shown.append(bool((deviation > 60).sum() > 20))
    return shown


def test_captions_are_burned_in_exactly_while_their_chunk_shows(
        captioned: tuple[Path, storyreel.RenderResult]) -> None:
    folder, result = captioned
    cues = parse_srt((folder / "out" / "story.srt").read_text(encoding="utf-8"))
    assert len(cues) == 3
    expected = [False] * result.frames
    for start, end, _ in cues:
        for frame in range(round(start * FPS), round(end * FPS)):
            expected[frame] = True
    shown = caption_frames(decode_rgb(result.path))
    mismatches = [i for i, (a, b) in enumerate(zip(shown, expected, strict=True)) if a != b]
    assert not mismatches, f"caption visibility differs from the cues at frames {mismatches}"


def test_caption_cues_follow_the_voice(captioned: tuple[Path, storyreel.RenderResult]) -> None:
    folder, _ = captioned
    cues = parse_srt((folder / "out" / "story.srt").read_text(encoding="utf-8"))
    texts = [text for _, _, text in cues]
    assert " ".join(texts).split() == TEXT.split()
    for (start, end, _), (s_start, s_end) in zip(cues, SPEECH, strict=True):
        assert s_start - 0.35 <= float(start) <= s_start + 0.15, (start, s_start)
        assert s_end - 0.15 <= float(end) <= s_end + 0.45, (end, s_end)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues))


def test_srt_and_vtt_match(captioned: tuple[Path, storyreel.RenderResult]) -> None:
    folder, result = captioned
    srt = parse_srt((folder / "out" / "story.srt").read_text(encoding="utf-8"))
    vtt_text = (folder / "out" / "story.vtt").read_text(encoding="utf-8")
    assert vtt_text.startswith("WEBVTT")
    assert parse_vtt(vtt_text) == srt
    assert sorted(p.name for p in result.sidecars) == ["story.srt", "story.vtt"]


def test_captions_can_be_switched_off_but_sidecars_stay(tmp_path: Path) -> None:
    result = render_features(
        tmp_path, [SegmentSpec(seconds=1.0, colour=GREY, text=TEXT, extra={"direction": "none"})],
        {"subtitles": {"enabled": False, "sidecar": True}}, [bursts([(0.1, 0.9)], 1.0)],
    )
    assert not any(caption_frames(decode_rgb(result.path)))
    assert (tmp_path / "out" / "story.srt").is_file()


def test_empty_text_makes_no_captions(tmp_path: Path) -> None:
    result = render_features(
        tmp_path, [SegmentSpec(seconds=0.8, colour=GREY, text="  ", extra={"direction": "none"})],
        {"subtitles": {"enabled": True, "sidecar": True}},
    )
    assert not any(caption_frames(decode_rgb(result.path)))
    assert result.sidecars == []


# -- transitions ------------------------------------------------------------------------

RED, BLUE = (200, 40, 40), (40, 60, 200)


def test_crossfade_blends_both_neighbours_in_the_silence(tmp_path: Path) -> None:
    specs = [SegmentSpec(seconds=1.0, colour=RED, extra={"direction": "none"}),
             SegmentSpec(seconds=1.0, colour=BLUE, extra={"direction": "none"})]
    result = render_features(tmp_path, specs, {"transitions": {"crossfade": 0.4}, "gap": 0.1})
    frames = decode_rgb(result.path)
    means = np.array([f.reshape(-1, 3).mean(axis=0) for f in frames])
    red_share = (means[:, 2] - BLUE[2]) / (RED[2] - BLUE[2])  # 1 = red, 0 = blue (blue channel)
    blends = [i for i, share in enumerate(red_share) if 0.05 < share < 0.95]
    assert len(blends) >= 8  # 0.4 s at 25 fps: ~10 frames
    assert blends == list(range(blends[0], blends[-1] + 1))
    assert np.all(np.diff(red_share[blends]) < 0)  # monotonic from red to blue
    # The blend happens while nobody speaks: after narration 1 ends, before narration 2.
    voice = np.abs(decode_audio_mono(result.path)).max(axis=0)
    for frame in blends:
        lo, hi = frame * RATE // FPS, (frame + 1) * RATE // FPS
        assert voice[lo:hi].max() < 0.01, f"voice audible during crossfade frame {frame}"
    first_blue = blends[-1] + 1
    assert red_share[first_blue] < 0.05


def test_no_two_narrations_overlap_with_crossfades(tmp_path: Path) -> None:
    specs = [SegmentSpec(seconds=0.6, extra={"direction": "none"}) for _ in range(3)]
    narrations = [bursts([(0.0, 0.6)], 0.6, freq=f) for f in (200.0, 330.0, 470.0)]
    result = render_features(tmp_path, specs, {"transitions": {"crossfade": 0.5}, "gap": 0.05},
                             narrations)
    audio = decode_audio_mono(result.path).mean(axis=0)
    window = RATE // 20
    freqs = np.fft.rfftfreq(window, 1 / RATE)
    voices = []
    for start in range(0, audio.size - window, window // 2):
        spectrum = np.abs(np.fft.rfft(audio[start:start + window] * np.hanning(window)))
        levels = [float(spectrum[np.abs(freqs - f) < 15].max()) for f in (200.0, 330.0, 470.0)]
        # A voice is there when its band is strong (a cut's broadband click is not a voice).
        voices.append(sum(level > max(5.0, 0.3 * max(levels)) for level in levels))
    assert max(voices) == 1  # never two voices at once
    # Each pause is stretched to hold the crossfade (13 frames): 3 x 0.6 s + 2 x 0.52 s + gap.
    assert abs(result.duration - (3 * 0.6 + 2 * 0.52 + 0.05)) <= 2 / FPS


def test_fade_in_and_out_from_black(tmp_path: Path) -> None:
    specs = [SegmentSpec(seconds=1.0, colour=(220, 220, 220), extra={"direction": "none"})]
    result = render_features(tmp_path, specs,
                             {"transitions": {"fade_in": 0.4, "fade_out": 0.4}, "gap": 0.1})
    levels = [float(f.mean()) for f in decode_rgb(result.path)]
    assert levels[0] < 40 and levels[-1] < 40
    assert max(levels) > 200
    top = levels.index(max(levels))
    assert np.all(np.diff(levels[:top + 1]) >= -1)
    # The narration starts once the picture is up (silence added before it).
    voice = np.abs(decode_audio_mono(result.path)).max(axis=0)
    first_sound = int(np.argmax(voice > 0.01))
    assert first_sound >= 0.35 * RATE
    assert abs(result.duration - (0.4 + 1.0 + 0.4)) <= 1 / FPS


# -- sound -------------------------------------------------------------------------------


def test_music_is_ducked_under_the_narration(tmp_path: Path) -> None:
    t = np.arange(4 * RATE) / RATE
    music = 0.3 * np.sin(2 * math.pi * 880 * t)
    write_wav(tmp_path / "music.wav", music[:, None], RATE)
    speech = [(0.2, 1.0), (2.6, 3.3)]
    result = render_features(
        tmp_path, [SegmentSpec(seconds=3.4, extra={"direction": "none"})],
        {"music": {"path": str(tmp_path / "music.wav"), "volume": -6, "duck": 12,
                   "fade_out": 0.0}, "gap": 0.0},
        [bursts(speech, 3.4, freq=150.0)],
    )
    audio = decode_audio_mono(result.path).mean(axis=0)
    window = 4096
    freqs = np.fft.rfftfreq(window, 1 / RATE)
    band = np.abs(freqs - 880) < 20

    def music_level(at: float) -> float:
        start = round(at * RATE)
        spectrum = np.abs(np.fft.rfft(audio[start:start + window] * np.hanning(window)))
        return 20 * math.log10(spectrum[band].max() + 1e-9)

    under_speech = np.mean([music_level(0.5), music_level(2.8)])
    in_pause = music_level(2.05)  # a second into the pause: hold and release are over
    assert in_pause - under_speech > 6, (in_pause, under_speech)


def test_music_loops_to_cover_the_video(tmp_path: Path) -> None:
    t = np.arange(RATE // 2) / RATE  # half a second of music, video ~2 s
    write_wav(tmp_path / "music.wav", (0.3 * np.sin(2 * math.pi * 660 * t))[:, None], RATE)
    result = render_features(
        tmp_path, [SegmentSpec(seconds=2.0, extra={"direction": "none"})],
        {"music": {"path": str(tmp_path / "music.wav"), "duck": 0, "fade_out": 0.0}},
        [np.zeros((2 * RATE, 1))],
    )
    audio = decode_audio_mono(result.path).mean(axis=0)
    for at in (0.25, 0.9, 1.6):
        chunk = audio[round(at * RATE): round(at * RATE) + 2400]
        assert rms_db(chunk) > -40, f"no music at {at} s"


@pytest.mark.parametrize("target", [-14.0, -20.0])
def test_loudness_is_normalised_with_true_peak_limited(tmp_path: Path, target: float) -> None:
    specs = [SegmentSpec(seconds=2.0, extra={"direction": "none"}) for _ in range(2)]
    narrations = [bursts([(0.1, 0.8), (1.0, 1.9)], 2.0, amplitude=0.05),
                  bursts([(0.0, 1.5)], 2.0, amplitude=0.9, freq=310.0)]
    result = render_features(tmp_path, specs,
                             {"loudness": {"enabled": True, "target": target, "true_peak": -1.0}},
                             narrations)
    audio = decode_audio_mono(result.path)
    measured = pyloudnorm.Meter(RATE).integrated_loudness(audio.T)
    assert abs(measured - target) <= 1.0
    oversampled = np.abs(np.concatenate([_upsample4(ch) for ch in audio]))
    assert 20 * math.log10(oversampled.max()) <= -1.0 + 0.3  # AAC adds a little overshoot
    assert result.loudness is not None and abs(result.loudness - target) <= 0.5
    assert result.loudness_before is not None and result.loudness_before != result.loudness


def _upsample4(x: NDArray[np.float64]) -> NDArray[np.float64]:
    from scipy.signal import resample_poly

    return np.asarray(resample_poly(x, 4, 1), dtype=np.float64)


# -- branding ----------------------------------------------------------------------------


def test_logo_in_its_corner_at_its_opacity(tmp_path: Path) -> None:
    logo = Image.new("RGBA", (40, 40), (255, 255, 255, 255))
    logo.save(tmp_path / "logo.png")
    result = render_features(
        tmp_path, [SegmentSpec(seconds=0.5, colour=(0, 0, 0), extra={"direction": "none"})],
        {"logo": {"path": str(tmp_path / "logo.png"), "corner": "bottom-left", "scale": 0.2,
                  "opacity": 0.5, "margin": 0.1}},
    )
    frame = decode_rgb(result.path)[5]
    height, width = frame.shape[:2]
    size, margin = round(width * 0.2), round(height * 0.1)
    inner = frame[height - margin - size + 4: height - margin - 4, margin + 4: margin + size - 4]
    expected = 0.5 * 255 + 0.5 * 0
    assert abs(float(inner.mean()) - expected) < 12
    assert float(frame[: height // 2].mean()) < 10  # nothing in the top half
    assert float(frame[:, width // 2:].mean()) < 10  # nothing on the right


def _write_clip(path: Path, seconds: float, fps: int, size: tuple[int, int],
                colour: tuple[int, int, int], *, sound: bool) -> None:
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        audio = container.add_stream("aac", rate=44_100) if sound else None
        frames = round(seconds * fps)
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[:] = colour
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            n = round(seconds * 44_100)
            tone = (0.2 * np.sin(2 * math.pi * 500 * np.arange(n) / 44_100)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="flt",
                                                   layout="mono")
                chunk.sample_rate = 44_100
                chunk.pts = start
                for packet in audio.encode(chunk):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)


def test_intro_and_outro_are_placed_fitted_and_timed(tmp_path: Path) -> None:
    _write_clip(tmp_path / "intro.mp4", 1.0, 30, (320, 240), (0, 200, 0), sound=True)
    _write_clip(tmp_path / "outro.mp4", 0.8, 24, (160, 90), (200, 0, 200), sound=False)
    specs = [SegmentSpec(seconds=1.0, colour=RED, extra={"direction": "none"})]
    result = render_features(
        tmp_path, specs,
        {"intro": str(tmp_path / "intro.mp4"), "outro": str(tmp_path / "outro.mp4"),
         "transitions": {"crossfade": 0.0}, "gap": 0.2},
    )
    frames = decode_rgb(result.path)
    assert len(frames) == result.frames
    assert abs(result.duration - (1.0 + 1.2 + 0.8)) <= 1 / FPS
    centre = [f[40:68, 80:112].reshape(-1, 3).mean(axis=0) for f in frames]
    kinds = ["green" if c[1] > 150 and c[0] < 60 else "magenta" if c[0] > 150 and c[2] > 150
             else "red" if c[0] > 150 and c[1] < 80 else "?" for c in centre]
    assert kinds[: 25] == ["green"] * 25
    assert kinds[25: 25 + 30] == ["red"] * 30
    assert kinds[-20:] == ["magenta"] * 20
    # The 4:3 intro is letterboxed (black bars left and right), never cropped.
    assert float(frames[5][:, :8].mean()) < 25
    # Its sound plays during the intro only.
    audio = decode_audio_mono(result.path).mean(axis=0)
    assert rms_db(audio[RATE // 10: RATE // 2]) > -30
    with av.open(str(result.path)) as container:
        assert container.streams.video[0].average_rate == FPS


# -- chapters ----------------------------------------------------------------------------


def test_chapters_in_mp4_and_youtube_list(tmp_path: Path) -> None:
    specs = [SegmentSpec(seconds=0.6, extra={"chapter": title})
             for title in ("Opening", "The journey", "Zürich")]
    result = render_features(tmp_path, specs, {})
    with av.open(str(result.path)) as container:
        chapters = container.chapters()
    assert [c["metadata"]["title"] for c in chapters] == ["Opening", "The journey", "Zürich"]
    starts = [Fraction(c["start"]) * c["time_base"] for c in chapters]
    assert starts[0] == 0 and starts == sorted(starts)
    text = (tmp_path / "out" / "story.chapters.txt").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "00:00 Opening"
    assert any("10 s" in w for w in result.warnings)  # too short for YouTube, said so


def test_features_cost_little_next_to_a_plain_render(tmp_path: Path) -> None:
    """All features on still renders every frame and ends A/V within one frame."""
    t = np.arange(RATE) / RATE
    write_wav(tmp_path / "music.wav", (0.2 * np.sin(2 * math.pi * 440 * t))[:, None], RATE)
    logo = Image.new("RGBA", (20, 20), (255, 0, 0, 128))
    logo.save(tmp_path / "logo.png")
    write_solid(tmp_path / "unused.png", (4, 4), (0, 0, 0))
    specs = [SegmentSpec(seconds=0.7, text="Every feature at once, in one render.")
             for _ in range(3)]
    result = render_features(tmp_path, specs, {
        "subtitles": {"enabled": True}, "transitions": {"crossfade": 0.3, "fade_in": 0.2,
                                                        "fade_out": 0.2},
        "music": {"path": str(tmp_path / "music.wav")},
        "logo": {"path": str(tmp_path / "logo.png")},
        "loudness": {"enabled": True},
    })
    with av.open(str(result.path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        v_end = float(video.duration * video.time_base)
        a_end = float(audio.duration * audio.time_base)
    assert abs(v_end - a_end) <= 1 / FPS


def test_bad_music_logo_intro_and_font_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "music.mp3").write_bytes(b"ID3 this is not audio at all")
    (tmp_path / "logo.png").write_text("not a png")
    manifest = write_project(tmp_path, [0.5], settings={
        "music": {"path": str(tmp_path / "music.mp3")},
        "logo": {"path": str(tmp_path / "logo.png")},
        "intro": str(tmp_path / "missing-intro.mp4"),
        "subtitles": {"font": str(tmp_path / "nope.ttf")},
    })
    with pytest.raises(storyreel.ValidationFailed) as caught:
        storyreel.render(storyreel.load_project(manifest), tmp_path / "out" / "x.mp4")
    fields = {problem.field for problem in caught.value.problems}
    assert fields == {"settings.music", "settings.logo", "settings.intro",
                      "settings.subtitles.font"}
    assert all(problem.path is not None for problem in caught.value.problems)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_sidecars_follow_the_published_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    specs = [SegmentSpec(seconds=0.6, text="Words for the captions, spoken here.",
                         extra={"chapter": "One"})]
    on = {"subtitles": {"enabled": False, "sidecar": True}}
    result = render_features(tmp_path, specs, on)
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"story.mp4", "story.srt", "story.vtt",
                                               "story.chapters.txt"}
    srt_before = (out / "story.srt").read_text(encoding="utf-8")
    # A failed render leaves the previous video and its captions exactly as they were.
    job_module = importlib.import_module("storyreel.render.job")

    def broken_publish(temp: Path, target: Path) -> None:
        raise storyreel.OutputError("simulated rename failure", target)

    monkeypatch.setattr(job_module, "publish", broken_publish)
    project = storyreel.load_project(tmp_path / "story.json")
    with pytest.raises(storyreel.OutputError):
        storyreel.render(project, result.path)
    assert (out / "story.srt").read_text(encoding="utf-8") == srt_before
    assert {p.name for p in out.iterdir()} == {"story.mp4", "story.srt", "story.vtt",
                                               "story.chapters.txt"}
    monkeypatch.undo()
    # A new render without captions files removes the old ones: nothing stale beside it.
    storyreel.render(project, result.path, subtitles={"sidecar": False})
    assert {p.name for p in out.iterdir()} == {"story.mp4", "story.chapters.txt"}
