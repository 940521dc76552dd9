"""Does parallel sandboxed grading give the same scores as stock `nbgrader autograde`?

Grades the real assignment's sample submissions with `grade_assignment` (every sample) and
with stock nbgrader (a few, since each trains the model for 40 epochs), then compares the
gradebooks test by test; also checks `nbgrader generate_feedback` and `export` still work.
"""

from __future__ import annotations

import csv
import shutil

import pytest
from nbgrader.api import Gradebook

from autograder.grading import grade, sandbox

from support import courses

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)"),
]

STOCK_SAMPLES = ["reference_solution", "naive_softmax", "model_softmax_output"]


def _scores(course, student: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(courses.ASSIGNMENT, courses.ASSIGNMENT, student)
        return {g.name: float(g.score) for g in notebook.grades}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    samples = [*courses.expected_scores()]
    ours = courses.sample_course(root / "ours", copies=len(samples), names=samples)
    stock = root / "stock"
    shutil.copytree(root / "ours", stock)
    for folder in (stock / "autograder" / "course" / "submitted").iterdir():
        if folder.name not in STOCK_SAMPLES:
            shutil.rmtree(folder)
    courses.nbgrader(stock / "autograder" / "course", "autograde", courses.ASSIGNMENT)
    rows = grade.grade_assignment(
        assignment=courses.ASSIGNMENT, course_root=ours, workers=2, show_progress=False
    )
    return {"ours": ours, "stock": stock / "autograder" / "course", "rows": rows}


def test_grading_command_gives_stock_nbgrader_scores_test_by_test(graded):
    for student in STOCK_SAMPLES:
        assert _scores(graded["ours"], student) == _scores(graded["stock"], student), student


def test_every_sample_submission_gets_its_expected_scores(graded):
    expected = courses.expected_scores()
    for row in graded["rows"]:
        assert row.status == "ok", row
        assert _scores(graded["ours"], row.student) == expected[row.student], row.student


def test_nbgrader_feedback_and_export_work_on_the_result(graded):
    courses.nbgrader(graded["ours"], "generate_feedback", courses.ASSIGNMENT)
    courses.nbgrader(graded["ours"], "export")
    with (graded["ours"] / "grades.csv").open() as handle:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(handle)}
    assert exported == {row.student: row.score for row in graded["rows"]}
    feedback = graded["ours"] / "feedback" / "naive_softmax" / courses.ASSIGNMENT
    assert "subtract max(z)" in (feedback / f"{courses.ASSIGNMENT}.html").read_text()
