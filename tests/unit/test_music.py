"""The streamed background music: looping, trimming, fade-out, ducking and errors."""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import scipy.signal
from numpy.typing import NDArray

from storyreel.audio import music as music_module
from storyreel.audio.music import MusicBed
from storyreel.errors import MediaError
from storyreel.media.audio import AudioReader

RATE = 48_000
Signal = NDArray[np.float32]


def _write_wav(path: Path, samples: NDArray[np.float64], rate: int = RATE) -> Path:
    """16-bit WAV of ``samples`` shaped (channels, n)."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(pcm.shape[0])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(pcm.T).tobytes())
    return path


def _write_flac(path: Path, mono: NDArray[np.float64], rate: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        pcm = (np.clip(mono, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _decoded(value: float) -> float:
    """What a constant written by :func:`_write_wav` reads back as.

    The WAV truncates to 16 bits and FFmpeg divides by 32768.
    """
    return int(value * 32767) / 32768


def _band_noise(seconds: float, *, rate: int = RATE, seed: int = 0) -> NDArray[np.float64]:
    """Stereo noise below 2 kHz at about -12 dBFS RMS: music-like, uncorrelated over time."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((2, int(seconds * rate)))
    shaped = scipy.signal.sosfilt(scipy.signal.butter(4, 2_000, fs=rate, output="sos"), noise)
    return np.asarray(shaped / np.sqrt(np.mean(shaped**2)) * 10 ** (-12 / 20))


