"""A draft's AAC: the quick coder, without the stereo searches (``quick_audio``).

FFmpeg ignores an option name it does not know, so the options are checked by what they
do: the packets equal an encode asked for exactly those options, and differ from the
quick coder alone and from the final render's coder.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from storyreel.media.encoder import EncoderSettings, Mp4Encoder

SETTINGS = EncoderSettings(width=64, height=36, fps=Fraction(25))


def _stereo(seconds: float = 4.0) -> np.ndarray:
    """Two channels alike but not equal (where mid/side coding pays), with a transient."""
    t = np.arange(round(seconds * 48_000)) / 48_000
    voice = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    noise = np.random.default_rng(7).standard_normal(t.size) * 0.02
    left, right = voice + noise, 0.8 * voice - noise
    left[t.size // 2: t.size // 2 + 200] += 0.5
    return np.stack([left, right]).astype(np.float32)


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def _ours(path: Path, samples: np.ndarray, *, quick: bool) -> list[bytes]:
    with Mp4Encoder(path, SETTINGS, streams=("audio",), quick_audio=quick) as encoder:
        encoder.write_audio(samples)
        encoder.finish()
    return _packets(path)


def _pyav(path: Path, samples: np.ndarray, options: dict[str, str]) -> list[bytes]:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48_000)
        stream.layout, stream.format = "stereo", "fltp"
        stream.bit_rate = SETTINGS.audio_bitrate
        stream.options = options
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, 0, Fraction(1, 48_000)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return _packets(path)


def test_a_drafts_aac_is_the_quick_coder_without_the_stereo_searches(tmp_path: Path) -> None:
    samples = _stereo()
    quick = _ours(tmp_path / "quick.m4a", samples, quick=True)
    final = _ours(tmp_path / "final.m4a", samples, quick=False)
    wanted = {"aac_coder": "fast", "aac_ms": "0", "aac_is": "0"}
    assert quick == _pyav(tmp_path / "wanted.m4a", samples, wanted)
    assert quick != _pyav(tmp_path / "fast.m4a", samples, {"aac_coder": "fast"})
    assert final == _pyav(tmp_path / "default.m4a", samples, {})
    assert quick != final
