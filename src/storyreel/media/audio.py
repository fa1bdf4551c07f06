"""Narration decoding: any common format and rate, resampled to 48 kHz stereo float."""

from __future__ import annotations

from pathlib import Path

import av
import av.error
import numpy as np
from av.audio.resampler import AudioResampler
from numpy.typing import NDArray

from storyreel.errors import MediaError
from storyreel.timeline.plan import SAMPLE_RATE

__all__ = ["CHANNELS", "MAX_NARRATION_SECONDS", "SAMPLE_RATE", "Samples", "decode_audio"]

CHANNELS = 2
#: Longest narration accepted for one segment.
MAX_NARRATION_SECONDS = 3 * 3600

Samples = NDArray[np.float32]  # shape (CHANNELS, n), values in [-1, 1]


def decode_audio(
    path: Path, segment: int | None = None, *, max_seconds: float = MAX_NARRATION_SECONDS
) -> Samples:
    """Decode the first audio stream of ``path`` to 48 kHz stereo float32.

    Args:
        path: A WAV, MP3, FLAC, OGG, M4A... file (anything FFmpeg reads).
        segment: 1-based segment number, for error messages.
        max_seconds: Longest accepted duration.

    Returns:
        An array of shape ``(2, n)`` with ``n > 0``.

    Raises:
        MediaError: Missing, unreadable, not audio, corrupt, empty or too long.
    """
    if not path.is_file():
        raise MediaError("audio file not found", path=path, segment=segment)
    try:
        chunks = _decode(path, segment, max_seconds)
    except MediaError:
        raise
    except PermissionError as exc:
        raise MediaError("audio file is not readable (permission denied)", path=path,
                         segment=segment) from exc
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"audio is corrupt or not a supported format ({_reason(exc)})",
                         path=path, segment=segment) from exc
    if not chunks:
        raise MediaError("audio is empty (no samples)", path=path, segment=segment)
    samples = np.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.ascontiguousarray(samples, dtype=np.float32)


def _decode(path: Path, segment: int | None, max_seconds: float) -> list[Samples]:
    limit = int(max_seconds * SAMPLE_RATE)
    total = 0
    chunks: list[Samples] = []
    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise MediaError("file has no audio stream", path=path, segment=segment)
        stream = container.streams.audio[0]
        # A mono voice goes to both speakers at its own level (FFmpeg's upmix would
        # lower it by 3 dB); anything with more channels is downmixed to stereo.
        mono = stream.codec_context.channels == 1
        resampler = AudioResampler(format="fltp", layout="mono" if mono else "stereo",
                                   rate=SAMPLE_RATE)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(_stereo(out.to_ndarray()))
                total += out.samples
            if total > limit:
                raise MediaError(f"audio is longer than {max_seconds / 3600:g} h", path=path,
                                 segment=segment)
        for out in resampler.resample(None):
            chunks.append(_stereo(out.to_ndarray()))
    return [c for c in chunks if c.shape[1]]


def _stereo(block: np.ndarray) -> Samples:
    data = block.astype(np.float32, copy=False)
    return np.repeat(data, CHANNELS, axis=0) if data.shape[0] == 1 else data


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
