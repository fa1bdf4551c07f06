"""Audio decoding: one streaming reader for every sound the engine reads.

:class:`AudioReader` decodes the first audio stream of a file block by block and
resamples it to 48 kHz stereo float. Narration, music, uploads and the check of a
finished render all read through it, so none of them holds more than a block or two
in memory, whatever the file's length. The length limit is checked twice: from the
container's own duration before anything is decoded, and by counting samples while
decoding (a container may lie about its length).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import numpy as np
from av.audio.resampler import AudioResampler
from numpy.typing import NDArray

from storyreel.errors import MediaError
from storyreel.media.files import check_regular_file, file_identity, reason
from storyreel.timeline.plan import SAMPLE_RATE

__all__ = [
    "CHANNELS",
    "DRAFT_SOUNDS",
    "MAX_NARRATION_SECONDS",
    "SAMPLE_RATE",
    "AudioReader",
    "DecodedSounds",
    "Samples",
    "decode_audio",
    "take_front",
]

CHANNELS = 2
#: Longest narration accepted for one segment.
MAX_NARRATION_SECONDS = 3 * 3600
# FFmpeg reads up to 5 MB to learn a file's streams: a whole narration's WAV, 11 ms
# an open. The first 32 kB describe a WAV, MP3 or FLAC; other files are read again
# the usual way when they are not described by then.
_QUICK_PROBE = 32 * 1024

Samples = NDArray[np.float32]  # shape (CHANNELS, n), values in [-1, 1]


class AudioReader:
    """The sound of a file as a stream of 48 kHz stereo float32 blocks.

    Example::

        with AudioReader(path, segment=3) as reader:
            for block in reader.blocks():   # each of shape (2, n)
                ...

    Args:
        path: A WAV, MP3, FLAC, OGG, M4A... file (anything FFmpeg reads).
        segment: 1-based segment number, for error messages.
        what: What the file is, for error messages (``audio``, ``music``...).
        max_seconds: Longest accepted duration; ``None`` for no limit.
        sample_rate: Output rate.
        keep_mono_level: Play a mono file at its own level on both speakers (for voices);
            otherwise FFmpeg's upmix lowers it by 3 dB.

    Raises:
        MediaError: When opening: missing, not a regular file, unreadable, not audio, or
            declaring a duration over ``max_seconds``.
    """

    def __init__(self, path: Path, *, segment: int | None = None, what: str = "audio",
                 max_seconds: float | None = MAX_NARRATION_SECONDS,
                 sample_rate: int = SAMPLE_RATE, keep_mono_level: bool = True) -> None:
        self.path = Path(path)
        self.segment = segment
        self.what = what
        self.max_seconds = max_seconds
        self.sample_rate = sample_rate
        self.samples_read = 0
        self._pending: list[Samples] = []
        self._pending_size = 0
        self._blocks: Iterator[Samples] | None = None
        check_regular_file(self.path, what, segment)
        self._container = self._open()
        try:
            self.format = self._container.format.name.split(",")[0]
            if not self._container.streams.audio:
                raise self._error(f"{'file' if what == 'audio' else what + ' file'} has no "
                                  "audio stream")
            self._stream = self._container.streams.audio[0]
            self.declared_seconds = self._declared_seconds()
            if max_seconds is not None and self.declared_seconds > max_seconds:
                raise self._too_long()
            mono = keep_mono_level and self._stream.codec_context.channels == 1
            self._resampler = AudioResampler(format="fltp", layout="mono" if mono else "stereo",
                                             rate=sample_rate)
        except BaseException:
            self._container.close()
            raise

    def _open(self) -> av.container.InputContainer:
        """The file opened after a quick look at its start, or a full one when needed."""
        with self._translated():
            quick = av.open(str(self.path), metadata_errors="ignore",
                            options={"probesize": str(_QUICK_PROBE)})
            try:
                described = _described(quick)
            except BaseException:
                quick.close()
                raise
            if described:
                return quick
            quick.close()
            return av.open(str(self.path), metadata_errors="ignore")

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder (safe to call more than once)."""
        self._pending = []
        blocks, self._blocks = self._blocks, None
        if isinstance(blocks, Generator):
            blocks.close()  # before the container: a suspended decode holds its codec
        self._container.close()

    def _declared_seconds(self) -> float:
        """The duration the container states (0 when it states none)."""
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return (self._container.duration or 0) / 1_000_000

    def blocks(self) -> Iterator[Samples]:
        """The decoded sound, block by block, each of shape ``(2, n)`` with ``n > 0``.

        Raises:
            MediaError: Corrupt data, or more sound than ``max_seconds``.
        """
        if self._blocks is None:
            self._blocks = self._decode()
        return self._blocks

    def read(self, n: int) -> Samples:
        """The next ``n`` samples, shape ``(2, n)``; zeros once the sound has ended."""
        blocks = self.blocks()
        while self._pending_size < n:
            block = next(blocks, None)
            if block is None:
                break
            self._pending.append(block)
            self._pending_size += block.shape[1]
        out, rest = take_front(self._pending, n)
        self._pending = [rest] if rest.shape[1] else []
        self._pending_size = rest.shape[1]
        return out

    def _decode(self) -> Iterator[Samples]:
        limit = None if self.max_seconds is None else int(self.max_seconds * self.sample_rate)
        with self._translated():
            for frame in self._container.decode(self._stream):
                for out in self._resampler.resample(frame):
                    yield from self._counted(out.to_ndarray(), limit)
            for out in self._resampler.resample(None):
                yield from self._counted(out.to_ndarray(), limit)

    def _counted(self, block: NDArray[Any], limit: int | None) -> Iterator[Samples]:
        if not block.shape[1]:
            return
        self.samples_read += block.shape[1]
        if limit is not None and self.samples_read > limit:
            raise self._too_long()
        data = block.astype(np.float32, copy=False)
        if data.shape[0] == 1:
            data = np.repeat(data, CHANNELS, axis=0)
        if not np.all(np.isfinite(data)):
            data = np.nan_to_num(data, nan=0.0, posinf=1.0, neginf=-1.0)
        yield np.ascontiguousarray(data, dtype=np.float32)

    def _too_long(self) -> MediaError:
        assert self.max_seconds is not None
        hours = self.max_seconds / 3600
        limit = f"{hours:g} h" if hours >= 1 else f"{self.max_seconds / 60:g} minutes"
        return self._error(f"{self.what} is longer than {limit}")

    def _error(self, message: str) -> MediaError:
        return MediaError(message, path=self.path, segment=self.segment)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """PyAV's and the OS's errors become a :class:`MediaError` naming the file."""
        try:
            yield
        except PermissionError as exc:
            raise self._error(f"{self.what} file is not readable (permission denied)") from exc
        except (av.error.FFmpegError, OSError, ValueError, EOFError) as exc:
            raise self._error(f"{self.what} is corrupt or not a supported format "
                              f"({reason(exc)})") from exc


