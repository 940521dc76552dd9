"""Does parallel sandboxed grading give the same scores as stock `nbgrader autograde`?

Reads the session's run of the README's instructor blocks (``readme_graded_course``,
tests/support/instructor_course.py): stock `nbgrader autograde` graded every sample submission
(the gradebook is copied right after that block), then the grading command graded them all
again in the same course, each in its sandbox, and kept its own record of every test's score.
The two are compared test by test, for every sample; `nbgrader generate_feedback` and `export`
must still work on the grading command's result.
"""

from __future__ import annotations

import csv
import shutil

import pytest

from autograder.grading import planning, sandbox

from support import courses
from support.instructor_course import SOURCE_STUDENT, gradebook_scores

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)"),
]


@pytest.fixture(scope="module")
def graded(readme_graded_course):
    """The course both graders graded; the grading command's record of each student."""
    course = readme_graded_course.dir
    plan = planning.make_plan(course_root=course, assignment=courses.ASSIGNMENT)
    expected = courses.expected_scores()
    expected[SOURCE_STUDENT] = expected.pop("reference_solution")
    records = {student: planning.read_state(plan, student) for student in expected}
    return {
        "ours": course,
        "stock_gradebook": readme_graded_course.stock_gradebook,
        "expected": expected,
        "records": records,
    }


def test_grading_command_gives_stock_nbgrader_scores_test_by_test(graded):
    for student, record in graded["records"].items():
        assert record is not None and record.status == "ok", (student, record)
        stock = gradebook_scores(graded["stock_gradebook"], student)
        assert record.tests == stock, student


def test_every_sample_submission_gets_its_expected_scores(graded):
    for student, expected in graded["expected"].items():
        record = graded["records"][student]
        assert record is not None and record.status == "ok", (student, record)
        assert record.tests == expected, student
        assert gradebook_scores(graded["ours"] / "gradebook.db", student) == expected, student


def test_nbgrader_feedback_and_export_work_on_the_result(graded, tmp_path):
    # A copy laid out as the original (the course's configuration finds ../../assignment).
    course = tmp_path / "autograder" / "course"
    shutil.copytree(graded["ours"], course, ignore=shutil.ignore_patterns("grader"))
    (tmp_path / "assignment").symlink_to(graded["ours"].parents[1] / "assignment")
    # What the stock workflow wrote: this test must see what nbgrader makes of our grades.
    shutil.rmtree(course / "feedback")
    (course / "grades.csv").unlink()
    courses.nbgrader(course, "generate_feedback", courses.ASSIGNMENT)
    courses.nbgrader(course, "export")
    with (course / "grades.csv").open() as handle:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(handle)}
    assert exported == {s: r.score for s, r in graded["records"].items()}
    feedback = course / "feedback" / "naive_softmax" / courses.ASSIGNMENT
    assert "subtract max(z)" in (feedback / f"{courses.ASSIGNMENT}.html").read_text()
