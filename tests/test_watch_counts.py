"""Which submission counts (``c.Watch.counts``): a late resubmission never silently erases a grade.

Under the default, ``latest-on-time-unless-later-scores-higher``, a submission after the due
date is graded and its feedback released, but the gradebook (so ``nbgrader export`` and the
LMS files) keeps the on-time one unless the late one scores more after its late penalty; the
queue and every feedback page say which submission counts and why, and each page names its
submission by its time. ``latest`` is nbgrader's behaviour. The slow tests grade the mini
assignment on a temporary exchange (``tests/watch_support.py``); the others render pages
and open queues without a kernel.
"""

from __future__ import annotations

import csv
import datetime
import os
import re
import sqlite3
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import watch_support as ws
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning
from test_feedback_page import autograded_notebook, course_config, visible_text
from traitlets.config import Config

from autograder.grading import grade, lms, watch
from autograder.grading.deadline import format_duration
from autograder.grading.watch import store as watch_store

ASSIGNMENT = "Mini"


# -- without a kernel ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (40, "40 s"),
        (61, "1 min 1 s"),
        (7500, "2 h 5 min"),
        (3 * 86400 + 7200, "3 days 2 h"),
    ],
)
def test_durations_read_as_people_write_them(seconds, text):
    assert format_duration(seconds) == text


def _gradebook_with(tmp_path: Path, monkeypatch, *, due: str, submitted: str) -> str:
    """Return a gradebook URL holding alice's submission of ``ASSIGNMENT`` at ``submitted``."""
    # nbgrader runs `alembic` from PATH when it creates a gradebook.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with warnings.catch_warnings(), Gradebook(url, "nn-training-c2w2") as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's autoflush, not ours
        gb.update_or_create_assignment(ASSIGNMENT, duedate=due)
        gb.update_or_create_student("alice")
        gb.update_or_create_submission(ASSIGNMENT, "alice", timestamp=submitted)
    return url


def _render(db_url: str, *, counts: str = "", why: str = "") -> str:
    """Render the feedback page of alice's submission as the watcher's generation does."""
    from nbgrader.converters import GenerateFeedback

    config = course_config()
    config.CourseDirectory.course_id = "nn-training-c2w2"
    if counts:
        config.SubmissionStanding.counts = counts
        config.SubmissionStanding.why = why
    converter = GenerateFeedback(config=config)
    exporter = config.GenerateFeedback.exporter_class(config=converter.config)
    for preprocessor in config.GenerateFeedback.preprocessors:
        if preprocessor.__name__ != "GetGrades":
            exporter.register_preprocessor(preprocessor, enabled=True)
    resources = {
        "nbgrader": {
            "notebook": ASSIGNMENT,
            "assignment": ASSIGNMENT,
            "student": "alice",
            "db_url": db_url,
            "score": 0.0,
            "max_score": 5.0,
            "late_penalty": 5.0,
        }
    }
    page, _ = exporter.from_notebook_node(autograded_notebook(), resources)
    return page


def test_a_late_pages_title_heading_and_summary_name_its_submission_and_say_it_does_not_count(
    tmp_path, monkeypatch
):
    db_url = _gradebook_with(
        tmp_path, monkeypatch, due="2026-12-01 12:00:00", submitted="2026-12-01 14:05:00"
    )
    why = "scored 0/5 after the penalty, not above the on-time 5/5 of 2026-12-01 11:00:00 UTC"

    page = _render(db_url, counts="no", why=why)

    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert title and "submitted 2026-12-01 14:05:00 UTC" in title.group(1)
    heading = re.search(r'<h4 id="nn-summary-title">(.*?)</h4>', page, re.DOTALL)
    assert heading and "submitted 2026-12-01 14:05:00 UTC" in visible_text(heading.group(1))
    text = " ".join(visible_text(page).split())
    assert (
        "Submitted 2026-12-01 14:05:00 UTC, late by 2 h 5 min (due 2026-12-01 12:00:00 UTC)."
        in text
    )
    assert f"This submission does not count for your grade: {why}." in text


def test_an_on_time_page_says_on_time_and_that_it_counts(tmp_path, monkeypatch):
    db_url = _gradebook_with(
        tmp_path, monkeypatch, due="2026-12-01 12:00:00", submitted="2026-12-01 11:59:30"
    )

    text = " ".join(visible_text(_render(db_url, counts="yes", why="on time")).split())

    assert "Submitted 2026-12-01 11:59:30 UTC, on time (due 2026-12-01 12:00:00 UTC)." in text
    assert "This submission counts for your grade: on time." in text
    assert "late by" not in text


