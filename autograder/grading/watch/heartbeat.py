"""Is a watcher running? The heartbeat a running watcher writes, and what it means now.

A running watcher records its pid, host and start time in the queue database, then a thread
of its own writes ``alive_at`` every :data:`HEARTBEAT_S` seconds (also while a long batch is
being graded), and the loop writes ``scanned_at`` at each look at the exchange; a clean stop
(Ctrl-C, the hub's SIGINT) writes ``stopped_at``. ``nn-autograde queue`` reads it: running,
*silent* (no heartbeat for :data:`SILENT_AFTER_S`: hung, or killed on another host),
stopped (cleanly, or its process on this host is gone), or never started.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import socket
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import TypedDict

from autograder.grading import deadline
from autograder.grading.watch.entries import Heartbeat, iso
from autograder.grading.watch.store import QueueStore
from autograder.kernel import protocol

#: Seconds between two heartbeats of a running watcher (a thread of its own writes them).
HEARTBEAT_S = 15.0
#: A watcher with no heartbeat for this long is not running (hung, or killed on another host).
SILENT_AFTER_S = 120.0


class WatcherState(protocol.Code):
    """Whether a watcher of an assignment is running, as ``nn-autograde queue`` says."""

    RUNNING = "running"
    SILENT = "silent"  # started and not stopped, but no heartbeat for SILENT_AFTER_S
    STOPPED = "stopped"  # stopped cleanly, or its process is gone
    NEVER = "never"  # no watcher ever started


class WatcherJson(TypedDict):
    """Whether a watcher runs, as ``nn-autograde queue --watcher --json`` prints it."""

    state: str  # a WatcherState
    running: bool
    pid: int | None
    host: str | None
    started_at: str | None
    alive_at: str | None
    scanned_at: str | None
    stopped_at: str | None
    seconds_since_scan: float | None


@dataclasses.dataclass(frozen=True)
class WatcherStatus:
    """The last watcher's heartbeat and what it means now."""

    state: WatcherState
    heartbeat: Heartbeat | None
    now: datetime.datetime

    def json(self) -> WatcherJson:
        """Return the status as the JSON object ``queue --watcher --json`` prints."""
        beat = self.heartbeat
        return WatcherJson(
            state=str(self.state),
            running=self.state == WatcherState.RUNNING,
            pid=beat.pid if beat else None,
            host=beat.host if beat else None,
            started_at=iso(beat.started_at) if beat else None,
            alive_at=iso(beat.alive_at) if beat else None,
            scanned_at=iso(beat.scanned_at) if beat else None,
            stopped_at=iso(beat.stopped_at) if beat else None,
            seconds_since_scan=_ago(beat.scanned_at, self.now) if beat else None,
        )


def _ago(when: datetime.datetime | None, now: datetime.datetime) -> float | None:
    return None if when is None else round((now - when).total_seconds(), 1)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another account's process
    return True


def _may_run(beat: Heartbeat) -> bool:
    """Return False if ``beat``'s process is known to be gone (it ran on this host)."""
    return beat.host != socket.gethostname() or _process_exists(beat.pid)


def watcher_status(beat: Heartbeat | None, now: datetime.datetime) -> WatcherStatus:
    """Return whether the watcher that wrote ``beat`` is running at ``now``."""
    if beat is None:
        state = WatcherState.NEVER
    elif beat.stopped_at is not None or not _may_run(beat):
        state = WatcherState.STOPPED
    elif (now - beat.alive_at).total_seconds() > SILENT_AFTER_S:
        state = WatcherState.SILENT
    else:
        state = WatcherState.RUNNING
    return WatcherStatus(state, beat, now)


def read_watcher(
    course_root: Path, assignment: str, *, now: datetime.datetime | None = None
) -> WatcherStatus:
    """Return whether a watcher of ``assignment`` is running (at ``now``, default: now)."""
    store = QueueStore.open(Path(course_root), assignment, create=False)
    if store is None:
        beat = None
    else:
        with store:
            beat = store.heartbeat()
    return watcher_status(beat, now or deadline.utcnow())


class Beating:
    """Record the running watcher in the store, and its heartbeat from a thread of its own.

    The thread keeps beating while a long batch is being graded, when the loop does not look
    at the exchange; a clean stop is recorded on exit.
    """

    def __init__(self, course_root: Path, assignment: str) -> None:
        self.course_root, self.assignment = course_root, assignment
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="watch-heartbeat", daemon=True)

    def __enter__(self) -> Beating:
        with self._store() as store:
            store.start_heartbeat(pid=os.getpid(), host=socket.gethostname(), at=deadline.utcnow())
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        # Not recorded (a database kept busy): queue still sees the process is gone.
        with contextlib.suppress(sqlite3.Error), self._store() as store:
            store.stop_heartbeat(at=deadline.utcnow())

    def _store(self) -> QueueStore:
        store = QueueStore.open(self.course_root, self.assignment)
        assert store is not None  # created when missing
        return store

    def _beat(self) -> None:
        with self._store() as store:
            while not self._stop.wait(HEARTBEAT_S):
                with contextlib.suppress(Exception):  # a busy database: the next beat says it
                    store.beat(at=deadline.utcnow())
