"""The watcher's queue and heartbeat, in an SQLite database only the instructor can open.

``grader/watch/<assignment>/queue.sqlite`` under the course root holds one row per
submission (:class:`Entry`) and one row about the watcher (:class:`Heartbeat`): which
process runs, since when, when it last looked at the exchange. Every change is one
transaction (SQLite's rollback journal, ``synchronous=FULL``), so a watcher killed at any
moment leaves the queue as it was before or after a change, never half of one.

On a shared hub every student has a shell. The database is therefore reached through
folders opened one by one without following links (``dir_fd``), each owned by the
instructor and writable by no one else (``grader/watch`` and the assignment's folder are
made ``0700``); the database file is created ``0600`` by this module before SQLite opens
it, and refused when it is a link, not the instructor's, or open to others (a classmate
who could read it may still hold it open). SQLite then opens it by path; the path must
still name the checked file once it is open, and SQLite refuses to write to a file whose
path has since been moved (``SQLITE_READONLY_DBMOVED``). A journal beside it that is not
the instructor's own regular file is refused too: SQLite would roll it into the queue.

A queue kept by an earlier version as ``queue.jsonl`` in the same folder is copied in
once (in one transaction) and renamed ``queue.jsonl.migrated``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import sqlite3
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

from autograder.grading import deadline, state
from autograder.grading.watch.entries import (
    Entry,
    Heartbeat,
    QueueState,
    entry_from,
    iso,
    parse_time,
)
from autograder.grading.watch.private_files import (
    FOLDER_FLAGS,
    check_private_file,
    private_folder,
)
from autograder.grading.watch.settings import WatchError

DATABASE = "queue.sqlite"
LEGACY_QUEUE = "queue.jsonl"
_JOURNALS = ("-journal", "-wal", "-shm")
_SCHEMA_VERSION = 3
_FILE_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


_FIELDS = tuple(f.name for f in dataclasses.fields(Entry))
_Row = tuple[str | int | float | None, ...]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order submissions were seen
    id TEXT NOT NULL UNIQUE,
    student TEXT NOT NULL,
    timestamp TEXT,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(str(s)) for s in QueueState)})),
    seen_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    not_before TEXT,
    status TEXT,
    score REAL,
    max_score REAL,
    reason TEXT NOT NULL,
    feedback TEXT,
    attempts INTEGER NOT NULL,
    device INTEGER,
    inode INTEGER,
    counts INTEGER,
    counting TEXT NOT NULL DEFAULT '',
    collected_at TEXT,
    graded_at TEXT,
    feedback_at TEXT,
    released_at TEXT
);
CREATE TABLE IF NOT EXISTS heartbeat (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    alive_at TEXT NOT NULL,
    scanned_at TEXT,
    stopped_at TEXT
);
"""
#: From each schema to the next: 2 added ``Watch.counts``'s columns, 3 the ends of STAGES.
_UPGRADES = {
    1: (
        "ALTER TABLE entries ADD COLUMN counts INTEGER",
        "ALTER TABLE entries ADD COLUMN counting TEXT NOT NULL DEFAULT ''",
    ),
    2: tuple(
        f"ALTER TABLE entries ADD COLUMN {name} TEXT"
        for name in ("collected_at", "graded_at", "feedback_at", "released_at")
    ),
}


def _row(entry: Entry) -> _Row:
    values = dataclasses.astuple(entry)
    return tuple(
        iso(v) if isinstance(v, datetime.datetime) else (str(v) if isinstance(v, str) else v)
        for v in values
    )


def queue_folder(course_root: Path, assignment: str) -> Path:
    """Return the folder of ``assignment``'s queue database."""
    return state.grader_folder(course_root) / "watch" / state.check_student_id(assignment)


def queue_path(course_root: Path, assignment: str) -> Path:
    """Return ``assignment``'s queue database."""
    return queue_folder(course_root, assignment) / DATABASE


def _close(connection: sqlite3.Connection, folder_fd: int) -> None:
    try:
        connection.close()
    finally:
        os.close(folder_fd)