def test_a_page_generated_by_hand_states_the_times_but_not_whether_it_counts(tmp_path, monkeypatch):
    db_url = _gradebook_with(
        tmp_path, monkeypatch, due="2026-12-01 12:00:00", submitted="2026-12-01 12:00:40"
    )

    text = " ".join(visible_text(_render(db_url)).split())

    assert "late by 40 s (due 2026-12-01 12:00:00 UTC)" in text
    assert "count for your grade" not in text and "counts for your grade" not in text


def test_what_the_watcher_says_is_escaped_on_the_page(tmp_path, monkeypatch):
    db_url = _gradebook_with(
        tmp_path, monkeypatch, due="2026-12-01 12:00:00", submitted="2026-12-01 11:00:00"
    )

    page = _render(db_url, counts="yes", why="<script>alert(1)</script>")

    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_a_queue_of_the_version_before_counts_is_upgraded_in_place(tmp_path):
    folder = watch.queue_path(tmp_path, ASSIGNMENT).parent
    folder.mkdir(parents=True)
    path = folder / "queue.sqlite"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    later = re.search(r",\n    counts INTEGER,.*?\n\);", watch_store._SCHEMA, re.DOTALL)
    assert later is not None
    old_schema = watch_store._SCHEMA.replace(later.group(), "\n);")  # columns up to inode
    assert "counting" not in old_schema and "CREATE TABLE IF NOT EXISTS heartbeat" in old_schema
    with sqlite3.connect(path) as db:
        db.executescript(old_schema)
        db.execute(
            "INSERT INTO entries (id, student, state, seen_at, reason, attempts) "
            "VALUES ('a+Mini+t', 'ada', 'done', '2026-11-30T10:00:05+00:00', '', 0)"
        )
        db.execute("PRAGMA user_version = 1")
    db.close()

    with watch.QueueStore.open(tmp_path, ASSIGNMENT) as queue:
        (entry,) = queue.load()
        assert (entry.student, entry.counts, entry.counting) == ("ada", None, "")
        entry.counts, entry.counting = True, "on time"
        queue.save([entry])
    with watch.QueueStore.open(tmp_path, ASSIGNMENT) as queue:
        (entry,) = queue.load()
    assert (entry.counts, entry.counting) == (True, "on time")
    assert watch.entry_json(entry)["counts"] is True


def test_the_queue_table_says_whether_each_submission_counts_and_why():
    now = datetime.datetime(2026, 12, 1, 14, 5, tzinfo=datetime.timezone.utc)
    kept = watch.Entry("a", "alice", now, watch.QueueState.DONE, now, counts=True)
    late = watch.Entry(
        "b",
        "alice",
        now,
        watch.QueueState.DONE,
        now,
        counts=False,
        counting="late by 2 h 5 min; scored 0/4 after the penalty, not above the on-time 4/4",
    )

    table = watch.format_queue([kept, late]).splitlines()

    column = table[0].index("counts")
    assert [row[column : column + 6].strip() for row in table[1:3]] == ["yes", "no"]
    assert "late by 2 h 5 min" in table[2]


# -- grading on a temporary exchange ------------------------------------------------------


def _course(template, tmp_path, *, penalty: str = "zero") -> Path:
    course = ws.copy_course(template, tmp_path / "class")
    ws.add_config(course, f'c.LateSubmissionPlugin.penalty_method = "{penalty}"')
    return course


def _on_time_then_late(
    run: Callable[..., list[watch.Entry]],
    course: Path,
    first: str,
    second: str,
    config: Config | None = None,
) -> tuple[watch.Entry, watch.Entry, str]:
    """Submit ``first`` before the due date and ``second`` after it, grading each.

    Returns the two queue entries and the due date.
    """
    tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    ws.set_due_date(course, tomorrow.strftime("%Y-%m-%d %H:%M:%S UTC"))
    ws.submit(course, "alice", ws.answered(course, first))
    run(course, config)
    due = ws.due_now(course)
    ws.submit(course, "alice", ws.answered(course, second))
    on_time, late = run(course, config)
    return on_time, late, due


def _gradebook(course: Path) -> tuple[float, float, datetime.datetime]:
    """Return alice's score, late penalty and submission time as the gradebook holds them."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", ws.COURSE_ID) as gb:
        sub = gb.find_submission(ws.MINI, "alice")
        return sub.score, sub.late_submission_penalty, sub.timestamp


def _grades_out(course: Path) -> tuple[str, str]:
    """Return alice's total in ``nbgrader export``'s grades.csv and in the Canvas export."""
    ws.nbgrader(course, "export")
    with (course / "grades.csv").open() as handle:
        (row,) = [r for r in csv.DictReader(handle) if r["student_id"] == "alice"]
    canvas = list(
        csv.reader(lms.export_lms(assignment=ws.MINI, fmt="canvas", course_root=course).open())
    )
    (lms_row,) = [r for r in canvas[2:] if r[3] == "alice"]
    return row["score"], lms_row[-1]


def _pages(course: Path) -> list[str]:
    """Return alice's feedback pages, oldest first (their folders are named by time)."""
    return [
        " ".join(visible_text(p.read_text()).split()) for p in ws.fetch_feedback(course, "alice")
    ]


