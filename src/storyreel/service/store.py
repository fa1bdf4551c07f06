"""The studio's database: projects, segments and render jobs in SQLite (WAL).

This module owns every SQL statement of the service. Each thread gets its own
connection (SQLite connections must not be shared across threads); all of them
are closed by :meth:`Store.close`. Job state changes are single guarded
``UPDATE`` statements, so two workers, a cancel request and a restart never race
each other into an impossible state.

Projects and segments carry a version counter (the studio's ETags). A write may name
the versions it expects; the check and the write share one ``BEGIN IMMEDIATE``
transaction, and a mismatch raises :class:`StaleVersion` with nothing changed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from storyreel.credentials import redact

__all__ = [
    "JOB_KINDS",
    "MAX_ATTEMPTS",
    "ActiveJobExists",
    "Expected",
    "JobRow",
    "JobState",
    "ProjectRow",
    "SegmentRow",
    "StaleVersion",
    "Store",
]


class JobState(StrEnum):
    """Where a job is in its life: queued -> processing -> completed, failed or cancelled.

    A processing job can also go back to queued (the server stopped during it); a queued
    one can be cancelled or failed without running. Finished states are final.
    """

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        """True while the job waits or runs."""
        return self in (JobState.QUEUED, JobState.PROCESSING)


#: The states each state may be reached from: the only transitions :meth:`Store` makes.
_REACHED_FROM: dict[JobState, tuple[JobState, ...]] = {
    JobState.QUEUED: (JobState.PROCESSING,),
    JobState.PROCESSING: (JobState.QUEUED,),
    JobState.COMPLETED: (JobState.PROCESSING,),
    JobState.FAILED: (JobState.QUEUED, JobState.PROCESSING),
    JobState.CANCELLED: (JobState.QUEUED, JobState.PROCESSING),
}
#: How many times a job interrupted by a server stop is started before it is failed.
MAX_ATTEMPTS = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    chapter TEXT,
    image_prompt TEXT,
    image_file TEXT,
    image_width INTEGER,
    image_height INTEGER,
    audio_file TEXT,
    audio_samples INTEGER,
    narration_from TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_by_project ON segments(project_id, position);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    percent REAL NOT NULL DEFAULT 0,
    rate REAL,
    eta REAL,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    problems TEXT,
    warnings TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    output_file TEXT,
    captions_file TEXT,
    size INTEGER,
    duration REAL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL,
    kind TEXT NOT NULL DEFAULT 'render',
    targets TEXT,
    draft INTEGER NOT NULL DEFAULT 0,
    width INTEGER,
    height INTEGER,
    project_version REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_project ON jobs(project_id, id);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, id);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_job_per_project
    ON jobs(project_id) WHERE status IN ('queued', 'processing');
PRAGMA user_version = 1;
"""
# Columns added after the first release: (table, column, declaration).
_ADDED_COLUMNS = (
    ("segments", "narration_from", "TEXT"),
    ("jobs", "kind", "TEXT NOT NULL DEFAULT 'render'"),
    ("jobs", "targets", "TEXT"),
    ("jobs", "draft", "INTEGER NOT NULL DEFAULT 0"),
    ("jobs", "width", "INTEGER"),
    ("jobs", "height", "INTEGER"),
    ("jobs", "project_version", "REAL"),
    ("segments", "title", "TEXT"),
    ("segments", "video_file", "TEXT"),
    ("segments", "video_width", "INTEGER"),
    ("segments", "video_height", "INTEGER"),
    ("segments", "video_seconds", "REAL"),
    ("segments", "video_fps", "TEXT"),
    ("segments", "clip", "TEXT"),
    ("segments", "focus", "TEXT"),
    ("jobs", "cut", "TEXT"),
    ("segments", "language", "TEXT"),  # its own language tag; NULL: the project's
    # Version counters behind the studio's ETags; existing rows start at 1.
    ("projects", "version", "INTEGER NOT NULL DEFAULT 1"),
    ("segments", "version", "INTEGER NOT NULL DEFAULT 1"),
    # A render for several platforms: its videos as JSON (platform, file, width, height,
    # size); NULL for one video (output_file).
    ("jobs", "outputs", "TEXT"),
)
JOB_KINDS = ("render", "narrate")


