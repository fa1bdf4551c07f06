"""Narrations: any common format, rate, depth and layout becomes 48 kHz stereo; the track."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from media import (
    samples_at_48k,
    write_audio_av,
    write_corrupt_wav,
    write_solid,
    write_tone_wav,
    write_wav,
    write_zero_length,
)
from storyreel import MediaError
from storyreel.audio.track import Placement, Track
from storyreel.media.audio import decode_audio
from storyreel.timeline.plan import Plan, plan_timeline


def peak_of_middle(samples: np.ndarray) -> float:
    n = samples.shape[1]
    return float(np.abs(samples[:, n // 4 : 3 * n // 4]).max())


@pytest.mark.parametrize("rate", [8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000,
                                  88_200, 96_000])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_rates_become_48k_stereo_of_the_same_length(tmp_path: Path, rate: int,
                                                        channels: int) -> None:
    n = rate * 7 // 10  # 0.7 s
    path = write_tone_wav(tmp_path / "v.wav", samples=n, rate=rate, channels=channels,
                          freq=300.0, amplitude=0.5)
    samples = decode_audio(path, 1)
    assert samples.dtype == np.float32
    assert samples.shape[0] == 2
    assert samples.flags["C_CONTIGUOUS"]
    assert abs(samples.shape[1] - samples_at_48k(n, rate)) <= 2
    if channels == 2:  # the level of mono files is checked on its own below
        assert peak_of_middle(samples) == pytest.approx(0.5, abs=0.03)
    np.testing.assert_allclose(samples[0], samples[1], atol=1e-6)


def test_mono_narration_keeps_its_level(tmp_path: Path) -> None:
    # Most voice recordings are mono; put on both channels they must not lose 3 dB, or a
    # project mixing mono and stereo narrations jumps in level from segment to segment.
    mono = decode_audio(write_tone_wav(tmp_path / "m.wav", 0.5, channels=1, amplitude=0.5))
    stereo = decode_audio(write_tone_wav(tmp_path / "s.wav", 0.5, channels=2, amplitude=0.5))
    assert peak_of_middle(stereo) == pytest.approx(0.5, abs=0.01)
    assert peak_of_middle(mono) == pytest.approx(peak_of_middle(stereo), abs=0.01)


@pytest.mark.parametrize(("bits", "float_format"), [(16, False), (24, False), (32, False),
                                                    (32, True)])
def test_wav_depths(tmp_path: Path, bits: int, float_format: bool) -> None:
    path = write_tone_wav(tmp_path / "d.wav", 0.5, rate=44_100, bits=bits, amplitude=0.25,
                          float_format=float_format, channels=2)
    samples = decode_audio(path)
    assert abs(samples.shape[1] - 24_000) <= 2
    assert peak_of_middle(samples) == pytest.approx(0.25, abs=0.02)


def test_stereo_channels_stay_apart(tmp_path: Path) -> None:
    t = np.arange(24_000) / 48_000
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = write_wav(tmp_path / "lr.wav", np.stack([left, np.zeros_like(left)], axis=1), 48_000)
    samples = decode_audio(path)
    assert np.abs(samples[0]).max() > 0.45
    assert np.abs(samples[1]).max() < 1e-3


@pytest.mark.parametrize(
    ("suffix", "codec", "rate"),
    [(".flac", "flac", 44_100), (".mp3", "libmp3lame", 44_100), (".ogg", "libopus", 48_000),
     (".m4a", "aac", 32_000), (".flac", "flac", 96_000)],
)
def test_compressed_formats(tmp_path: Path, suffix: str, codec: str, rate: int) -> None:
    path = write_audio_av(tmp_path / f"n{suffix}", 1.0, codec=codec, rate=rate, channels=2)
    samples = decode_audio(path, 2)
    assert samples.shape[0] == 2
    # Lossy codecs add priming/padding of a few ms at most.
    assert samples.shape[1] == pytest.approx(48_000, abs=2_400)
    assert peak_of_middle(samples) == pytest.approx(0.4, abs=0.06)


def test_zero_length_wav(tmp_path: Path) -> None:
    path = write_zero_length(tmp_path / "empty.wav")
    with pytest.raises(MediaError) as info:
        decode_audio(path, 3)
    assert info.value.segment == 3 and info.value.path == path


def test_header_only_wav_is_empty(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silent.wav", np.zeros((0, 1)), 44_100)
    with pytest.raises(MediaError, match="empty") as info:
        decode_audio(path, 2)
    assert info.value.segment == 2


def test_corrupt_wav(tmp_path: Path) -> None:
    path = write_corrupt_wav(tmp_path / "bad.wav")
    with pytest.raises(MediaError, match="corrupt") as info:
        decode_audio(path, 5)
    assert info.value.segment == 5 and info.value.path == path


def test_random_bytes_are_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError):
        decode_audio(path, 1)


def test_image_is_not_audio(tmp_path: Path) -> None:
    path = write_solid(tmp_path / "pic.png", (20, 20), (1, 2, 3))
    with pytest.raises(MediaError):
        decode_audio(path, 1)


def test_missing_audio(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found") as info:
        decode_audio(tmp_path / "nope.wav", 9)
    assert info.value.segment == 9


def test_too_long_narration_is_refused(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "long.wav", 1.0, rate=8_000)
    with pytest.raises(MediaError, match="longer"):
        decode_audio(path, 1, max_seconds=0.5)


# --- the sound track --------------------------------------------------------------------------


def make_track(lengths: list[int], gap: int, fps: Fraction = Fraction(30)
               ) -> tuple[Track, Plan, list[np.ndarray], list[int]]:
    """A track holding each narration at its segment's first sample, as a render places them."""
    plan = plan_timeline(lengths, fps=fps, sample_rate=48_000, gap=gap)
    narrations = [np.full((2, n), 0.1 * (i + 1), np.float32) for i, n in enumerate(lengths)]
    loaded: list[int] = []

    def load(index: int) -> np.ndarray:
        loaded.append(index)
        return narrations[index]

    placements = [Placement(s.index, s.audio_start, s.narration) for s in plan.spans]
    return Track(placements, load, plan.total_samples), plan, narrations, loaded


