"""The final sound track, streamed: narrations + clip sound + music, faded, normalised.

:class:`Mix` reads the whole track block by block in timeline order. Loudness
normalisation is two-pass: a first :class:`Mix` streams once through a meter, a
second one applies the gain and a true-peak limiter while the video is encoded.
The limiter's look-ahead is hidden by reading ahead by its latency, so the output
stays sample-aligned with the video.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from storyreel.audio.fades import apply_fade
from storyreel.audio.limiter import Limiter
from storyreel.audio.loudness import LoudnessMeter
from storyreel.audio.music import Ducker, MusicBed
from storyreel.audio.track import Placement, SoundLoader, Track
from storyreel.media.audio import CHANNELS, Samples

__all__ = ["Fades", "Mix", "MusicSpec", "measure"]


@dataclass(frozen=True)
class Fades:
    """Master fade in/out lengths in samples (0 for none)."""

    fade_in: int = 0
    fade_out: int = 0


@dataclass(frozen=True)
class MusicSpec:
    """Background music settings, in the units :class:`MusicBed` takes."""

    path: Path
    volume_db: float
    loop: bool
    fade_out_s: float
    duck_db: float
    #: The file already decoded whole (``None``: decoded as it is read).
    samples: Samples | None = None


class Mix:
    """Streams the final mix from sample 0 to ``total``."""

    def __init__(
        self,
        placements: list[Placement],
        load: SoundLoader,
        total: int,
        *,
        fades: Fades = Fades(),
        music: MusicSpec | None = None,
        gain_db: float = 0.0,
        ceiling_dbtp: float | None = None,
        sample_rate: int = 48_000,
        beds: list[Placement] | None = None,
        bed_duck_db: float = -10.0,
    ) -> None:
        self._voice = Track(placements, load, total)
        # Sounds heard under the narration (segments' clips), ducked while it speaks.
        self._beds = Track(beds, load, total) if beds else None
        self._bed_ducker = Ducker(sample_rate, bed_duck_db)
        self._total = total
        self._fades = fades
        self._gain = np.float32(10 ** (gain_db / 20))
        self._pos = 0
        self._music: MusicBed | None = None
        if music is not None:
            self._music = MusicBed(
                music.path,
                total_samples=total, volume_db=music.volume_db, fade_out_s=music.fade_out_s,
                loop=music.loop, duck_db=music.duck_db, decoded=music.samples,
            )
        self._limiter = Limiter(ceiling_dbtp, sample_rate) if ceiling_dbtp is not None else None
        self._primed = False
        self._out = 0  # output position when a limiter delays the signal

    def __enter__(self) -> Mix:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the narration, clip sound and music decoders."""
        self._voice.close()
        if self._beds is not None:
            self._beds.close()
        if self._music is not None:
            self._music.close()
            self._music = None

    @property
    def total(self) -> int:
        """Length of the mix in samples."""
        return self._total

    def _raw(self, end: int) -> Samples:
        """Mix, fade and gain up to ``end`` (past the track end: silence)."""
        start = self._pos
        voice = self._voice.read_until(end)
        n = max(0, min(end, self._total) - start)
        block = voice[:, :n]
        if self._beds is not None:
            beds = self._beds.read_until(end)[:, :n]
            block = block + beds * self._bed_ducker.gains(block)
        if self._music is not None and n:
            block = block + self._music.read(n, voice[:, :n])
        if self._fades.fade_in and start < self._fades.fade_in:
            block = apply_fade(block, start, 0, self._fades.fade_in, "in")
        fade_out_start = self._total - self._fades.fade_out
        if self._fades.fade_out and start + n > fade_out_start:
            block = apply_fade(block, start, fade_out_start, self._fades.fade_out, "out")
        if self._gain != 1.0:
            block = block * self._gain
        pad = max(0, end - max(start, self._total))
        self._pos = max(start, end)  # silence past the end counts as read too
        if pad:
            block = np.concatenate([block, np.zeros((CHANNELS, pad), np.float32)], axis=1)
        return np.ascontiguousarray(block, dtype=np.float32)

    def read_until(self, end: int) -> Samples:
        """The final samples from the current output position up to ``end``."""
        end = min(end, self._total)
        if self._limiter is None:
            return self._raw(end)
        latency = self._limiter.latency
        if not self._primed:
            self._primed = True
            self._limiter.process(self._raw(latency))
            self._out = 0
        count = max(0, end - self._out)
        if count == 0:
            return np.zeros((CHANNELS, 0), dtype=np.float32)
        ahead = self._raw(self._out + latency + count)
        self._out += count
        return self._limiter.process(ahead)


def measure(mix: Mix, block: int = 48_000, on_block: Callable[[], None] | None = None
            ) -> tuple[float, float]:
    """Stream ``mix`` through a loudness meter.

    Returns:
        Integrated loudness in LUFS (``-inf`` for silence) and true peak in dBTP.
    """
    meter = LoudnessMeter()
    position = 0
    while position < mix.total:
        position = min(position + block, mix.total)
        meter.add(mix.read_until(position))
        if on_block is not None:
            on_block()
    return meter.integrated_lufs(), meter.true_peak_dbtp()