class ActiveJobExists(Exception):
    """A project already has a queued or running render."""

    def __init__(self, job: JobRow) -> None:
        self.job = job
        super().__init__(f"project {job.project_id} already has render {job.id} ({job.status})")


#: The versions a conditional write accepts (from ``If-Match``); ``None``: any version.
Expected = frozenset[int] | None


class StaleVersion(Exception):
    """A conditional write found the row at another version than the writer expected.

    Nothing was changed: the check and the write share one transaction.
    """

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"the row is at version {version}")


def _check(version: int, expect: Expected) -> None:
    if expect is not None and version not in expect:
        raise StaleVersion(version)


@dataclass(frozen=True)
class ProjectRow:
    """A project as stored: ``options`` holds width, height, fps and settings.

    ``version`` counts changes of the project's own fields (title, options) and of its
    list of segments (added, deleted, reordered), not of the segments' contents.
    """

    id: int
    title: str
    options: dict[str, Any]
    created_at: float
    updated_at: float
    version: int = 1


@dataclass(frozen=True)
class SegmentRow:
    """A segment as stored; media file names are relative to the project folder."""

    id: int
    project_id: int
    position: int
    text: str
    chapter: str | None
    image_prompt: str | None
    image_file: str | None
    image_width: int | None
    image_height: int | None
    audio_file: str | None
    audio_samples: int | None
    updated_at: float
    narration_from: str | None = None
    title: str | None = None
    video_file: str | None = None
    video_width: int | None = None
    video_height: int | None = None
    video_seconds: float | None = None
    video_fps: str | None = None
    clip: dict[str, Any] | None = None
    version: int = 1
    focus: list[float] | None = None
    language: str | None = None


@dataclass(frozen=True)
class JobRow:
    """A render job and its latest progress."""

    id: int
    project_id: int
    status: str
    phase: str
    done: int
    total: int
    percent: float
    rate: float | None
    eta: float | None
    message: str
    error: str | None
    problems: list[dict[str, Any]] | None
    warnings: list[str]
    attempts: int
    cancel_requested: bool
    worker: str | None
    output_file: str | None
    captions_file: str | None
    size: int | None
    duration: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    kind: str = "render"
    targets: list[int] | None = None
    draft: bool = False
    width: int | None = None
    height: int | None = None
    project_version: float | None = None
    cut: list[int] | None = None
    outputs: list[dict[str, Any]] | None = None


def _project(row: sqlite3.Row) -> ProjectRow:
    return ProjectRow(row["id"], row["title"], json.loads(row["options"]),
                      row["created_at"], row["updated_at"], row["version"])


def _segment(row: sqlite3.Row) -> SegmentRow:
    data = {key: row[key] for key in row.keys()}  # noqa: SIM118
    data["clip"] = json.loads(data["clip"]) if data.get("clip") else None
    data["focus"] = json.loads(data["focus"]) if data.get("focus") else None
    return SegmentRow(**data)


