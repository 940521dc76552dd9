"""The stage times the watcher records for each submission (``watch.STAGES``), which break
its latency from submit to feedback down (``benchmarks/watch_bench.py``).

No kernel here: one real watcher cycle (scan, choose, collect, record, release through
nbgrader's exchange) runs on the mini course with the grading run and nbgrader's feedback
generation replaced by stand-ins, under a clock that ticks at every reading. Also how the
watcher holds its Dask connection across cycles.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import shutil
import sqlite3
import types
from pathlib import Path

import watch_support as ws
from traitlets.config import Config

from autograder.grading import cluster, recording, watch
from autograder.grading.watch import release
from autograder.grading.watch import store as watch_store
from autograder.kernel.protocol import Status


class _TickingClock:
    """A clock one second later at every reading, so no two recorded times are equal."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        self.now += datetime.timedelta(seconds=1)
        return self.now


class _PageWriter:
    """Stands in for nbgrader's GenerateFeedback: writes a page without the gradebook."""

    def __init__(self, *, coursedir, config) -> None:
        self.coursedir = coursedir

    def start(self) -> None:
        """Write the student's feedback folder as GenerateFeedback leaves it."""
        cd = self.coursedir
        source = Path(cd.format_path(cd.submitted_directory, cd.student_id, cd.assignment_id))
        folder = Path(cd.format_path(cd.feedback_directory, cd.student_id, cd.assignment_id))
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("timestamp.txt", "submission_secret.txt"):
            shutil.copyfile(source / name, folder / name)
        (folder / f"{ws.MINI}.html").write_text("<p>4 / 4 points</p>")


def _graded(*, workers, on_result=None, student=None) -> list[recording.Outcome]:
    """Stand in for the grading run: alice scores full marks."""
    outcome = recording.Outcome("alice", ws.FULL_SCORE, ws.FULL_SCORE, 0.1, Status.OK)
    if on_result is not None:
        on_result(outcome)
    return [outcome]


def test_one_cycle_records_each_stage_end_in_order_and_the_queue_prints_them(course, monkeypatch):
    ws.submit(course, "alice", ws.answered(course))
    watcher = watch.Watcher(
        assignment=ws.MINI, course_root=course, clock=_TickingClock(), log=lambda _: None
    )
    monkeypatch.setattr(watcher, "_grade", _graded)
    monkeypatch.setattr(release, "GenerateFeedback", _PageWriter)

    assert watcher.cycle(workers=1) == 1

    (entry,) = watch.read_queue(course, ws.MINI)
    assert (entry.state, entry.feedback) == ("done", "full"), entry.reason
    ends = [entry.seen_at] + [getattr(entry, name) for name in watch.STAGES.values()]
    assert None not in ends
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    assert entry.released_at <= entry.finished_at
    shown = watch.entry_json(entry)
    assert [shown[name] for name in watch.STAGES.values()] == [e.isoformat() for e in ends[1:]]
    assert len(list((ws.exchange_of(course) / ws.COURSE_ID / "feedback").glob("*.html"))) == 1


def test_a_queue_of_the_version_before_stage_times_is_upgraded_in_place(tmp_path):
    folder = watch.queue_path(tmp_path, ws.MINI).parent
    folder.mkdir(parents=True)
    path = folder / "queue.sqlite"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    later = re.search(r",\n    collected_at TEXT,.*?\n\);", watch_store._SCHEMA, re.DOTALL)
    assert later is not None
    with sqlite3.connect(path) as db:
        db.executescript(watch_store._SCHEMA.replace(later.group(), "\n);"))
        db.execute(
            "INSERT INTO entries (id, student, state, seen_at, reason, attempts, counts) "
            "VALUES ('a+Mini+t', 'ada', 'done', '2026-11-30T10:00:05+00:00', '', 0, 1)"
        )
        db.execute("PRAGMA user_version = 2")
    db.close()

    with watch.QueueStore.open(tmp_path, ws.MINI) as queue:
        (entry,) = queue.load()
        assert (entry.student, entry.counts, entry.collected_at) == ("ada", True, None)
        entry.released_at = datetime.datetime(2026, 11, 30, 10, 1, tzinfo=datetime.timezone.utc)
        queue.save([entry])

    (entry,) = watch.read_queue(tmp_path, ws.MINI, read_only=True)
    assert watch.entry_json(entry)["released_at"] == "2026-11-30T10:01:00+00:00"


def test_a_watcher_keeps_one_client_to_its_scheduler_and_connects_again_when_it_closed(
    course, monkeypatch
):
    opened = []

    @contextlib.contextmanager
    def open_client(*, workers, scheduler=None):
        client = types.SimpleNamespace(status="running")
        opened.append((client, scheduler))
        yield client

    monkeypatch.setattr(cluster, "open_client", open_client)
    running = Config()
    running.Watch.scheduler = "tls://127.0.0.1:8786"
    logged = []
    watcher = watch.Watcher(
        assignment=ws.MINI, course_root=course, config=running, log=logged.append
    )

    first = watcher._scheduler(2)
    assert watcher._scheduler(2) is first  # every batch of a run on the one connection
    first.status = "closed"  # the scheduler went away and Dask gave up reconnecting
    second = watcher._scheduler(2)

    assert second is not first
    assert [scheduler for _, scheduler in opened] == ["tls://127.0.0.1:8786"] * 2
    (said,) = logged
    assert said.endswith(" the Dask cluster went away; connecting again")
