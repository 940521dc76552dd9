"""The watcher's queue store (SQLite), its heartbeat, and what ``nn-autograde queue`` says.

No grading here: a course root is a temporary folder, and entries and heartbeats are written
through the store as a watcher writes them. The attacks on the database file are in
``tests/test_watch_attacks.py``; a watcher killed mid-grading in ``tests/test_watch.py``.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import __main__ as cli
from autograder.grading import watch
from autograder.grading.watch import heartbeat
from autograder.kernel.protocol import Status

ASSIGNMENT = "Mini"
NOW = datetime.datetime(2026, 12, 4, 10, 0, tzinfo=datetime.timezone.utc)


def _entry(k: int, state: watch.QueueState = watch.QueueState.WAITING) -> watch.Entry:
    return watch.Entry(
        id=f"s{k:03d}+{ASSIGNMENT}+2026-12-04 09:00:00.000000 UTC",
        student=f"s{k:03d}",
        timestamp=NOW - datetime.timedelta(hours=1),
        state=state,
        seen_at=NOW,
    )


def _store(course: Path) -> watch.QueueStore:
    store = watch.QueueStore.open(course, ASSIGNMENT)
    assert store is not None
    return store


def _queue(capsys, course: Path, *args: str) -> tuple[int, str]:
    """Run ``nn-autograde queue`` on ``course``; return its exit status and what it printed."""
    status = cli.main(["queue", ASSIGNMENT, "--course-root", str(course), *args])
    return status, capsys.readouterr().out


# -- the queue -----------------------------------------------------------------------------


def test_entries_come_back_typed_and_in_the_order_they_were_seen(tmp_path):
    done = _entry(2, watch.QueueState.DONE)
    done.status, done.score, done.max_score = Status.OK, 4.0, 4.0
    done.started_at = done.finished_at = NOW
    with _store(tmp_path) as store:
        assert store.save([_entry(5), done, _entry(1)]) == 3
        assert store.save([_entry(5), done, _entry(1)]) == 0  # nothing changed

    entries = watch.read_queue(tmp_path, ASSIGNMENT)

    assert [e.student for e in entries] == ["s005", "s002", "s001"]
    assert entries[1] == done
    assert entries[1].status is Status.OK and entries[1].state is watch.QueueState.DONE


@pytest.mark.slow  # a second process imports the watcher (about 10 s here)
def test_a_watcher_killed_in_the_middle_of_a_write_leaves_the_queue_as_before_it(tmp_path):
    with _store(tmp_path) as store:
        store.save([_entry(k) for k in range(50)])
    # A second process rewrites every entry and is killed (SIGKILL) in the middle of it.
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from autograder.grading import watch
        store = watch.QueueStore.open(Path({str(tmp_path)!r}), {ASSIGNMENT!r})
        entries = store.load()
        for entry in entries:
            entry.state, entry.reason = watch.QueueState.FAILED, "half-written"
        rows = []
        def die():
            rows.append(1)
            if len(rows) > 20:
                os.kill(os.getpid(), signal.SIGKILL)
        store._db.set_progress_handler(die, 50)
        store.save(entries)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    journal = watch.queue_path(tmp_path, ASSIGNMENT).with_name("queue.sqlite-journal")
    assert journal.exists(), "the kill did not land inside the transaction"

    with _store(tmp_path) as store:
        entries = store.load()
        assert len(entries) == 50
        assert {e.state for e in entries} == {watch.QueueState.WAITING}
        entries[0].reason = "written after the crash"
        assert store.save(entries) == 1

    assert watch.read_queue(tmp_path, ASSIGNMENT)[0].reason == "written after the crash"
    assert not journal.exists()


class _InterruptedAfterBegin:
    """A connection that gets Ctrl-C just after SQLite began a transaction (before COMMIT)."""

    def __init__(self, db) -> None:
        self.db = db

    @property
    def in_transaction(self) -> bool:
        return self.db.in_transaction

    def execute(self, sql: str, *args):
        cursor = self.db.execute(sql, *args)
        if sql == "BEGIN IMMEDIATE":
            raise KeyboardInterrupt
        return cursor


def test_ctrl_c_right_after_a_transaction_began_leaves_the_queue_unlocked(tmp_path):
    interrupted, other = _store(tmp_path), _store(tmp_path)
    interrupted._db = _InterruptedAfterBegin(interrupted._db)
    other._db.execute("PRAGMA busy_timeout = 1000")

    with pytest.raises(KeyboardInterrupt):
        interrupted.save([_entry(1)])

    assert other.save([_entry(2)]) == 1  # not "database is locked"
    assert [e.student for e in other.load()] == ["s002"]


def test_a_json_lines_queue_of_an_earlier_version_is_moved_in_once(tmp_path):
    folder = watch.queue_path(tmp_path, ASSIGNMENT).parent
    folder.mkdir(parents=True)
    old = {  # a line as the JSON-lines queue wrote it
        "id": f"ada+{ASSIGNMENT}+2026-11-30 10:00:00.000000 UTC",
        "student": "ada",
        "timestamp": "2026-11-30T10:00:00+00:00",
        "state": "done",
        "seen_at": "2026-11-30T10:00:05+00:00",
        "started_at": "2026-11-30T10:00:06+00:00",
        "finished_at": "2026-11-30T10:00:40+00:00",
        "not_before": None,
        "status": "ok",
        "score": 16.0,
        "max_score": 16.0,
        "reason": "",
        "feedback": "public",
        "attempts": 0,
        "device": 2049,
        "inode": 1234,
    }
    waiting = {**old, "id": old["id"] + "+b", "state": "waiting", "status": "", "feedback": ""}
    text = f"{json.dumps(old)}\nnot json\n{json.dumps(waiting)}\n"
    (folder / "queue.jsonl").write_text(text)
    (folder / "queue.jsonl").chmod(0o600)

    store = _store(tmp_path)
    entries = store.load()
    store.close()

    stages = ("collected_at", "graded_at", "feedback_at", "released_at")  # added later, too
    added = {"counts": None, "counting": "", **dict.fromkeys(stages)}
    assert [watch.entry_json(e) for e in entries] == [{**old, **added}, {**waiting, **added}]
    assert (store.migrated_legacy, store.skipped_legacy) == (2, 1)
    assert not (folder / "queue.jsonl").exists()
    assert (folder / "queue.jsonl.migrated").read_text() == text
    # Killed before the rename: the next start moves it in again, without doubles.
    (folder / "queue.jsonl.migrated").rename(folder / "queue.jsonl")
    assert len(watch.read_queue(tmp_path, ASSIGNMENT)) == 2


def test_a_queue_written_by_a_newer_version_is_refused_with_what_to_do(tmp_path):
    with _store(tmp_path) as store:
        store._db.execute("PRAGMA user_version = 99")

    with pytest.raises(watch.WatchError, match=r"newer nn-autograde.*upgrade"):
        watch.read_queue(tmp_path, ASSIGNMENT)


def test_a_course_without_a_watcher_has_an_empty_queue_and_gets_no_folder(tmp_path):
    assert watch.read_queue(tmp_path, ASSIGNMENT) == []
    assert not (tmp_path / "grader").exists()


def test_a_read_only_reader_creates_nothing_and_writes_nothing(tmp_path):
    """Does the status page's way in (``read_only``) leave the queue as it found it?"""
    assert watch.QueueStore.open(tmp_path, ASSIGNMENT, read_only=True) is None
    assert not (tmp_path / "grader").exists()
    with _store(tmp_path) as store:
        store.save([_entry(1)])
    path = watch.queue_path(tmp_path, ASSIGNMENT)
    before = path.read_bytes()

    reader = watch.QueueStore.open(tmp_path, ASSIGNMENT, read_only=True)
    assert reader is not None
    with reader:
        (entry,) = reader.load()
        entry.reason = "changed by a reader"
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.save([entry])

    assert path.read_bytes() == before
    assert watch.read_queue(tmp_path, ASSIGNMENT, read_only=True)[0].reason == ""


