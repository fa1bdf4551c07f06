"""Background music under the narration, streamed block by block.

:class:`MusicBed` decodes the music file as it goes (never the whole file at
once), loops it with a short equal-power crossfade at the seam or lets it end,
sets its level, fades it out over the last seconds of the video, and ducks it
while the narration speaks. Ducking is driven by the narration block that will be
mixed with the music: its level is measured every 5 ms, a voice keeps the music
down for a short hold after it stops (so gaps between words do not pump), and
the music gain moves towards its target with separate attack and release times,
interpolated per sample so it never steps.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.fades import block_positions, crossfade, equal_power_out
from storyreel.errors import MediaError
from storyreel.media.audio import AudioReader, take_front
from storyreel.media.files import check_regular_file

__all__ = ["Ducker", "MusicBed"]

Samples = NDArray[np.float32]

_CHANNELS = 2
#: Length of the crossfade where a looped track joins its own start.
_LOOP_CROSSFADE_S = 0.05
#: Tracks up to this long are kept in memory after the first pass instead of re-decoded.
_CACHE_S = 20.0
#: Ducking works on the voice level measured over frames this long.
_FRAME_S = 0.005
#: The music stays ducked this long after the voice falls silent, so it does not
#: pump up between words and short phrases.
_HOLD_S = 0.4


class MusicBed:
    """The music track of a render, read in step with the narration.

    Example::

        with MusicBed(path, total_samples=plan.total_samples) as music:
            while ...:
                voice = narration.read_until(end)
                mix = voice + music.read(voice.shape[1], voice)
    """

    def __init__(
        self,
        path: Path,
        *,
        total_samples: int,
        volume_db: float = -18.0,
        fade_out_s: float = 3.0,
        loop: bool = True,
        duck_db: float = -10.0,
        attack_ms: float = 40.0,
        release_ms: float = 300.0,
        voice_threshold_db: float = -45.0,
        sample_rate: int = 48_000,
        decoded: Samples | None = None,
    ) -> None:
        """Open the music file and decode its start (so a bad file fails here).

        Args:
            path: Any audio file FFmpeg reads (MP3, WAV, FLAC, OGG, M4A...).
            total_samples: Length of the video in samples; the music ends there.
            volume_db: Music level relative to the file (negative is quieter).
            fade_out_s: Fade-out over the last seconds before ``total_samples``.
            loop: Repeat a track shorter than the video (otherwise silence follows it).
            duck_db: Gain while the narration speaks, in dB (0 or negative).
            attack_ms: Time constant of the music going down when the voice starts.
            release_ms: Time constant of the music coming back up in a pause.
            voice_threshold_db: Narration level (RMS over 5 ms, dBFS) that counts as voice.
            sample_rate: Output sample rate.
            decoded: The file already decoded whole at ``sample_rate`` (``None``: it is
                decoded as it is read).

        Raises:
            MediaError: The file is missing, unreadable, not audio, corrupt or empty.
            ValueError: A setting is out of range.
        """
        if total_samples < 0:
            raise ValueError(f"total_samples must not be negative, not {total_samples}")
        if duck_db > 0:
            raise ValueError(
                f"duck_db lowers the music, so it must be 0 or negative, not {duck_db}"
            )
        if fade_out_s < 0 or attack_ms <= 0 or release_ms <= 0:
            raise ValueError("fade_out_s must not be negative; attack and release must be positive")
        self.path = Path(path)
        check_regular_file(self.path, "music")
        self.total_samples = total_samples
        self._gain = 10.0 ** (volume_db / 20.0)
        self._fade_len = round(fade_out_s * sample_rate)
        self._fade_start = total_samples - self._fade_len
        self._pos = 0
        self._ducker = Ducker(sample_rate, duck_db, attack_ms, release_ms, voice_threshold_db)
        self._closed = False
        self._source = _LoopingSource(self.path, sample_rate, loop, decoded)

    @property
    def position(self) -> int:
        """Samples read so far."""
        return self._pos

    def read(self, n: int, voice_block: Samples | None = None) -> Samples:
        """The next ``n`` samples of music, levelled, faded and ducked under ``voice_block``.

        Args:
            n: Samples to read.
            voice_block: The narration that plays over these samples, shape ``(2, n)``;
                ``None`` for no ducking.

        Returns:
            Music of shape ``(2, n)`` (silence past ``total_samples``).

        Raises:
            MediaError: The file turned out to be corrupt while decoding.
        """
        if self._closed:
            raise ValueError("music bed is closed")
        if n < 0:
            raise ValueError(f"cannot read {n} samples")
        if voice_block is not None and voice_block.shape[-1] != n:
            raise ValueError(f"voice block has {voice_block.shape[-1]} samples, expected {n}")
        start, self._pos = self._pos, self._pos + n
        playing = max(0, min(n, self.total_samples - start))
        out = np.zeros((_CHANNELS, n), dtype=np.float32)
        if voice_block is not None:
            ducking = self._ducker.gains(voice_block)
        else:
            ducking = self._ducker.gains(np.zeros((_CHANNELS, n), dtype=np.float32))
        if playing == 0:
            return out
        gain = ducking[:playing] * np.float32(self._gain)
        if self._fade_len > 0:
            positions = block_positions(start, playing)
            gain *= equal_power_out(positions, self._fade_start, self._fade_len)
        out[:, :playing] = self._source.take(playing) * gain
        return out

    def close(self) -> None:
        """Release the decoder (safe to call more than once)."""
        self._closed = True
        self._source.close()

    def __enter__(self) -> MusicBed:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _decode(path: Path, sample_rate: int) -> Iterator[Samples]:
    """Decode ``path`` block by block to float32 stereo at ``sample_rate``."""
    with AudioReader(path, what="music", max_seconds=None, sample_rate=sample_rate,
                     keep_mono_level=False) as reader:
        yield from reader.blocks()


class _LoopingSource:
    """The decoded music as one endless (looped) or finite (zero-padded) stream.

    While looping, the last ``crossfade`` samples of a pass are held back so they can
    be blended with the start of the next pass once the end of the file shows up.
    """

    def __init__(self, path: Path, sample_rate: int, loop: bool,
                 decoded: Samples | None = None) -> None:
        self._path = path
        self._decoded = decoded
        self._rate = sample_rate
        self._loop = loop
        self._chunks: Iterator[Samples] | None = None
        self._buffer: list[Samples] = []
        self._buffered = 0
        self._ended = False
        self._pass_samples = 0
        self._track: int | None = None  # length of one pass, known after the first
        self._cache: list[Samples] | None = []  # the first pass, while it stays short
        self._seam = round(_LOOP_CROSSFADE_S * sample_rate) if loop else 0
        self._open()
        self._fill(1)

    def take(self, n: int) -> Samples:
        """The next ``n`` samples, shape ``(2, n)``."""
        self._fill(n + self._seam)
        out, rest = take_front(self._buffer, n)
        self._buffer = [rest] if rest.shape[1] else []
        self._buffered = rest.shape[1]
        return out

    def close(self) -> None:
        chunks, self._chunks = self._chunks, None
        if isinstance(chunks, Generator):
            chunks.close()  # closes the container inside the generator

    def _open(self) -> None:
        self.close()
        if self._decoded is not None:
            self._chunks = iter([self._decoded])
        elif self._cache is not None and self._track is not None:
            self._chunks = iter(list(self._cache))
        else:
            self._chunks = _decode(self._path, self._rate)
        self._pass_samples = 0

    def _next_chunk(self) -> Samples | None:
        return None if self._chunks is None else next(self._chunks, None)

    def _fill(self, wanted: int) -> None:
        while self._buffered < wanted and not self._ended:
            chunk = self._next_chunk()
            if chunk is None:
                self._end_of_pass()
            elif chunk.shape[1]:
                self._append(chunk)

    def _append(self, chunk: Samples) -> None:
        self._buffer.append(chunk)
        self._buffered += chunk.shape[1]
        self._pass_samples += chunk.shape[1]
        if self._track is None and self._cache is not None:
            self._cache.append(chunk)
            if self._pass_samples > _CACHE_S * self._rate:
                self._cache = None

    def _end_of_pass(self) -> None:
        if self._track is None:
            if self._pass_samples == 0:
                raise MediaError("music file has no audio samples", path=self._path)
            self._track = self._pass_samples
        if not self._loop:
            self._ended = True
            self.close()
            return
        held = self._join()
        self._seam = min(self._seam, self._track // 2, held.shape[1])
        self._open()
        head = self._read_head(self._seam)
        if self._seam:
            tail = held[:, held.shape[1] - self._seam :]
            blended = crossfade(tail, head[:, : self._seam], 0, 0, self._seam)
            held = np.concatenate([held[:, : held.shape[1] - self._seam], blended], axis=1)
        self._buffer = [held, head[:, self._seam :]]
        self._buffered = held.shape[1] + head.shape[1] - self._seam

    def _read_head(self, n: int) -> Samples:
        """At least ``n`` samples from the start of the new pass (fewer only if it is empty)."""
        chunks: list[Samples] = []
        got = 0
        while got < max(n, 1):
            chunk = self._next_chunk()
            if chunk is None:
                break
            chunks.append(chunk)
            got += chunk.shape[1]
            self._pass_samples += chunk.shape[1]
        if not chunks:
            raise MediaError("music file could not be read again to loop it", path=self._path)
        return np.concatenate(chunks, axis=1)

    def _join(self) -> Samples:
        if not self._buffer:
            return np.zeros((_CHANNELS, 0), dtype=np.float32)
        if len(self._buffer) > 1:
            self._buffer = [np.concatenate(self._buffer, axis=1)]
        return self._buffer[0]


class Ducker:
    """Per-sample gain of a sound under the narration (music, a clip's own sound) that
    follows the narration's presence."""

    def __init__(
        self,
        sample_rate: int,
        duck_db: float,
        attack_ms: float = 40.0,
        release_ms: float = 300.0,
        threshold_db: float = -45.0,
    ) -> None:
        self._frame = max(1, round(_FRAME_S * sample_rate))
        self._duck_db = duck_db
        self._attack = math.exp(-self._frame / (attack_ms / 1000 * sample_rate))
        self._release = math.exp(-self._frame / (release_ms / 1000 * sample_rate))
        self._threshold = 10.0 ** (threshold_db / 10.0) * self._frame  # energy per frame
        self._hold_frames = round(_HOLD_S / _FRAME_S)
        self._energy = 0.0
        self._fill = 0
        self._quiet_frames = self._hold_frames  # frames since the voice was last heard
        self._level_db = 0.0
        self._points = [0.0, 0.0]  # gain (dB) at the end of the last two finished frames
        self._pos = 0

    def gains(self, voice: Samples) -> Samples:
        """Linear music gains for the samples that ``voice`` covers."""
        n = voice.shape[-1]
        if self._duck_db == 0 or n == 0:
            self._pos += n
            return np.ones(n, dtype=np.float32)
        power = np.square(voice, dtype=np.float64).mean(axis=0)
        frames_before = self._pos // self._frame
        self._measure(power)
        # Samples of frame k glide from the gain at the end of frame k-2 to that at the
        # end of frame k-1: both are known once frame k starts, whatever the block size.
        positions = np.arange(self._pos, self._pos + n)
        frame = positions // self._frame
        first = frames_before - 2
        points = np.asarray(self._points, dtype=np.float64)
        lo = points[frame - 2 - first]
        hi = points[frame - 1 - first]
        through = ((positions % self._frame) + 1) / self._frame
        self._points = self._points[-2:]
        self._pos += n
        return np.asarray(10.0 ** ((lo + (hi - lo) * through) / 20.0), dtype=np.float32)

    def _measure(self, power: NDArray[np.float64]) -> None:
        room = self._frame - self._fill
        if power.size < room:
            self._energy += float(power.sum())
            self._fill += power.size
            return
        self._finish_frame(self._energy + float(power[:room].sum()))
        rest = power[room:]
        whole = rest.size // self._frame
        for energy in rest[: whole * self._frame].reshape(whole, self._frame).sum(axis=1):
            self._finish_frame(float(energy))
        tail = rest[whole * self._frame :]
        self._energy = float(tail.sum())
        self._fill = tail.size

    def _finish_frame(self, energy: float) -> None:
        self._quiet_frames = 0 if energy > self._threshold else self._quiet_frames + 1
        target = self._duck_db if self._quiet_frames < self._hold_frames else 0.0
        coefficient = self._attack if target < self._level_db else self._release
        self._level_db = target + (self._level_db - target) * coefficient
        self._points.append(self._level_db)