def test_track_places_each_narration_at_its_segment_start() -> None:
    lengths = [30_001, 12_345, 48_000]
    track, plan, narrations, _ = make_track(lengths, gap=4_800, fps=Fraction(30000, 1001))
    whole = track.read_until(plan.total_samples)
    assert whole.shape == (2, plan.total_samples)
    for span, narration in zip(plan.spans, narrations, strict=True):
        start = span.audio_start
        np.testing.assert_array_equal(whole[:, start : start + span.narration], narration)
        gap_end = plan.spans[span.index + 1].audio_start if span.index + 1 < len(lengths) else (
            plan.total_samples)
        assert not whole[:, start + span.narration : gap_end].any(), "the gap is silent"


def test_track_read_in_blocks_equals_whole() -> None:
    lengths = [7_001, 3_000, 11_111, 500]
    whole_track, _, _, _ = make_track(lengths, gap=1_000)
    whole = whole_track.read_until(10**9)
    blocks_track, _, _, _ = make_track(lengths, gap=1_000)
    rng = np.random.default_rng(0)
    parts = []
    while blocks_track.position < whole.shape[1]:
        parts.append(blocks_track.read_until(blocks_track.position + int(rng.integers(1, 3_000))))
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    assert blocks_track.read_until(10**9).shape[1] == 0


def test_overlapping_sounds_are_mixed() -> None:
    sounds = {1: np.full((2, 100), 0.25, np.float32), 2: np.full((2, 100), 0.5, np.float32)}
    track = Track([Placement(1, 0, 100), Placement(2, 50, 100)], sounds.__getitem__, 200)
    whole = track.read_until(200)
    assert whole[0, 25] == pytest.approx(0.25)
    assert whole[0, 75] == pytest.approx(0.75)
    assert whole[0, 125] == pytest.approx(0.5)
    assert whole[0, 175] == 0


def test_track_loads_sounds_lazily_once_each_and_releases_them() -> None:
    lengths = [48_000] * 6
    track, _, _, loaded = make_track(lengths, gap=0)
    track.read_until(1_000)
    assert loaded == [0]
    track.read_until(100_000)
    assert loaded == [0, 1, 2]
    track.read_until(10**9)
    assert loaded == list(range(6))
    assert not track._live, "finished sounds must be released"


def test_video_without_sound_is_not_a_narration(tmp_path: Path) -> None:
    import av

    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 40, np.uint8), "rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(MediaError, match="no audio") as info:
        decode_audio(path, 4)
    assert info.value.segment == 4


def test_sound_that_starts_late_in_a_file_is_still_found(tmp_path: Path) -> None:
    # A transport stream whose first sound packet comes after 500 kB of picture: the
    # quick look at the file's start does not see it, so the file is read again in full.
    path = tmp_path / "late.ts"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mpegts") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        video.options = {"qp": "0", "preset": "ultrafast"}
        sound = out.add_stream("mp2", rate=48_000)
        sound.layout = "stereo"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (120, 160, 3), np.uint8),
                                               format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        for i in range(20):
            block = av.AudioFrame.from_ndarray(np.full((1, 2 * 1152), 8000, np.int16),
                                               format="s16", layout="stereo")
            block.sample_rate = 48_000
            block.pts = 48_000 + i * 1152
            for packet in sound.encode(block):
                out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    with av.open(str(path), options={"probesize": "32768"}) as quick:
        assert quick.streams.audio[0].codec_context.sample_rate == 0, "seen at once"
    samples = decode_audio(path, 1)
    assert samples.shape == (2, 20 * 1152)
    assert np.abs(samples[:, 2000:-2000]).min() > 0.2
