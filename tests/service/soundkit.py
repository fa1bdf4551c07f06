"""What a video says: its sound read back with PyAV, and how closely it follows a narration.

A render's sound is the narrations mixed, loudness-normalised and AAC-encoded, so it is
never equal to a narration sample for sample; but its normalised cross-correlation with
the narration it was made from stays high (about 0.9), while a narration of other words
falls well below it.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.narrate import Narrator

RATE = 48_000


def decoded_sound(path: Path) -> NDArray[np.float64]:
    """A file's first sound stream as mono float samples at 48 kHz (decoded by PyAV)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    pieces: list[NDArray[np.float32]] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            pieces.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        pieces.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return np.concatenate(pieces).astype(np.float64)


def fresh_speech(text: str, cache_root: Path) -> NDArray[np.float64]:
    """``text`` spoken now by the project's default voice, through a cache of its own."""
    narration = Narrator(NarrationCache(cache_root)).speak(text, Voice())
    return decoded_sound(narration.entry.wav)


def likeness(sound: NDArray[np.float64], speech: NDArray[np.float64]) -> float:
    """The best normalised cross-correlation of ``speech`` with any stretch of ``sound``
    (1.0: the same waveform, at whatever time it is said)."""
    if len(sound) < len(speech):
        sound = np.concatenate([sound, np.zeros(len(speech) - len(sound))])
    size = 1 << (len(sound) + len(speech)).bit_length()
    shifts = len(sound) - len(speech) + 1
    products = np.fft.irfft(np.fft.rfft(sound, size) * np.conj(np.fft.rfft(speech, size)),
                            size)[:shifts]
    energy = np.concatenate([[0.0], np.cumsum(sound**2)])
    windows = energy[len(speech): len(speech) + shifts] - energy[:shifts]
    norms = np.sqrt(np.maximum(windows, 1e-12)) * np.linalg.norm(speech)
    return float(np.max(products / norms))