class QueueStore:
    """The queue database of one assignment, opened safely (see the module docstring)."""

    def __init__(self, folder: Path, folder_fd: int, connection: sqlite3.Connection) -> None:
        self.folder = folder
        self._folder_fd = folder_fd
        self._db = connection
        self._closed = weakref.finalize(self, _close, connection, folder_fd)
        self._saved: dict[str, _Row] = {}
        #: Lines of a migrated ``queue.jsonl`` that could not be read (left out).
        self.skipped_legacy = 0
        self.migrated_legacy = 0

    @classmethod
    def open(
        cls, course_root: Path, assignment: str, *, create: bool = True, read_only: bool = False
    ) -> QueueStore | None:
        """Open ``assignment``'s queue, creating it with ``create``; None if there is none.

        ``read_only`` opens an existing queue to read it (SQLite's ``mode=ro``, and
        ``query_only``): nothing is created, upgraded or migrated, and a queue of another
        schema is refused until its watcher has upgraded it.
        """
        create = create and not read_only
        folder = queue_folder(Path(course_root), assignment)
        fd = os.open(course_root, FOLDER_FLAGS & ~os.O_NOFOLLOW)  # the root may be a link
        parts = folder.relative_to(course_root).parts
        try:
            for depth, part in enumerate(parts):
                where = Path(course_root, *parts[: depth + 1])
                mode = 0o755 if depth == 0 else 0o700  # grader/ is shared with state.py
                parent, fd = fd, private_folder(fd, part, where, create=create, mode=mode)
                os.close(parent)
        except FileNotFoundError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return cls._connect(folder, fd, create=create, read_only=read_only)

    @classmethod
    def _connect(cls, folder: Path, fd: int, *, create: bool, read_only: bool) -> QueueStore | None:
        """Open the database in the checked folder ``fd`` (owned from here on: closed on error)."""
        try:
            checked = cls._check_files(folder, fd, create=create, read_only=read_only)
            if checked is None:
                os.close(fd)
                return None
            path = folder / DATABASE
            # One thread at a time uses a store; the garbage collector may close it in another.
            connection = sqlite3.connect(
                f"{path.as_uri()}?mode=ro" if read_only else path,
                isolation_level=None,
                timeout=30,
                check_same_thread=False,
                uri=read_only,
            )
        except BaseException:
            os.close(fd)
            raise
        store = cls(folder, fd, connection)
        try:
            connection.execute("PRAGMA schema_version").fetchone()  # the file is open now
            now = os.stat(folder / DATABASE, follow_symlinks=False)
            if (now.st_dev, now.st_ino) != (checked.st_dev, checked.st_ino):
                raise WatchError(f"{folder / DATABASE} was replaced while it was opened")
            if read_only:
                store._check_readable()
            else:
                store._prepare()
                if check_private_file(fd, LEGACY_QUEUE, folder) is not None:
                    store._migrate()
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def _check_files(
        folder: Path, fd: int, *, create: bool, read_only: bool = False
    ) -> os.stat_result | None:
        """Check the database and its journals; create the database (0600) with ``create``.

        Returns the database's ``lstat``, or None when there is none to open.
        """
        for suffix in _JOURNALS:
            check_private_file(fd, DATABASE + suffix, folder)
        legacy = check_private_file(fd, LEGACY_QUEUE, folder)
        if check_private_file(fd, DATABASE, folder) is None:
            if read_only or (not create and legacy is None):
                return None
            os.close(os.open(DATABASE, _FILE_FLAGS | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=fd))
        return check_private_file(fd, DATABASE, folder)

    def close(self) -> None:
        """Close the database and the folder."""
        self._closed()

    def __enter__(self) -> QueueStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one transaction: all of its changes are kept, or none."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:  # Ctrl-C too, right after BEGIN or before COMMIT: never left open
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _check_readable(self) -> None:
        """Make this connection read-only and check the queue's schema is this version's."""
        self._db.execute("PRAGMA trusted_schema = OFF")
        self._db.execute("PRAGMA query_only = ON")
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version != _SCHEMA_VERSION:
            raise WatchError(
                f"{self.folder / DATABASE} has schema {version}, not {_SCHEMA_VERSION}: its "
                "watcher upgrades it when it starts (an nn-autograde of the same version)"
            )

    def _prepare(self) -> None:
        """Set this connection's safety settings; create the tables in a new database."""
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA trusted_schema = OFF")
        (mode,) = self._db.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() != "delete":
            self._db.execute("PRAGMA journal_mode = DELETE")
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > _SCHEMA_VERSION:
            raise WatchError(
                f"{self.folder / DATABASE} was written by a newer nn-autograde (schema "
                f"{version}): upgrade this one"
            )
        if version == _SCHEMA_VERSION:
            return  # readers such as `queue` write nothing
        if version == 0:  # a new database
            statements = [s for s in _SCHEMA.split(";") if s.strip()]
        else:  # a queue of an earlier version, upgraded one schema at a time
            statements = [s for v in range(version, _SCHEMA_VERSION) for s in _UPGRADES[v]]
        with self.transaction() as db:
            for statement in statements:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _migrate(self) -> None:
        """Copy the entries of a ``queue.jsonl`` in, then rename it ``queue.jsonl.migrated``."""
        fd = os.open(
            LEGACY_QUEUE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._folder_fd
        )
        with os.fdopen(fd, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        entries = []
        for line in lines:
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                entries.append(entry_from(data))
            except ValueError:
                self.skipped_legacy += 1
        with self.transaction() as db:
            db.executemany(self._insert(ignore=True), [_row(e) for e in entries])
        self.migrated_legacy = len(entries)
        os.rename(
            LEGACY_QUEUE,
            LEGACY_QUEUE + ".migrated",
            src_dir_fd=self._folder_fd,
            dst_dir_fd=self._folder_fd,
        )

    @staticmethod
    def _insert(*, ignore: bool) -> str:
        columns = ", ".join(_FIELDS)
        marks = ", ".join("?" for _ in _FIELDS)
        if ignore:
            return f"INSERT OR IGNORE INTO entries ({columns}) VALUES ({marks})"
        updates = ", ".join(f"{f} = excluded.{f}" for f in _FIELDS if f != "id")
        return (
            f"INSERT INTO entries ({columns}) VALUES ({marks}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}"
        )

    # -- the queue -------------------------------------------------------------------------

    def load(self) -> list[Entry]:
        """Return the queue's entries in the order they were seen."""
        cursor = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM entries ORDER BY seq")
        entries = [entry_from(dict(zip(_FIELDS, row, strict=True))) for row in cursor]
        self._saved = {e.id: _row(e) for e in entries}
        return entries

    def save(self, entries: Iterable[Entry]) -> int:
        """Write the entries that changed since they were loaded or saved, in one transaction.

        Returns how many were written.
        """
        changed = [row for row in map(_row, entries) if self._saved.get(str(row[0])) != row]
        if changed:
            with self.transaction() as db:
                db.executemany(self._insert(ignore=False), changed)
            self._saved.update((str(row[0]), row) for row in changed)
        return len(changed)

    # -- the heartbeat ---------------------------------------------------------------------

    def start_heartbeat(self, *, pid: int, host: str, at: datetime.datetime) -> None:
        """Record that the watcher ``pid`` on ``host`` has started."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO heartbeat VALUES (1, ?, ?, ?, ?, NULL, NULL)",
                (pid, host, iso(at), iso(at)),
            )

    def beat(self, *, at: datetime.datetime, scanned: bool = False) -> None:
        """Record that the watcher is alive at ``at`` (and with ``scanned``, looked then)."""
        with self.transaction() as db:
            db.execute("UPDATE heartbeat SET alive_at = ? WHERE one = 1", (iso(at),))
            if scanned:
                db.execute("UPDATE heartbeat SET scanned_at = ? WHERE one = 1", (iso(at),))

    def stop_heartbeat(self, *, at: datetime.datetime) -> None:
        """Record that the watcher stopped cleanly at ``at``."""
        with self.transaction() as db:
            db.execute(
                "UPDATE heartbeat SET stopped_at = ?, alive_at = ? WHERE one = 1", (iso(at),) * 2
            )

    def heartbeat(self) -> Heartbeat | None:
        """Return the last watcher's heartbeat, or None if no watcher ever started."""
        row = self._db.execute(
            "SELECT pid, host, started_at, alive_at, scanned_at, stopped_at FROM heartbeat"
        ).fetchone()
        if row is None:
            return None
        pid, host, started, alive, scanned, stopped = row
        return Heartbeat(
            pid=int(pid),
            host=str(host),
            started_at=parse_time(started) or deadline.utcnow(),
            alive_at=parse_time(alive) or deadline.utcnow(),
            scanned_at=parse_time(scanned),
            stopped_at=parse_time(stopped),
        )

    # -- the single watcher ----------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, assignment: str, course_root: Path) -> Iterator[None]:
        """Hold the assignment's watcher lock (released by the OS if the process dies)."""
        import fcntl

        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open("lock", flags, 0o600, dir_fd=self._folder_fd)
        except OSError as err:
            raise WatchError(f"{self.folder / 'lock'} cannot be opened: {err.strerror}") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            raise WatchError(
                f"another watcher of {assignment} is running in {course_root}"
            ) from err
        try:
            yield
        finally:
            os.close(fd)


def read_queue(course_root: Path, assignment: str, *, read_only: bool = False) -> list[Entry]:
    """Return ``assignment``'s queue in the order seen ([] when no watcher ever ran).

    ``read_only``: see :meth:`QueueStore.open` (the status page reads so).
    """
    store = QueueStore.open(Path(course_root), assignment, create=False, read_only=read_only)
    if store is None:
        return []
    with store:
        return store.load()
