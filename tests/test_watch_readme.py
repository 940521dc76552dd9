"""The "Grading on submission" commands (docs/grading-on-submission.md), run verbatim on a course with an exchange (slow).

A copy of the repository's course (the real assignment, the repository's
``nbgrader_config.py`` plus ``c.Exchange.root``), generated and released; two students submit
sample notebooks with nbgrader's exchange (one right, full marks; one with a naive softmax).
The first block runs from the repository root like a terminal: the watcher in it runs until
Ctrl-C, which the test sends once both submissions are done. Then the second block.
"""

from __future__ import annotations

import csv
import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import watch_support as ws

from autograder.grading import watch

from submissions import make_submissions
from support import readme

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "C2_W2_Assignment"
SOURCE = REPO_ROOT / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
PAGE = REPO_ROOT / "docs" / "grading-on-submission.md"
SECTION = "# Grading on submission: `nn-autograde watch`"
#: The right sample's and the naive one's totals, as the grading tests expect them.
FULL = sum(make_submissions.expected_scores()["passes_all"].values())
NAIVE = sum(make_submissions.expected_scores()["naive_softmax"].values())

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def section_blocks() -> list[str]:
    """Return the shell blocks of docs/grading-on-submission.md, in order."""
    return readme.blocks(SECTION, fence="sh", path=PAGE)


def _script(block: str) -> str:
    return "set -euo pipefail\n" + block


def _as_in_a_terminal() -> None:
    """Let Ctrl-C reach the block, as in a terminal, even when the tests run in the background.

    A job started in the background by a shell without job control ignores SIGINT, and so does
    every program it starts: the watcher would never see the test's Ctrl-C.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """Run both blocks; return the course and each block's output."""
    root = tmp_path_factory.mktemp("readme")
    course = ws.make_course(root, assignment=ASSIGNMENT, source=SOURCE)
    (root / ".venv").symlink_to(Path(sys.prefix))
    samples = make_submissions
    released = ws.released(course, ASSIGNMENT)
    right = samples.make_submission(released, samples.SUBMISSIONS["passes_all"])
    naive = samples.make_submission(released, samples.SUBMISSIONS["naive_softmax"])
    ws.submit(course, "ada", right, ASSIGNMENT)
    ws.submit(course, "ben", naive, ASSIGNMENT)

    first, second = section_blocks()
    env = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_EXECUTION", "VIRTUAL_ENV")}
    terminal = subprocess.Popen(
        ["bash", "-c", _script(first)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_as_in_a_terminal,
    )
    end = time.monotonic() + 1200
    while time.monotonic() < end and terminal.poll() is None:
        states = [e.state for e in watch.read_queue(course, ASSIGNMENT)]
        entries = watch.read_queue(course, ASSIGNMENT)
        if states.count("done") == 2 and all(e.feedback for e in entries):
            break
        time.sleep(1)
    time.sleep(2)
    os.killpg(terminal.pid, signal.SIGINT)  # Ctrl-C
    watching = terminal.communicate(timeout=120)[0]
    assert terminal.returncode == 0, watching[-4000:]
    after = subprocess.run(
        ["bash", "-c", _script(second)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert after.returncode == 0, after.stderr[-4000:]
    return {"course": course, "watching": watching, "after": after.stdout}


def test_readme_section_has_the_two_blocks_the_test_runs():
    first, second = section_blocks()
    assert "# runs until Ctrl-C" in first
    assert "export-lms" in second


def test_watcher_grades_the_right_and_the_wrong_sample(ran):
    entries = {e.student: e for e in watch.read_queue(ran["course"], ASSIGNMENT)}
    assert (entries["ada"].state, entries["ada"].score) == ("done", FULL)
    assert (entries["ben"].state, entries["ben"].score) == ("done", NAIVE)
    assert f"ada: ok, {FULL:g}/{FULL:g}" in ran["watching"]


def test_each_student_fetches_only_their_own_feedback(ran):
    due = datetime.datetime(2026, 12, 7, 17, tzinfo=datetime.timezone.utc)
    for student, score in (("ada", f"{FULL:g} / {FULL:g}"), ("ben", f"{NAIVE:g} / {FULL:g}")):
        (page,) = ws.fetch_feedback(ran["course"], student, ASSIGNMENT)
        text = page.read_text(encoding="utf-8")
        assert f"{score} points" in text
        if datetime.datetime.now(datetime.timezone.utc) < due:
            assert "Hidden tests:" in text
            assert "stay finite and right on large logits" not in text


def test_queue_lms_csvs_and_nbgrader_export_hold_both_students(ran):
    out = ran["after"]
    assert "2 done" in out
    course = ran["course"]
    canvas = list(csv.reader((course / "reports" / f"{ASSIGNMENT}-canvas.csv").open()))
    full, naive = f"{FULL:g}", f"{NAIVE:g}"
    assert canvas[1][-1] == full
    assert {(row[3], row[-1]) for row in canvas[2:]} == {("ada", full), ("ben", naive)}
    moodle = list(csv.reader((course / "reports" / f"{ASSIGNMENT}-moodle.csv").open()))
    assert moodle[0] == ["Username", "Email address", ASSIGNMENT]
    assert {(row[0], row[-1]) for row in moodle[1:]} == {("ada", full), ("ben", naive)}
    grades = {r["student_id"]: r for r in csv.DictReader((course / "grades.csv").open())}
    assert float(grades["ada"]["score"]) == FULL and float(grades["ben"]["score"]) == NAIVE


def test_release_is_what_students_submitted_from(ran):
    nb = nbformat.read(ran["course"] / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    assert "BEGIN HIDDEN TESTS" not in nbformat.writes(nb)
