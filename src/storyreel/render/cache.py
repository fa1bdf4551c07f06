"""The part cache: encoded parts and sound tracks kept between renders.

Entries are files named by the hash of everything that shaped them
(:mod:`storyreel.render.keys`), so an entry is never updated, only written once and
read many times. An entry is written under a temporary name in ``tmp/`` and renamed
into place only when complete (and flushed), so a render that is killed leaves at
most an unnamed partial file, which the next render sweeps and never reads. Two
renders may share a cache: both may write the same entry (the rename is atomic and
the contents are the same), and a render takes a hard link of every entry it uses
into its own work folder, so an eviction by the other render cannot pull a file
from under it. The cache is held to a size by evicting the least recently used
entries; using an entry refreshes its time.

Layout::

    <root>/parts/<ab>/<key>.mp4     encoded video parts (and <key>.json: what
    <root>/sound/<ab>/<key>.m4a     encoded sound tracks  was learnt making them)
    <root>/facts/<ab>/<key>.facts   what analysing an input found (JSON: a
                                    narration's length, speech and word timings)
    <root>/tmp/                     entries being written
    <root>/work/<id>/               one render's links to the entries it uses
    <root>/new/<id>/                a render's folder while it is made and locked
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storyreel.errors import output_error

__all__ = ["CACHE_DIR_NAME", "DEFAULT_MAX_BYTES", "CacheStats", "PartCache"]

#: Default size cap of a cache: 4 GB.
DEFAULT_MAX_BYTES = 4_000_000_000
#: The folder beside a manifest where the command line keeps its cache.
CACHE_DIR_NAME = ".storyreel-cache"
_KINDS = {"parts": ".mp4", "sound": ".m4a", "facts": ".facts"}
_STALE_TMP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class CacheStats:
    """What a cache holds."""

    root: Path
    entries: int
    size: int
    max_bytes: int
    kinds: dict[str, int] = field(default_factory=dict)
    """Entries of each kind: ``parts``, ``sound`` and ``facts`` (narration analyses)."""


class PartCache:
    """Encoded parts and sound tracks on disk, under ``root``, at most ``max_bytes``."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path(self, kind: str, key: str) -> Path:
        """Where the entry ``key`` of ``kind`` (``parts``, ``sound`` or ``facts``) lives."""
        return self.root / kind / key[:2] / f"{key}{_KINDS[kind]}"

    def take(self, kind: str, key: str, dest: Path) -> dict[str, Any] | None:
        """Link the entry to ``dest`` and mark it used.

        Returns:
            What was stored with the entry, or ``None`` when there is no such entry.
        """
        source = self.path(kind, key)
        try:
            notes = json.loads(source.with_suffix(".json").read_text(encoding="utf-8"))
            _link_or_copy(source, dest)
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):
            os.utime(source)
        return notes if isinstance(notes, dict) else None

    def put(self, kind: str, key: str, source: Path, notes: dict[str, Any]) -> None:
        """Store the complete file ``source`` (it stays where it is) and ``notes`` as ``key``."""
        final = self.path(kind, key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            with self._staged(key) as tmp:
                tmp.write_text(json.dumps(notes), encoding="utf-8")
                os.replace(tmp, final.with_suffix(".json"))
            with self._staged(key) as tmp:
                _link_or_copy(source, tmp)
                with tmp.open("rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, final)
        except OSError as exc:
            raise output_error(exc, final) from exc

    def recall(self, key: str) -> dict[str, Any] | None:
        """The facts kept under ``key`` (and mark them used), or ``None``."""
        path = self.path("facts", key)
        try:
            facts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return facts if isinstance(facts, dict) else None

    def remember(self, key: str, facts: dict[str, Any]) -> None:
        """Keep ``facts`` (JSON-serialisable) under ``key``."""
        final = self.path("facts", key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            with self._staged(key) as tmp:
                tmp.write_text(json.dumps(facts), encoding="utf-8")
                os.replace(tmp, final)
        except OSError as exc:
            raise output_error(exc, final) from exc

    @contextlib.contextmanager
    def _staged(self, key: str) -> Iterator[Path]:
        tmp = self.root / "tmp" / f"{key}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part"
        try:
            yield tmp
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def drop(self, kind: str, key: str) -> None:
        """Remove an entry found to be unusable."""
        _remove(self.path(kind, key))

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Path]:
        """A folder of this render's own, removed on exit; stale ones are swept first."""
        self.sweep()
        name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Made and locked under new/, then renamed into work/: a folder in work/ is
        # locked from the moment it appears, so another render's sweep never takes a
        # live render's folder for a dead one's.
        staged, work = self.root / "new" / name, self.root / "work" / name
        try:
            staged.mkdir(parents=True)
            lock = (staged / ".lock").open("w")
        except OSError as exc:
            raise output_error(exc, staged) from exc
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                work.parent.mkdir(exist_ok=True)
                os.rename(staged, work)
            except OSError as exc:
                raise output_error(exc, work) from exc
            yield work
        finally:
            lock.close()
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(staged, ignore_errors=True)

    def sweep(self) -> None:
        """Remove what killed renders left: unlocked work folders, old partial entries."""
        for work in _children(self.root / "work"):
            with contextlib.suppress(OSError), (work / ".lock").open("a") as lock:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # a live render holds it
                shutil.rmtree(work, ignore_errors=True)
        now = time.time()
        for part in _children(self.root / "tmp"):
            with contextlib.suppress(OSError):
                if now - part.stat().st_mtime > _STALE_TMP_SECONDS:
                    part.unlink()
        for staged in _children(self.root / "new"):  # a render killed while starting
            with contextlib.suppress(OSError):
                if now - staged.stat().st_mtime > _STALE_TMP_SECONDS:
                    shutil.rmtree(staged, ignore_errors=True)

    def entries(self) -> list[tuple[Path, int, float]]:
        """Every entry as (path, size, last use), oldest use first."""
        found = []
        for kind in _KINDS:
            for folder in _children(self.root / kind):
                for entry in _children(folder):
                    if entry.suffix == ".json":
                        continue
                    with contextlib.suppress(OSError):
                        stat = entry.stat()
                        found.append((entry, stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda e: e[2])

    def evict(self, keep: frozenset[Path] = frozenset()) -> int:
        """Remove least recently used entries (never those in ``keep``) down to the cap.

        Returns:
            Bytes removed.
        """
        entries = self.entries()
        size = sum(e[1] for e in entries)
        removed = 0
        for path, length, _ in entries:
            if size - removed <= self.max_bytes:
                break
            if path in keep:
                continue
            removed += length if _remove(path) else 0
        return removed

    def stats(self) -> CacheStats:
        """Entries and bytes held."""
        entries = self.entries()
        kinds = {kind: 0 for kind in _KINDS}
        for path, _, _ in entries:
            kinds[path.parent.parent.name] += 1
        return CacheStats(self.root, len(entries), sum(e[1] for e in entries), self.max_bytes,
                          kinds)

    def clear(self) -> int:
        """Remove every entry (renders in progress keep what they linked); returns bytes freed."""
        freed = 0
        for path, length, _ in self.entries():
            freed += length if _remove(path) else 0
        self.sweep()
        return freed


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except FileNotFoundError:
        raise
    except OSError:  # no hard links here (some network or FAT file systems)
        shutil.copyfile(source, dest)


def _remove(entry: Path) -> bool:
    """Remove an entry and its notes; False when it was already gone."""
    try:
        entry.unlink()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        entry.with_suffix(".json").unlink()
    return True


def _children(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []
