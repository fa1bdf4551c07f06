"""The narration cache: synthesised narrations kept under a hash of what shaped them.

An entry is ``<key>.wav`` (16-bit mono at the engine's rate) and ``<key>.json`` (where
each word is spoken); the key hashes the engine, its version, the voice, speed,
language and the normalised text, so editing one segment never re-synthesises another.
Files are written to a unique temp name and published with :func:`os.replace`, the
JSON last, so a reader sees a whole entry or none. The cache is capped: the least
recently used entries go first. A render *holds* the entries it uses (hard links in
a private folder), so another render trimming the cache cannot pull them away.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from storyreel.errors import OutputError, output_error

__all__ = ["CacheEntry", "Holder", "NarrationCache", "NarrationWriter", "Spans",
           "default_cache_dir", "narration_key", "write_wav"]

#: Per token of the normalised text, the sample range (48 kHz) where it is spoken.
Spans = list[tuple[int, int] | None]

DEFAULT_MAX_BYTES = 2_000_000_000
_STALE_SECONDS = 24 * 3600


def default_cache_dir() -> Path:
    """``STORYREEL_CACHE_DIR``, else ``$XDG_CACHE_HOME/storyreel`` (``~/.cache/storyreel``)."""
    explicit = os.environ.get("STORYREEL_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "storyreel"


def narration_key(engine: str, version: str, voice: str, speed: float, language: str | None,
                  text: str) -> str:
    """The hash of everything that shapes a narration."""
    shape = {"engine": engine, "version": version, "voice": voice, "speed": round(speed, 4),
             "language": language, "text": text}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:40]


@dataclass(frozen=True)
class CacheEntry:
    """A cached narration.

    Attributes:
        key: Its hash.
        wav: The audio file.
        spans: Where each token of the normalised text is spoken (48 kHz samples).
        source: ``engine`` or ``aligned`` when the spans are real, ``estimated`` otherwise.
    """

    key: str
    wav: Path
    spans: Spans
    source: str


class NarrationCache:
    """A folder of narrations, capped in size, safe to share between renders.

    Args:
        root: The cache folder (default :func:`default_cache_dir`).
        max_bytes: Size cap (default ``STORYREEL_CACHE_MB`` megabytes, else 2 GB).
    """

    def __init__(self, root: Path | None = None, max_bytes: int | None = None) -> None:
        self.folder = (root or default_cache_dir()) / "narration"
        if max_bytes is None:
            mb = os.environ.get("STORYREEL_CACHE_MB")
            max_bytes = int(float(mb) * 1_000_000) if mb else DEFAULT_MAX_BYTES
        self.max_bytes = max_bytes

    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key``, marked as just used; ``None`` when absent or damaged."""
        wav, meta = self._paths(key)
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            spans: Spans = [None if s is None else (int(s[0]), int(s[1])) for s in data["spans"]]
            now = time.time()
            os.utime(wav, (now, now))
            os.utime(meta, (now, now))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        return CacheEntry(key, wav, spans, str(data.get("source", "estimated")))

    def put(self, key: str, samples: NDArray[np.float32], rate: int, spans: Spans,
            source: str) -> CacheEntry:
        """Store a narration atomically, then trim the cache to its cap.

        Raises:
            OutputError: The cache folder cannot be written.
        """
        with self.writing(key) as writer:
            writer.write(samples, rate)
            return writer.publish(spans, source)

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[NarrationWriter]:
        """A narration written as it is spoken, published whole by
        :meth:`NarrationWriter.publish` (nothing is published when the block fails).

        Raises:
            OutputError: The cache folder cannot be written.
        """
        wav, _ = self._paths(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(exc, self.folder) from exc
        with _temp_beside(wav) as temp:
            writer = NarrationWriter(self, key, temp)
            try:
                yield writer
            finally:
                writer.close()

    def _publish(self, key: str, temp: Path, spans: Spans, source: str, rate: int,
                 samples: int) -> CacheEntry:
        wav, meta = self._paths(key)
        try:
            os.replace(temp, wav)
            payload = json.dumps({"spans": [None if s is None else list(s) for s in spans],
                                  "source": source, "rate": rate, "samples": samples})
            with _temp_beside(meta) as temp_meta:
                temp_meta.write_text(payload, encoding="utf-8")
                os.replace(temp_meta, meta)
        except OSError as exc:
            raise output_error(exc, self.folder) from exc
        self.trim(keep=key)
        return CacheEntry(key, wav, spans, source)

    def trim(self, keep: str | None = None) -> None:
        """Remove the least recently used entries until the cache fits its cap."""
        entries = []
        with contextlib.suppress(OSError):
            for wav in self.folder.glob("*.wav"):
                stat = wav.stat()
                entries.append((stat.st_mtime, stat.st_size, wav))
        total = sum(size for _, size, _ in entries)
        for _, size, wav in sorted(entries):
            if total <= self.max_bytes:
                break
            if wav.stem == keep:
                continue
            for path in (wav.with_suffix(".json"), wav):  # the JSON first: no half entries
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            total -= size
        self._sweep()

    @contextlib.contextmanager
    def hold(self) -> Iterator[Holder]:
        """A private folder where a render keeps the entries it uses until it ends."""
        self.folder.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".held-", dir=self.folder))
        try:
            yield Holder(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.wav", self.folder / f"{key}.json"

    def _sweep(self) -> None:
        """Remove temp files and held folders left by processes that died."""
        cutoff = time.time() - _STALE_SECONDS
        with contextlib.suppress(OSError):
            for path in self.folder.glob(".*"):
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < cutoff:
                        if path.is_dir():
                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            path.unlink()


class NarrationWriter:
    """A cache entry's audio, written piece by piece (16-bit mono) to a temp file."""

    def __init__(self, cache: NarrationCache, key: str, temp: Path) -> None:
        self._cache = cache
        self._key = key
        self._temp = temp
        self._wav: wave.Wave_write | None = None
        self.rate = 0
        self.samples = 0

    def write(self, samples: NDArray[np.float32], rate: int) -> None:
        """Append mono float samples at ``rate`` (the same rate every time).

        Raises:
            OutputError: The cache folder cannot be written.
        """
        if self._wav is None:
            try:
                # Owned by the writer: closed by close(), which writing() calls in finally.
                self._wav = wave.open(str(self._temp), "wb")  # noqa: SIM115
                self._wav.setnchannels(1)
                self._wav.setsampwidth(2)
                self._wav.setframerate(rate)
            except OSError as exc:
                raise output_error(exc, self._cache.folder) from exc
            self.rate = rate
        if rate != self.rate:
            raise ValueError(f"samples at {rate} Hz written to a narration at {self.rate} Hz")
        try:
            self._wav.writeframes(_pcm(samples).tobytes())
        except OSError as exc:
            raise output_error(exc, self._cache.folder) from exc
        self.samples += len(samples)

    def close(self) -> None:
        """Close the file (its header then gives its length)."""
        if self._wav is not None:
            wav, self._wav = self._wav, None
            try:
                wav.close()
            except OSError as exc:
                raise output_error(exc, self._cache.folder) from exc

    def publish(self, spans: Spans, source: str) -> CacheEntry:
        """Give the written audio its key, with its word spans, and trim the cache.

        Raises:
            OutputError: The cache folder cannot be written.
        """
        if self._wav is None:
            raise ValueError("a narration without audio cannot be published")
        self.close()
        return self._cache._publish(self._key, self._temp, spans, source, self.rate,
                                    self.samples)


class Holder:
    """Keeps cache entries alive for one render (hard links, or copies where links fail)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keep(self, entry: CacheEntry) -> Path:
        """A path to ``entry``'s audio that stays valid until the hold ends."""
        target = self.folder / entry.wav.name
        if target.exists():
            return target
        try:
            os.link(entry.wav, target)
        except OSError:
            try:
                shutil.copyfile(entry.wav, target)
            except OSError as exc:
                raise OutputError("cannot keep a cached narration", entry.wav) from exc
        return target


@contextlib.contextmanager
def _temp_beside(path: Path) -> Iterator[Path]:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def write_wav(path: Path, samples: NDArray[np.float32], rate: int) -> None:
    """Write mono float samples as a 16-bit PCM WAV (dithered nowhere: speech is loud enough)."""
    pcm = _pcm(samples)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def _pcm(samples: NDArray[np.float32]) -> NDArray[np.int16]:
    pcm: NDArray[np.int16] = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    return pcm