def test_a_read_only_reader_leaves_an_old_queue_to_its_watcher(tmp_path):
    with _store(tmp_path) as store:
        store._db.execute("PRAGMA user_version = 1")

    with pytest.raises(watch.WatchError, match="its watcher upgrades it"):
        watch.read_queue(tmp_path, ASSIGNMENT, read_only=True)


# -- is a watcher running? -----------------------------------------------------------------


def _beat(course: Path, *, pid: int, alive_ago_s: float, stopped: bool = False) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    with _store(course) as store:
        start = now - datetime.timedelta(seconds=alive_ago_s + 60)
        store.start_heartbeat(pid=pid, host=socket.gethostname(), at=start)
        store.beat(at=now - datetime.timedelta(seconds=alive_ago_s), scanned=True)
        if stopped:
            store.stop_heartbeat(at=now - datetime.timedelta(seconds=alive_ago_s))


def test_queue_says_a_watcher_runs_with_its_pid_and_last_look(tmp_path, capsys):
    _beat(tmp_path, pid=os.getpid(), alive_ago_s=3)

    code, shown = _queue(capsys, tmp_path)
    checked, printed = _queue(capsys, tmp_path, "--watcher", "--json")

    assert code == 0
    assert f"watcher running (pid {os.getpid()} on {socket.gethostname()}, last look" in shown
    assert checked == 0
    status = json.loads(printed)
    assert (status["state"], status["running"], status["pid"]) == ("running", True, os.getpid())
    assert 3 <= status["seconds_since_scan"] < 60