def _described(container: av.container.InputContainer) -> bool:
    """True when the container's audio streams state their layout and rate (or it has none)."""
    return all(stream.codec_context.channels > 0 and stream.codec_context.sample_rate > 0
               and stream.codec_context.format is not None
               for stream in container.streams.audio)


def take_front(chunks: Sequence[Samples], n: int) -> tuple[Samples, Samples]:
    """The first ``n`` samples of ``chunks`` joined (zero-padded to ``n``), and the rest."""
    if not chunks:
        return np.zeros((CHANNELS, n), dtype=np.float32), np.zeros((CHANNELS, 0), np.float32)
    joined = np.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]
    out = np.zeros((CHANNELS, n), dtype=np.float32)
    got = min(n, joined.shape[1])
    out[:, :got] = joined[:, :got]
    return out, joined[:, got:]


def decode_audio(
    path: Path, segment: int | None = None, *, max_seconds: float = MAX_NARRATION_SECONDS
) -> Samples:
    """Decode a whole (short) file to 48 kHz stereo float32, shape ``(2, n)`` with ``n > 0``.

    For sounds whose length is bounded (clip sound); narration and music are streamed
    with :class:`AudioReader`.

    Raises:
        MediaError: Missing, unreadable, not audio, corrupt, empty or too long.
    """
    with AudioReader(path, segment=segment, max_seconds=max_seconds) as reader:
        chunks = list(reader.blocks())
    if not chunks:
        raise MediaError("audio is empty (no samples)", path=path, segment=segment)
    return np.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]


class DecodedSounds:
    """Whole sounds decoded once and kept in memory, by file, up to a budget of bytes.

    A render process that drafts one project after each small edit reads the same
    narrations and music every time; kept here, the ones that did not change are not
    decoded and resampled again. A file is known by its path, size, modification time
    and inode, so a file written anew is decoded anew. The least recently used sounds
    are dropped beyond ``budget`` bytes, and a sound longer than a quarter of it is
    never kept (:meth:`samples` returns ``None``: stream it).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._kept: OrderedDict[tuple[object, ...], Samples] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size

    def samples(self, path: Path, *, segment: int | None = None, what: str = "audio",
                max_seconds: float | None = MAX_NARRATION_SECONDS,
                keep_mono_level: bool = True) -> Samples | None:
        """The whole sound of ``path`` as :class:`AudioReader` decodes it (arguments as
        there), from memory when kept; ``None`` when it is too long to keep.

        Raises:
            MediaError: As :class:`AudioReader`.
        """
        check_regular_file(Path(path), what, segment)
        key = (*file_identity(Path(path)), keep_mono_level)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
        most = self.budget // 4
        with AudioReader(path, segment=segment, what=what, max_seconds=max_seconds,
                         keep_mono_level=keep_mono_level) as reader:
            if reader.declared_seconds * SAMPLE_RATE * CHANNELS * 4 > most:
                return None
            chunks: list[Samples] = []
            for block in reader.blocks():
                chunks.append(block)
                if reader.samples_read * CHANNELS * 4 > most:
                    return None
        decoded = np.concatenate(chunks, axis=1) if chunks else np.zeros((CHANNELS, 0),
                                                                          np.float32)
        decoded.setflags(write=False)  # shared by every render that reads it
        self._keep(key, decoded)
        return decoded

    def _keep(self, key: tuple[object, ...], decoded: Samples) -> None:
        with self._lock:
            if key in self._kept:
                return
            self._kept[key] = decoded
            self._size += decoded.nbytes
            while self._size > self.budget and self._kept:
                _, dropped = self._kept.popitem(last=False)
                self._size -= dropped.nbytes


#: What a draft keeps decoded for the next draft in this process: about 2.5 minutes of
#: sound at 48 kHz stereo float.
DRAFT_SOUNDS = DecodedSounds(48 * 2**20)
