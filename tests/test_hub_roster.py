"""The class file's roster in nbgrader's gradebook, and the LMS exports it gives a row to
every student (``autograder/hub/roster.py``, ``autograder/hub/gradebook.py``,
``autograder/grading/lms.py``)."""

from __future__ import annotations

import csv
import datetime
import os
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.grading import lms, planning
from autograder.hub.gradebook import GradebookPlan, apply
from autograder.hub.roster import DEFAULT_CLASS_FILE, RosterError, Student, load_roster

COURSE_ID = "nn-training-c2w2"
ASSIGNMENT = "A1"
UTC = datetime.timezone.utc


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch):
    # nbgrader's Gradebook runs alembic from PATH: the one beside this interpreter.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")


def _course(tmp_path: Path) -> Path:
    """A course root whose gradebook holds one assignment (one test cell, 4 points)."""
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n", encoding="utf-8"
    )
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        gb.add_assignment(ASSIGNMENT)
        gb.add_notebook(ASSIGNMENT, ASSIGNMENT)
        gb.add_grade_cell("t1", ASSIGNMENT, ASSIGNMENT, max_score=4, cell_type="code")
    return course


def _graded(course: Path, student: str, score: float) -> None:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        gb.add_submission(ASSIGNMENT, student)
        gb.find_grade("t1", ASSIGNMENT, ASSIGNMENT, student).auto_score = score
        gb.db.commit()


def _plan(course: Path, due: str | None = None) -> GradebookPlan:
    roster = load_roster(DEFAULT_CLASS_FILE)
    return GradebookPlan(
        course_root=str(course),
        course_id=COURSE_ID,
        students=tuple(vars(roster.student(name)) for name in roster.students),
        due_dates={ASSIGNMENT: due},
    )


def test_the_sample_class_names_every_student_with_an_email():
    roster = load_roster(DEFAULT_CLASS_FILE)
    for name in roster.students:
        student = roster.student(name)
        assert student.first_name and student.last_name and "@" in student.email, student


def test_the_roster_goes_into_the_gradebook_with_names_emails_and_the_course(tmp_path):
    course = _course(tmp_path)

    said = apply(_plan(course))

    roster = load_roster(DEFAULT_CLASS_FILE)
    assert len(said) == len(roster.students)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        found = {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}
        assert gb.find_assignment(ASSIGNMENT).course_id == COURSE_ID
    for name in roster.students:
        student = roster.student(name)
        assert found[name] == (student.first_name, student.last_name, student.email)
    assert apply(_plan(course)) == [], "a second start changes nothing"


def test_a_due_date_from_the_settings_reaches_the_gradebook(tmp_path):
    course = _course(tmp_path)

    apply(_plan(course, due="2026-12-07 17:00:00 UTC"))

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        assert gb.find_assignment(ASSIGNMENT).duedate == datetime.datetime(2026, 12, 7, 17)
    apply(_plan(course, due=None))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        assert gb.find_assignment(ASSIGNMENT).duedate == datetime.datetime(2026, 12, 7, 17), (
            "no due date in the settings keeps the gradebook's"
        )


def test_lms_exports_have_a_named_row_for_every_student_and_zero_for_a_missed_deadline(tmp_path):
    course = _course(tmp_path)
    apply(_plan(course, due="2026-12-07 17:00:00 UTC"))
    roster = load_roster(DEFAULT_CLASS_FILE)
    submitter, *absent = roster.students
    _graded(course, submitter, 3.0)

    canvas = list(
        csv.reader(lms.export_lms(assignment=ASSIGNMENT, fmt="canvas", course_root=course).open())
    )
    moodle = list(
        csv.reader(lms.export_lms(assignment=ASSIGNMENT, fmt="moodle", course_root=course).open())
    )

    names = {row[3]: row[0] for row in canvas[2:]}
    emails = {row[0]: row[1] for row in moodle[1:]}
    for name in roster.students:
        student = roster.student(name)
        assert names[name] == f"{student.last_name}, {student.first_name}"
        assert emails[name] == student.email
    plan = planning.make_plan(course_root=course, assignment=ASSIGNMENT)
    before = datetime.datetime(2026, 12, 7, 16, 59, tzinfo=UTC)
    after = datetime.datetime(2026, 12, 7, 17, 1, tzinfo=UTC)
    totals = {
        when: {row["id"]: row["total"] for row in lms.class_scores(plan, now=now)}
        for when, now in (("before", before), ("after", after))
    }
    assert totals["before"] == {submitter: 3.0, **dict.fromkeys(absent)}
    assert totals["after"] == {submitter: 3.0, **dict.fromkeys(absent, 0.0)}


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ('{id = "nnc-a", first_name = "A", mail = "a@x"}', "unknown keys \\['mail'\\]"),
        ('{id = "nnc-a", email = "a@x, b@y"}', "not one address"),
        ('{id = "nnc-a", first_name = 3}', "must be text"),
        ('{first_name = "A"}', "write a name, or a table"),
    ],
)
def test_a_student_entry_that_cannot_work_is_refused_with_the_fix(tmp_path, entry, complaint):
    path = tmp_path / "class.toml"
    path.write_text(f'course_id = "c"\ninstructor = "t"\nstudents = [{entry}]\n', encoding="utf-8")
    with pytest.raises(RosterError, match=complaint):
        load_roster(path)


def test_a_student_without_details_is_just_a_name(tmp_path):
    path = tmp_path / "class.toml"
    path.write_text(
        'course_id = "c"\ninstructor = "t"\nstudents = ["a", {id = "b", last_name = "Bee"}]\n',
        encoding="utf-8",
    )
    roster = load_roster(path)
    assert roster.students == ("a", "b")
    assert roster.student("a") == Student("a")
    assert roster.student("b") == Student("b", last_name="Bee")