def test_queue_says_no_watcher_has_looked_for_minutes_when_its_heartbeat_stopped(tmp_path, capsys):
    _beat(tmp_path, pid=os.getpid(), alive_ago_s=10 * 60)  # alive, but hung for 10 minutes

    code, shown = _queue(capsys, tmp_path, "--watcher")

    assert code == 1
    assert "no watcher has looked for 10 min" in shown
    assert json.loads(_queue(capsys, tmp_path, "--watcher", "--json")[1])["state"] == "silent"


def test_queue_says_no_watcher_has_ever_started(tmp_path, capsys):
    code, shown = _queue(capsys, tmp_path)
    checked, printed = _queue(capsys, tmp_path, "--watcher", "--json")

    assert code == 0 and "no watcher has ever started" in shown
    assert checked == 1
    assert json.loads(printed)["state"] == "never"


@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_queue_says_a_stopped_or_killed_watcher_is_not_running(tmp_path, capsys, how):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    pid = os.getpid() if how == "stopped" else int(gone.stdout)
    _beat(tmp_path, pid=pid, alive_ago_s=5, stopped=how == "stopped")

    code, shown = _queue(capsys, tmp_path, "--watcher")

    assert code == 1
    expected = "stopped;" if how == "stopped" else "is gone without stopping cleanly"
    assert f"no watcher is running: the last (pid {pid}" in shown
    assert expected in shown


def test_a_watcher_on_another_host_counts_as_running_while_its_heartbeat_is_fresh():
    beat = watch.Heartbeat(
        pid=1,
        host="another-host.invalid",
        started_at=NOW - datetime.timedelta(hours=1),
        alive_at=NOW - datetime.timedelta(seconds=heartbeat.SILENT_AFTER_S - 1),
        scanned_at=NOW - datetime.timedelta(seconds=30),
        stopped_at=None,
    )
    later = NOW + datetime.timedelta(seconds=2)

    assert watch.watcher_status(beat, NOW).state == watch.WatcherState.RUNNING
    assert watch.watcher_status(beat, later).state == watch.WatcherState.SILENT