def _voice(seconds: float, spans: list[tuple[float, float]]) -> Signal:
    """Voiced syllables (short dips between them) inside ``spans``, silence elsewhere."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    tone = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 6))
    envelope = np.zeros(n)
    for start, end in spans:
        a, b = int(start * RATE), int(end * RATE)
        envelope[a:b] = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 4 * t[a:b]))
    mono = 0.2 * tone * envelope
    return np.stack([mono, mono]).astype(np.float32)


def _read_all(bed: MusicBed, voice: Signal | None, block: int = 1_600) -> Signal:
    total = bed.total_samples if voice is None else voice.shape[1]
    pieces = []
    for start in range(0, total, block):
        n = min(block, total - start)
        pieces.append(bed.read(n, None if voice is None else voice[:, start : start + n]))
    return np.concatenate(pieces, axis=1)


def _rms_db(samples: Signal, start_s: float, end_s: float) -> float:
    part = samples[:, int(start_s * RATE) : int(end_s * RATE)].astype(np.float64)
    return float(10 * np.log10(np.mean(part**2) + 1e-30))


def test_music_is_lowered_under_speech_by_the_duck_amount(tmp_path: Path) -> None:
    music = _write_wav(tmp_path / "music.wav", _band_noise(8.0))
    voice = _voice(8.0, [(1.0, 3.0), (6.0, 7.5)])
    with MusicBed(music, total_samples=voice.shape[1], volume_db=-6.0, fade_out_s=0.0) as bed:
        out = _read_all(bed, voice)
    speaking = _rms_db(out, 1.5, 2.9)
    pause = _rms_db(out, 4.3, 5.9)
    assert pause == pytest.approx(-12.0 - 6.0, abs=0.7)  # the file's level plus volume_db
    assert pause - speaking == pytest.approx(10.0, abs=1.0)
    assert pause - _rms_db(out, 6.5, 7.4) == pytest.approx(10.0, abs=1.0)
    gain = np.abs(out[0]).astype(np.float64)
    assert np.isfinite(gain).all()


def test_ducking_follows_the_voice_smoothly(tmp_path: Path) -> None:
    music = _write_wav(tmp_path / "music.wav", np.full((2, RATE * 3), 0.25))  # DC shows the gain
    voice = _voice(3.0, [(0.5, 1.5)])
    with MusicBed(music, total_samples=voice.shape[1], volume_db=0.0, fade_out_s=0.0) as bed:
        gain = _read_all(bed, voice)[0].astype(np.float64) / _decoded(0.25)
    assert np.all(gain[: RATE // 2] == pytest.approx(1.0, abs=1e-6))  # untouched before the voice
    assert gain[int(0.75 * RATE)] < 10 ** (-8 / 20)  # down within a quarter second
    assert gain[int(1.4 * RATE)] == pytest.approx(10 ** (-10 / 20), rel=0.02)
    assert gain[int(1.8 * RATE)] == pytest.approx(10 ** (-10 / 20), rel=0.05)  # held a moment
    assert np.abs(np.diff(gain)).max() < 1e-3  # glides, no steps
    assert gain[-1] > 10 ** (-0.5 / 20)  # back up in the pause


@pytest.mark.parametrize("voice_given", [True, False])
def test_no_ducking_without_voice_or_with_zero_duck(tmp_path: Path, voice_given: bool) -> None:
    music = _write_wav(tmp_path / "music.wav", _band_noise(3.0))
    voice = _voice(3.0, [(0.5, 2.5)])
    with MusicBed(
        music, total_samples=voice.shape[1], duck_db=0.0 if voice_given else -10.0, fade_out_s=0.0
    ) as bed:
        out = _read_all(bed, voice if voice_given else None)
    assert _rms_db(out, 1.0, 2.0) == pytest.approx(_rms_db(out, 2.6, 2.95), abs=0.7)


def test_loop_covers_a_longer_video_without_gaps_or_clicks(tmp_path: Path) -> None:
    source = _band_noise(1.0, seed=2)
    music = _write_wav(tmp_path / "short.wav", source)
    total = RATE * 4
    with MusicBed(music, total_samples=total, volume_db=0.0, fade_out_s=0.0) as bed:
        out = _read_all(bed, None)
    assert out.shape == (2, total)
    windows = out.reshape(2, -1, RATE // 20).astype(np.float64)
    levels = 10 * np.log10(np.mean(windows**2, axis=(0, 2)))
    assert np.all(np.abs(levels - (-12.0)) < 2.5)  # music all the way, loop seams included
    steepest = np.abs(np.diff(source, axis=1)).max()
    assert np.abs(np.diff(out, axis=1)).max() < 1.3 * steepest  # a hard cut would jump


def test_without_loop_the_music_ends_and_silence_follows(tmp_path: Path) -> None:
    music = _write_wav(tmp_path / "short.wav", _band_noise(1.0))
    with MusicBed(music, total_samples=RATE * 3, loop=False, fade_out_s=0.0, volume_db=0.0) as bed:
        out = _read_all(bed, None)
    assert _rms_db(out, 0.1, 0.95) == pytest.approx(-12.0, abs=1.0)
    assert np.all(out[:, RATE + 10 :] == 0)


def test_long_track_is_trimmed_and_faded_out(tmp_path: Path) -> None:
    music = _write_wav(tmp_path / "long.wav", np.full((2, RATE * 5), 0.5))
    total = RATE * 3
    with MusicBed(music, total_samples=total, volume_db=0.0, fade_out_s=1.0, duck_db=0.0) as bed:
        out = _read_all(bed, None)
        past_the_end = bed.read(500)
    gain = out[0].astype(np.float64) / _decoded(0.5)
    assert np.all(gain[: 2 * RATE] == pytest.approx(1.0))
    assert gain[int(2.5 * RATE)] == pytest.approx(np.sqrt(0.5), abs=1e-3)  # -3 dB mid-fade
    assert np.all(np.diff(gain[2 * RATE :]) <= 0)
    assert gain[-1] < 1e-3
    assert past_the_end.shape == (2, 500) and not past_the_end.any()


@pytest.mark.parametrize("block", [1_000, 4_801])
def test_output_does_not_depend_on_block_size(tmp_path: Path, block: int) -> None:
    music = _write_wav(tmp_path / "music.wav", _band_noise(0.7, seed=3))
    voice = _voice(3.0, [(0.4, 1.2), (1.9, 2.6)])
    outputs = []
    for size in (1_600, block):
        with MusicBed(music, total_samples=voice.shape[1], fade_out_s=0.5) as bed:
            outputs.append(_read_all(bed, voice, size))
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-6)


def test_compressed_mono_file_at_another_rate_is_resampled(tmp_path: Path) -> None:
    rate = 44_100
    t = np.arange(rate * 2) / rate
    music = _write_flac(tmp_path / "tone.flac", 0.5 * np.sin(2 * np.pi * 440 * t), rate)
    with MusicBed(music, total_samples=RATE * 2, volume_db=-6.0, fade_out_s=0.0) as bed:
        out = _read_all(bed, None)
    # Mono is spread over both channels at -3 dB each, which keeps its loudness (as the
    # narration decoder does).
    expected = 20 * np.log10(0.5 / np.sqrt(2)) - 3.0 - 6.0
    assert _rms_db(out, 0.2, 1.8) == pytest.approx(expected, abs=0.1)
    np.testing.assert_array_equal(out[0], out[1])
    spectrum = np.abs(np.fft.rfft(out[0, RATE // 2 : RATE // 2 + RATE]))
    assert int(np.argmax(spectrum)) == 440  # 1 Hz bins: the pitch survived resampling


def _broken_files(tmp_path: Path) -> dict[str, Path]:
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4_000, dtype=np.uint8).tobytes())
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n")
    empty = _write_wav(tmp_path / "empty.wav", np.zeros((2, 0)))
    image = tmp_path / "cover.png"
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(image)
    return {
        "missing": tmp_path / "nowhere.mp3",
        "garbage": garbage,
        "text": text,
        "empty": empty,
        "image": image,
    }


@pytest.mark.parametrize("kind", ["missing", "garbage", "text", "empty", "image"])
def test_unusable_files_raise_media_error_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = _broken_files(tmp_path)[kind]
    with pytest.raises(MediaError) as caught:
        MusicBed(path, total_samples=RATE)
    assert caught.value.path == path
    assert path.name in str(caught.value)


def test_file_truncated_mid_stream_fails_while_reading(tmp_path: Path) -> None:
    rate = 44_100
    t = np.arange(rate * 6) / rate
    music = _write_flac(tmp_path / "cut.flac", 0.3 * np.sin(2 * np.pi * 220 * t), rate)
    data = bytearray(music.read_bytes())
    data[len(data) // 2 :] = (
        np.random.default_rng(1)
        .integers(0, 256, len(data) - len(data) // 2, dtype=np.uint8)
        .tobytes()
    )
    music.write_bytes(bytes(data))
    with MusicBed(music, total_samples=RATE * 6, fade_out_s=0.0, loop=False) as bed:
        try:
            out = _read_all(bed, None)
        except MediaError as exc:  # corrupt frames may be reported...
            assert exc.path == music
        else:  # ...or skipped by the decoder; never garbage
            assert np.isfinite(out).all() and np.abs(out).max() <= 1.0


def test_decoder_failure_while_playing_becomes_media_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    music = _write_wav(tmp_path / "music.wav", _band_noise(1.0))

    real = AudioReader._counted
    blocks = 0

    def failing_after_one(reader: AudioReader, block: Any, limit: int | None
                           ) -> Iterator[Signal]:
        nonlocal blocks
        blocks += 1
        if blocks > 1:  # the decoder fails after its first block (4096 samples)
            raise av.error.InvalidDataError(-1094995529, "Invalid data found", str(music))
        yield from real(reader, block, limit)

    monkeypatch.setattr(AudioReader, "_counted", failing_after_one)
    with MusicBed(music, total_samples=RATE * 2) as bed:
        bed.read(1_000)  # served from the first chunk
        with pytest.raises(MediaError, match="corrupt") as caught:
            bed.read(4_000)
    assert caught.value.path == music


def test_long_tracks_loop_by_decoding_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    music = _write_wav(tmp_path / "music.wav", _band_noise(0.6, seed=4))
    voice = _voice(3.0, [(0.5, 1.7)])
    with MusicBed(music, total_samples=voice.shape[1]) as bed:
        cached = _read_all(bed, voice)
    monkeypatch.setattr(music_module, "_CACHE_S", 0.1)  # too long to keep: decode every pass
    with MusicBed(music, total_samples=voice.shape[1]) as bed:
        decoded = _read_all(bed, voice)
    np.testing.assert_array_equal(decoded, cached)


def _open_handles(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    count = 0
    for entry in fd_dir.iterdir():
        try:
            count += os.readlink(entry) == str(path)
        except OSError:
            continue
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_close_releases_the_file(tmp_path: Path) -> None:
    music = _write_wav(tmp_path / "music.wav", _band_noise(2.0))
    bed = MusicBed(music, total_samples=RATE * 4)
    bed.read(RATE)
    assert _open_handles(music) == 1
    bed.close()
    bed.close()
    assert _open_handles(music) == 0
    with pytest.raises(ValueError, match="closed"):
        bed.read(10)
    with MusicBed(music, total_samples=RATE * 4) as looping:
        looping.read(RATE * 3)  # past the end of the first pass
    assert _open_handles(music) == 0


def test_settings_are_checked(tmp_path: Path) -> None:
    music = _write_wav(tmp_path / "music.wav", _band_noise(1.0))
    with pytest.raises(ValueError, match="duck_db"):
        MusicBed(music, total_samples=RATE, duck_db=10.0)
    with pytest.raises(ValueError, match="negative"):
        MusicBed(music, total_samples=-1)
    with MusicBed(music, total_samples=RATE) as bed, pytest.raises(ValueError, match="voice"):
        bed.read(100, np.zeros((2, 99), dtype=np.float32))
