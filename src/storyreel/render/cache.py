"""The part cache: encoded parts and sound tracks kept between renders.

Entries are files named by the hash of everything that shaped them
(:mod:`storyreel.render.keys`), so an entry is never updated, only written once and
read many times. Each is stored with the SHA-256 of its contents, checked whenever it
is reused: an entry that was damaged, replaced or planted (a symlink) is dropped and
made again, never published. An entry is written under a temporary name in ``tmp/`` and renamed
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
                                    narration's length, speech and word timings;
                                    a picture's focus)
    <root>/tmp/                     entries being written
    <root>/work/<id>/               one render's links to the entries it uses
    <root>/new/<id>/                a render's folder while it is made and locked
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
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
#: Where an entry's notes keep the checksum of its contents.
_CHECK = "check"
_MAX_NOTES = 64 << 20  # notes and facts are small; a huge file is not read whole

log = logging.getLogger("storyreel")


@dataclass(frozen=True)
class CacheStats:
    """What a cache holds."""

    root: Path
    entries: int
    size: int
    max_bytes: int
    kinds: dict[str, int] = field(default_factory=dict)
    """Entries of each kind: ``parts``, ``sound`` and ``facts`` (what analysing a
    narration or finding a picture's focus found)."""


class PartCache:
    """Encoded parts and sound tracks on disk, under ``root``, at most ``max_bytes``."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def unwritable(self) -> str | None:
        """Why this cache cannot be written (a read-only folder, a file in its way), or
        ``None`` when it can: a render then goes on without it."""
        try:
            for folder in ("tmp", "work", "new"):
                (self.root / folder).mkdir(parents=True, exist_ok=True)
            probe = self.root / "tmp" / f".probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            return exc.strerror or type(exc).__name__
        return None

    def path(self, kind: str, key: str) -> Path:
        """Where the entry ``key`` of ``kind`` (``parts``, ``sound`` or ``facts``) lives."""
        return self.root / kind / key[:2] / f"{key}{_KINDS[kind]}"

    def take(self, kind: str, key: str, dest: Path) -> dict[str, Any] | None:
        """Link the entry to ``dest`` and mark it used, once its checksum matches.

        An entry that is not a regular file inside the cache (a planted symlink), whose
        notes do not read, or whose contents do not match the checksum stored with it
        (damaged, scrambled, or made before checksums were kept) is dropped, so it is
        made again.

        Returns:
            What was stored with the entry, or ``None`` when there is no usable entry.
        """
        source = self.path(kind, key)
        try:
            notes = json.loads(_read_regular(source.with_suffix(".json")))
            check = notes.pop(_CHECK)
            if not self._holds(source):
                raise ValueError("not a regular file inside the cache")
            _link_or_copy(source, dest)
            if _checksum(dest) != check:
                raise ValueError("its contents do not match its checksum")
        except FileNotFoundError:
            _discard(dest)
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            _discard(dest)
            self.drop(kind, key)
            log.warning("cache: dropped %s entry %s (%s); it is made again", kind, key[:12],
                        exc)
            return None
        with contextlib.suppress(OSError):
            os.utime(source)
        return notes if isinstance(notes, dict) else None

    def put(self, kind: str, key: str, source: Path, notes: dict[str, Any]) -> None:
        """Store the complete file ``source`` (it stays where it is) and ``notes`` as ``key``,
        with a checksum of its contents that :meth:`take` checks."""
        final = self.path(kind, key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            checked = {**notes, _CHECK: _checksum(source)}
            with self._staged(key) as tmp:
                tmp.write_text(json.dumps(checked), encoding="utf-8")
                os.replace(tmp, final.with_suffix(".json"))
            with self._staged(key) as tmp:
                _link_or_copy(source, tmp)
                with tmp.open("rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, final)
        except OSError as exc:
            raise output_error(exc, final) from exc

    def recall(self, key: str) -> dict[str, Any] | None:
        """The facts kept under ``key`` (and mark them used), or ``None``; facts that do
        not match their checksum are dropped."""
        path = self.path("facts", key)
        try:
            kept = json.loads(_read_regular(path))
            facts = kept["facts"]
            if kept[_CHECK] != _facts_checksum(facts) or not self._holds(path):
                raise ValueError("the facts do not match their checksum")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _remove(path)
            log.warning("cache: dropped facts %s (%s); they are found again", key[:12], exc)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return facts if isinstance(facts, dict) else None

    def remember(self, key: str, facts: dict[str, Any]) -> None:
        """Keep ``facts`` (JSON-serialisable) under ``key``, with their checksum."""
        final = self.path("facts", key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            with self._staged(key) as tmp:
                tmp.write_text(json.dumps({"facts": facts, _CHECK: _facts_checksum(facts)}),
                               encoding="utf-8")
                os.replace(tmp, final)
        except OSError as exc:
            raise output_error(exc, final) from exc

    def _holds(self, entry: Path) -> bool:
        """True when ``entry`` is a regular file (no symlink) inside the cache folder."""
        try:
            regular = stat.S_ISREG(os.lstat(entry).st_mode)
            return regular and entry.resolve().is_relative_to(self.root.resolve())
        except (OSError, RuntimeError):
            return False

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


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path``, refusing a symlink in its place."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        facts = os.fstat(handle.fileno())
        if not stat.S_ISREG(facts.st_mode):
            raise ValueError("not a regular file")
        # Its size, not the limit: read(n) allocates n bytes first (64 MB of address
        # space for every note, though only what is read is touched).
        return handle.read(min(facts.st_size + 1, _MAX_NOTES))


def _checksum(path: Path) -> dict[str, Any]:
    """SHA-256 and length of a file's contents (a symlink in its place is refused)."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "size": size}


def _facts_checksum(facts: Any) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


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