def _segment_values(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as stored: a segment's clip options and focus as JSON."""
    return {**fields, **{name: json.dumps(list(fields[name]) if name == "focus"
                                          else fields[name])
                         for name in ("clip", "focus") if fields.get(name) is not None}}


def _job(row: sqlite3.Row) -> JobRow:
    data = {key: row[key] for key in row.keys()}  # noqa: SIM118
    data["problems"] = json.loads(data["problems"]) if data["problems"] else None
    data["warnings"] = json.loads(data["warnings"]) if data["warnings"] else []
    data["cancel_requested"] = bool(data["cancel_requested"])
    data["targets"] = json.loads(data["targets"]) if data.get("targets") else None
    data["draft"] = bool(data.get("draft"))
    data["cut"] = json.loads(data["cut"]) if data.get("cut") else None
    data["outputs"] = json.loads(data["outputs"]) if data.get("outputs") else None
    return JobRow(**data)


_SEGMENT_FIELDS = {"text", "chapter", "image_prompt", "image_file", "image_width",
                   "image_height", "audio_file", "audio_samples", "narration_from", "title",
                   "video_file", "video_width", "video_height", "video_seconds", "video_fps",
                   "clip", "focus", "language"}


class Store:
    """All persistent state of the studio, in one SQLite file.

    Args:
        path: The database file; created with its tables when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._generation = 0
        db = self._connect()
        db.executescript(_SCHEMA)
        for table, column, declaration in _ADDED_COLUMNS:
            present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    # -- connections -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        cached: tuple[int, sqlite3.Connection] | None = getattr(self._local, "db", None)
        if cached is not None and cached[0] == self._generation:
            return cached[1]
        with self._lock:
            if self._closed:
                raise RuntimeError("the studio database is closed")
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                 check_same_thread=False)
            self._connections.append(db)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=10000")
        self._local.db = (self._generation, db)
        return db

    def open(self) -> None:
        """Allow connections again after :meth:`close` (an app served a second time)."""
        with self._lock:
            self._closed = False

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` so writers queue instead of failing)."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close every connection opened by any thread."""
        with self._lock:
            self._closed = True
            self._generation += 1
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()

    # -- projects --------------------------------------------------------------------------

    def create_project(self, title: str, options: dict[str, Any],
                       segments: list[dict[str, Any]] | None = None) -> ProjectRow:
        """Insert a project and, optionally, its segments in order (one transaction)."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO projects (title, options, created_at, updated_at) VALUES (?,?,?,?)",
                (title, json.dumps(options), now, now),
            )
            project_id = int(cur.lastrowid or 0)
            for position, fields in enumerate(segments or []):
                self._insert_segment(db, project_id, position, fields, now)
        project = self.get_project(project_id)
        assert project is not None
        return project

    def get_project(self, project_id: int) -> ProjectRow | None:
        """The project, or ``None``."""
        row = self._connect().execute("SELECT * FROM projects WHERE id = ?",
                                      (project_id,)).fetchone()
        return _project(row) if row else None

    def list_projects(self) -> list[ProjectRow]:
        """Every project, most recently changed first."""
        rows = self._connect().execute(
            "SELECT * FROM projects ORDER BY updated_at DESC, id DESC").fetchall()
        return [_project(row) for row in rows]

    def update_project(self, project_id: int, *, title: str | None = None,
                       options: dict[str, Any] | None = None,
                       change: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                       expect: Expected = None) -> ProjectRow | None:
        """Change the title and/or the options; ``None`` leaves a field as it is.

        ``change`` makes the new options from the stored ones inside the write
        transaction, so concurrent changes of different settings all survive. ``None``
        when the project does not exist.

        Raises:
            StaleVersion: The project is not at a version in ``expect`` (nothing changed).
        """
        with self._tx() as db:
            row = db.execute("SELECT version, options FROM projects WHERE id = ?",
                             (project_id,)).fetchone()
            if row is None:
                return None
            _check(row["version"], expect)
            if change is not None:
                options = change(json.loads(row["options"]))
            db.execute(
                "UPDATE projects SET title = COALESCE(?, title), "
                "options = COALESCE(?, options), version = version + 1, updated_at = ? "
                "WHERE id = ?",
                (title, json.dumps(options) if options is not None else None, time.time(),
                 project_id),
            )
        return self.get_project(project_id)

    def delete_project(self, project_id: int, expect: Expected = None) -> bool:
        """Delete the project with its segments and jobs; False when it did not exist.

        Raises:
            StaleVersion: The project is not at a version in ``expect`` (nothing deleted).
        """
        with self._tx() as db:
            self._project_version(db, project_id, expect)
            cur = db.execute("DELETE FROM projects WHERE id = ?", (project_id,))
        return cur.rowcount > 0

    @staticmethod
    def _project_version(db: sqlite3.Connection, project_id: int, expect: Expected) -> None:
        """Check the project's version inside a transaction (a missing project passes)."""
        row = db.execute("SELECT version FROM projects WHERE id = ?", (project_id,)).fetchone()
        if row is not None:
            _check(row["version"], expect)

    @staticmethod
    def _bump_project(db: sqlite3.Connection, project_id: int) -> None:
        """A change of the project's list of segments: a new version, changed now."""
        db.execute("UPDATE projects SET version = version + 1, updated_at = ? WHERE id = ?",
                   (time.time(), project_id))

    def touch_project(self, db: sqlite3.Connection, project_id: int) -> None:
        """Mark the project as changed now (inside an open transaction)."""
        db.execute("UPDATE projects SET updated_at = ? WHERE id = ?", (time.time(), project_id))

    # -- segments --------------------------------------------------------------------------

    def _insert_segment(self, db: sqlite3.Connection, project_id: int, position: int,
                        fields: dict[str, Any], now: float) -> int:
        unknown = set(fields) - _SEGMENT_FIELDS
        if unknown:
            raise ValueError(f"unknown segment fields {sorted(unknown)}")
        fields = _segment_values(fields)
        columns = ["project_id", "position", "updated_at", *fields]
        values = [project_id, position, now, *fields.values()]
        marks = ",".join("?" * len(columns))
        cur = db.execute(f"INSERT INTO segments ({','.join(columns)}) VALUES ({marks})", values)
        return int(cur.lastrowid or 0)

    def segments(self, project_id: int) -> list[SegmentRow]:
        """The project's segments in order."""
        rows = self._connect().execute(
            "SELECT * FROM segments WHERE project_id = ? ORDER BY position, id",
            (project_id,)).fetchall()
        return [_segment(row) for row in rows]

    def segment_stats(self) -> dict[int, tuple[int, int]]:
        """Per project: number of segments and total narration in samples (48 kHz)."""
        rows = self._connect().execute(
            "SELECT project_id, COUNT(*) AS n, COALESCE(SUM(audio_samples), 0) AS samples "
            "FROM segments GROUP BY project_id").fetchall()
        return {row["project_id"]: (row["n"], row["samples"]) for row in rows}

    def first_images(self) -> dict[int, tuple[int, str]]:
        """Per project, the id and image file of its first segment that has an image."""
        rows = self._connect().execute(
            "SELECT project_id, id, image_file FROM segments WHERE image_file IS NOT NULL "
            "ORDER BY project_id, position DESC, id DESC").fetchall()
        return {row["project_id"]: (row["id"], row["image_file"]) for row in rows}

    def get_segment(self, project_id: int, segment_id: int) -> SegmentRow | None:
        """The segment if it belongs to the project, else ``None``."""
        row = self._connect().execute(
            "SELECT * FROM segments WHERE id = ? AND project_id = ?",
            (segment_id, project_id)).fetchone()
        return _segment(row) if row else None

    def add_segment(self, project_id: int, fields: dict[str, Any],
                    position: int | None = None, expect: Expected = None) -> SegmentRow:
        """Insert a segment at ``position`` (0-based; default: at the end).

        Raises:
            StaleVersion: The project is not at a version in ``expect`` (nothing added).
        """
        now = time.time()
        with self._tx() as db:
            self._project_version(db, project_id, expect)
            ids = self._ordered_ids(db, project_id)
            index = len(ids) if position is None else max(0, min(position, len(ids)))
            new_id = self._insert_segment(db, project_id, index, fields, now)
            ids.insert(index, new_id)
            self._renumber(db, ids)
            self._bump_project(db, project_id)
        segment = self.get_segment(project_id, new_id)
        assert segment is not None
        return segment

    def update_segment(self, project_id: int, segment_id: int, fields: dict[str, Any],
                       *, position: int | None = None,
                       expect: Expected = None) -> SegmentRow | None:
        """Change some fields of a segment and/or move it to a 0-based ``position``.

        The check of ``expect``, the change and the move are one transaction. ``None``
        when the segment does not exist (in that project).

        Raises:
            StaleVersion: The segment is not at a version in ``expect`` (nothing changed).
        """
        unknown = set(fields) - _SEGMENT_FIELDS
        if unknown:
            raise ValueError(f"unknown segment fields {sorted(unknown)}")
        fields = _segment_values(fields)
        with self._tx() as db:
            row = db.execute("SELECT version FROM segments WHERE id = ? AND project_id = ?",
                             (segment_id, project_id)).fetchone()
            if row is None:
                return None
            _check(row["version"], expect)
            if fields:
                assignments = ", ".join(f"{name} = ?" for name in fields)
                db.execute(
                    f"UPDATE segments SET {assignments}, version = version + 1, "
                    "updated_at = ? WHERE id = ?",
                    (*fields.values(), time.time(), segment_id),
                )
                self.touch_project(db, project_id)
            if position is not None:
                self._place(db, project_id, segment_id, position)
        return self.get_segment(project_id, segment_id)

    def move_segment(self, project_id: int, segment_id: int, position: int) -> bool:
        """Move a segment to a 0-based position; False when it does not exist."""
        with self._tx() as db:
            return self._place(db, project_id, segment_id, position)

    def _place(self, db: sqlite3.Connection, project_id: int, segment_id: int,
               position: int) -> bool:
        ids = self._ordered_ids(db, project_id)
        if segment_id not in ids:
            return False
        ids.remove(segment_id)
        ids.insert(max(0, min(position, len(ids))), segment_id)
        self._renumber(db, ids)
        self._bump_project(db, project_id)
        return True

    def reorder_segments(self, project_id: int, order: list[int],
                         expect: Expected = None) -> bool:
        """Put the segments in the given order; False unless ``order`` lists each exactly once.

        Raises:
            StaleVersion: The project is not at a version in ``expect`` (nothing moved).
        """
        with self._tx() as db:
            self._project_version(db, project_id, expect)
            ids = self._ordered_ids(db, project_id)
            if sorted(order) != sorted(ids) or len(set(order)) != len(order):
                return False
            self._renumber(db, order)
            self._bump_project(db, project_id)
        return True

    def delete_segment(self, project_id: int, segment_id: int,
                       expect: Expected = None) -> SegmentRow | None:
        """Delete a segment and close the gap; returns the deleted row (for its files).

        Raises:
            StaleVersion: The segment is not at a version in ``expect`` (nothing deleted).
        """
        with self._tx() as db:
            row = db.execute("SELECT * FROM segments WHERE id = ? AND project_id = ?",
                             (segment_id, project_id)).fetchone()
            if row is None:
                return None
            segment = _segment(row)
            _check(segment.version, expect)
            db.execute("DELETE FROM segments WHERE id = ?", (segment_id,))
            self._renumber(db, self._ordered_ids(db, project_id))
            self._bump_project(db, project_id)
        return segment

    @staticmethod
    def _ordered_ids(db: sqlite3.Connection, project_id: int) -> list[int]:
        rows = db.execute("SELECT id FROM segments WHERE project_id = ? ORDER BY position, id",
                          (project_id,)).fetchall()
        return [int(row["id"]) for row in rows]

    @staticmethod
    def _renumber(db: sqlite3.Connection, ids: list[int]) -> None:
        db.executemany("UPDATE segments SET position = ? WHERE id = ?",
                       [(position, segment_id) for position, segment_id in enumerate(ids)])

    # -- jobs ------------------------------------------------------------------------------

    def create_job(self, project_id: int, kind: str = "render",
                   targets: list[int] | None = None, *, draft: bool = False,
                   cut: list[int] | None = None) -> JobRow:
        """Queue a job of the project: a ``render`` (a quick ``draft``, or the final video;
        of the 1-based segments ``cut`` only, when given), or ``narrate`` (its ``targets``
        segments).

        The job remembers the project's version (its last change), so a finished video
        can tell when the project changed after it was made.

        Raises:
            ActiveJobExists: The project already has a queued or running job.
        """
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        now = time.time()
        try:
            with self._tx() as db:
                cur = db.execute(
                    "INSERT INTO jobs (project_id, status, message, created_at, updated_at, "
                    "kind, targets, draft, cut, project_version) VALUES (?, 'queued', '', ?, "
                    "?, ?, ?, ?, ?, (SELECT updated_at FROM projects WHERE id = ?))",
                    (project_id, now, now, kind, json.dumps(targets) if targets else None,
                     int(draft), json.dumps(cut) if cut else None, project_id),
                )
        except sqlite3.IntegrityError:
            active = self.active_job(project_id)
            if active is None:
                raise
            raise ActiveJobExists(active) from None
        job = self.get_job(int(cur.lastrowid or 0))
        assert job is not None
        return job

    def get_job(self, job_id: int) -> JobRow | None:
        """The job, or ``None``."""
        row = self._connect().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def active_job(self, project_id: int) -> JobRow | None:
        """The project's queued or running job, if any."""
        row = self._connect().execute(
            "SELECT * FROM jobs WHERE project_id = ? AND status IN ('queued', 'processing')",
            (project_id,)).fetchone()
        return _job(row) if row else None

    def latest_job(self, project_id: int) -> JobRow | None:
        """The project's most recent job, if any."""
        row = self._connect().execute(
            "SELECT * FROM jobs WHERE project_id = ? ORDER BY id DESC LIMIT 1",
            (project_id,)).fetchone()
        return _job(row) if row else None

    def latest_jobs(self) -> dict[int, JobRow]:
        """Each project's most recent job."""
        rows = self._connect().execute(
            "SELECT * FROM jobs WHERE id IN (SELECT MAX(id) FROM jobs GROUP BY project_id)"
        ).fetchall()
        return {row["project_id"]: _job(row) for row in rows}

    def completed_jobs(self, project_id: int | None = None) -> list[JobRow]:
        """Finished renders, newest first (optionally of one project)."""
        sql = "SELECT * FROM jobs WHERE status = 'completed' AND kind = 'render'"
        params: tuple[Any, ...] = ()
        if project_id is not None:
            sql += " AND project_id = ?"
            params = (project_id,)
        rows = self._connect().execute(sql + " ORDER BY finished_at DESC, id DESC",
                                       params).fetchall()
        return [_job(row) for row in rows]

    def _transition(self, db: sqlite3.Connection, job_id: int, to: JobState,
                    **fields: Any) -> bool:
        """Move a job to ``to`` if its current state allows it, setting ``fields`` too.

        The one place a job's state changes: a single guarded ``UPDATE`` (inside the
        caller's transaction), so racing workers, cancels and restarts cannot produce an
        impossible state. Returns False when the job was not in a state ``to`` follows.
        """
        now = time.time()
        values: dict[str, Any] = {**fields, "status": to.value, "updated_at": now}
        if to in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED):
            values.setdefault("finished_at", now)
            values.setdefault("eta", None)
        if to is JobState.QUEUED:
            values.update(phase="", done=0, total=0, percent=0, rate=None, eta=None,
                          worker=None)
        sources = _REACHED_FROM[to]
        assignments = ", ".join(f"{name} = ?" for name in values)
        marks = ",".join("?" * len(sources))
        cur = db.execute(
            f"UPDATE jobs SET {assignments} WHERE id = ? AND status IN ({marks})",
            (*values.values(), job_id, *(state.value for state in sources)))
        return cur.rowcount > 0

    def _move(self, job_id: int, to: JobState, **fields: Any) -> bool:
        with self._tx() as db:
            return self._transition(db, job_id, to, **fields)

    def claim_job(self, worker: str) -> JobRow | None:
        """Atomically take the oldest queued job and mark it processing for ``worker``."""
        with self._tx() as db:
            row = db.execute("SELECT id, attempts FROM jobs WHERE status = 'queued' "
                             "AND cancel_requested = 0 ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            self._transition(db, row["id"], JobState.PROCESSING, worker=worker,
                             attempts=row["attempts"] + 1, started_at=time.time(),
                             phase="starting", done=0, total=0, percent=0, rate=None,
                             eta=None, message="")
        return self.get_job(int(row["id"]))

    def record_progress(self, job_id: int, *, phase: str, done: int, total: int,
                        percent: float, rate: float | None, eta: float | None,
                        message: str) -> bool:
        """Store a progress update; False once the job is no longer processing."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET phase = ?, done = ?, total = ?, percent = ?, rate = ?, eta = ?, "
                "message = ?, updated_at = ? WHERE id = ? AND status = 'processing'",
                (phase, done, total, percent, rate, eta, message, time.time(), job_id),
            )
        return cur.rowcount > 0

    def complete_job(self, job_id: int, *, output_file: str, captions_file: str | None,
                     size: int, duration: float, frames: int, message: str,
                     warnings: list[str] | None = None,
                     frame_size: tuple[int, int] | None = None,
                     project_version: float | None = None,
                     outputs: list[dict[str, Any]] | None = None) -> bool:
        """Mark a processing job completed with its output (``frame_size``: width, height).

        ``outputs``: a render for several platforms' videos (``platform``, ``file``,
        ``width``, ``height``, ``size``); ``output_file`` is then the first one's.

        ``project_version``: the project's ``updated_at`` the output matches, when the job
        itself changed the project (narrations it attached) after it was queued.
        """
        width, height = frame_size or (None, None)
        version = {} if project_version is None else {"project_version": project_version}
        return self._move(
            job_id, JobState.COMPLETED, phase="done", percent=100, done=frames, total=frames,
            eta=0, output_file=output_file, captions_file=captions_file, size=size,
            duration=duration, message=message, width=width, height=height,
            warnings=json.dumps(warnings) if warnings else None,
            outputs=json.dumps(outputs) if outputs else None, **version)

    def fail_job(self, job_id: int, error: str,
                 problems: list[dict[str, Any]] | None = None) -> bool:
        """Mark a queued or processing job failed with a reason (a password in a URL it
        quotes is hidden: the reason is shown by ``/status/`` and kept)."""
        return self._move(job_id, JobState.FAILED, error=redact(error), message="",
                          problems=json.dumps(problems) if problems else None)

    def finish_cancelled(self, job_id: int) -> bool:
        """Mark a job cancelled (after its worker stopped, or while still queued)."""
        return self._move(job_id, JobState.CANCELLED, message="")

    def request_cancel(self, project_id: int) -> JobRow | None:
        """Cancel the project's active job: queued jobs at once, running ones via their worker.

        Returns:
            The job after the change, or ``None`` when nothing was queued or running.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT id, status FROM jobs WHERE project_id = ? "
                "AND status IN ('queued', 'processing')", (project_id,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?",
                       (time.time(), row["id"]))
            if row["status"] == JobState.QUEUED:
                self._transition(db, row["id"], JobState.CANCELLED, message="")
        return self.get_job(int(row["id"]))

    def cancel_requested(self, job_id: int) -> bool:
        """True once someone asked to cancel the job."""
        row = self._connect().execute("SELECT cancel_requested FROM jobs WHERE id = ?",
                                      (job_id,)).fetchone()
        return bool(row and row["cancel_requested"])

    def requeue(self, job_id: int, message: str) -> bool:
        """Put a job stopped by a server shutdown back in the queue (the try is not counted)."""
        with self._tx() as db:
            row = db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
            attempts = max(int(row["attempts"]) - 1, 0) if row else 0
            return self._transition(db, job_id, JobState.QUEUED, message=message,
                                    attempts=attempts)

    def recover_interrupted(self, reason: str) -> tuple[list[int], list[int]]:
        """Deal with jobs left 'processing' by a server that stopped mid-render.

        Jobs with attempts left go back to the queue; the others fail with ``reason``.

        Returns:
            The ids of the re-queued jobs and of the failed ones.
        """
        with self._tx() as db:
            rows = db.execute("SELECT id, attempts, cancel_requested FROM jobs "
                              "WHERE status = 'processing'").fetchall()
            retried, failed = [], []
            for row in rows:
                if row["cancel_requested"]:
                    self._transition(db, row["id"], JobState.CANCELLED, message="")
                elif row["attempts"] < MAX_ATTEMPTS:
                    self._transition(db, row["id"], JobState.QUEUED, message="restarted")
                    retried.append(int(row["id"]))
                else:
                    self._transition(db, row["id"], JobState.FAILED, message="",
                                     error=f"{reason} (tried {row['attempts']} times)")
                    failed.append(int(row["id"]))
        return retried, failed

    def has_queued(self) -> bool:
        """True when a job waits for a worker."""
        row = self._connect().execute(
            "SELECT 1 FROM jobs WHERE status = 'queued' LIMIT 1").fetchone()
        return row is not None