def _kept(course: Path) -> Path:
    return watch.queue_path(course, ws.MINI).parent / "kept" / "alice"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_late_worse_resubmission_is_graded_but_the_on_time_grade_is_kept(
    template, tmp_path, run_watch
):
    course = _course(template, tmp_path)

    on_time, late, due = _on_time_then_late(run_watch, course, ws.CORRECT, ws.NAIVE)

    assert (late.state, late.score) == ("done", ws.NAIVE_SCORE)  # graded, its raw score
    assert (on_time.counts, late.counts) == (True, False)
    assert late.counting.startswith("late by ")
    assert f"scored 0/{ws.FULL_SCORE:g} after the penalty, not above the on-time" in late.counting
    assert late.counting.endswith("which counts")
    score, penalty, stamp = _gradebook(course)
    assert (score, penalty) == (ws.FULL_SCORE, 0.0)
    submitted = stamp.replace(tzinfo=datetime.timezone.utc)  # naive UTC in the gradebook
    assert abs((submitted - on_time.timestamp).total_seconds()) < 1  # the on-time one's
    assert tuple(map(float, _grades_out(course))) == (ws.FULL_SCORE, ws.FULL_SCORE)
    assert not _kept(course).exists()
    table = watch.format_queue(watch.read_queue(course, ws.MINI))
    assert "not above the on-time" in table
    first, second = _pages(course)
    assert "This submission counts for your grade" in first and "on time (due" in first
    assert "This submission does not count for your grade: late by" in second
    assert f"(due {due})" in second
    assert f"submitted {late.timestamp:%Y-%m-%d %H:%M:%S} UTC" in second


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_late_resubmission_that_scores_higher_after_its_penalty_counts(
    template, tmp_path, run_watch
):
    course = _course(template, tmp_path, penalty="none")

    on_time, late, _ = _on_time_then_late(run_watch, course, ws.NAIVE, ws.CORRECT)

    assert (on_time.counts, late.counts) == (False, True)
    assert "above the on-time" in late.counting and "replaced by" in on_time.counting
    assert _gradebook(course)[:2] == (ws.FULL_SCORE, 0.0)
    assert _grades_out(course)[1] == f"{ws.FULL_SCORE:g}"
    assert not _kept(course).exists()
    assert "This submission counts for your grade: late by" in _pages(course)[-1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_counts_latest_lets_a_late_resubmission_replace_the_grade_as_nbgrader_does(
    template, tmp_path, run_watch
):
    course = _course(template, tmp_path)
    config = Config()
    config.Watch.counts = "latest"

    on_time, late, _ = _on_time_then_late(run_watch, course, ws.CORRECT, ws.NAIVE, config)

    assert (on_time.counts, late.counts) == (False, True)
    assert "the latest graded submission counts" in late.counting
    assert _gradebook(course)[:2] == (ws.NAIVE_SCORE, ws.NAIVE_SCORE)  # "zero": all of it
    assert _grades_out(course)[1] == "0"
    assert not _kept(course).exists()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_watcher_killed_before_the_on_time_grade_is_back_restores_it_when_restarted(
    template, tmp_path, monkeypatch, run_watch
):
    course = _course(template, tmp_path)
    real = grade.grade_assignment

    def killed_when_restoring(**kwargs):
        if kwargs.get("student"):  # the restore grades one student
            raise KeyboardInterrupt
        return real(**kwargs)

    monkeypatch.setattr(grade, "grade_assignment", killed_when_restoring)
    with pytest.raises(KeyboardInterrupt):
        _on_time_then_late(run_watch, course, ws.CORRECT, ws.NAIVE)
    assert _gradebook(course)[:2] == (ws.NAIVE_SCORE, ws.NAIVE_SCORE)  # the late one, for now
    assert _kept(course).is_dir()
    monkeypatch.setattr(grade, "grade_assignment", real)

    entries = run_watch(course)

    assert [e.counts for e in entries] == [True, False]
    assert _gradebook(course)[:2] == (ws.FULL_SCORE, 0.0)
    assert _grades_out(course)[1] == f"{ws.FULL_SCORE:g}"
    assert not _kept(course).exists()
