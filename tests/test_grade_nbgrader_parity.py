"""Does parallel sandboxed grading give the same scores as stock `nbgrader autograde`?

Grades the real assignment's sample submissions with `grade_assignment` (every sample) and
with stock nbgrader (a few, since each trains the model for 40 epochs), then compares the
gradebooks test by test; also checks `nbgrader generate_feedback` and `export` still work.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil

import pytest
from nbgrader.api import Gradebook

from autograder import bench
from autograder.grading import grade, sandbox

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)"),
]

STOCK_SAMPLES = ["reference_solution", "naive_softmax", "model_softmax_output"]


def _expected_scores() -> dict[str, dict[str, float]]:
    spec = importlib.util.spec_from_file_location("make_submissions", bench._SAMPLES_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.expected_scores()
    expected["reference_solution"] = expected["passes_all"]
    return expected


def _scores(course, student: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(bench.ASSIGNMENT, bench.ASSIGNMENT, student)
        return {g.name: float(g.score) for g in notebook.grades}


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    samples = list(
        bench.sample_notebooks(
            bench.REPO_ROOT / "assignment" / bench.ASSIGNMENT / f"{bench.ASSIGNMENT}.ipynb"
        )
    )
    ours = bench.build_course(root / "ours", copies=len(samples), names=samples)
    stock = root / "stock"
    shutil.copytree(root / "ours", stock)
    for folder in (stock / "autograder" / "course" / "submitted").iterdir():
        if folder.name not in STOCK_SAMPLES:
            shutil.rmtree(folder)
    bench.nbgrader(stock / "autograder" / "course", "autograde", bench.ASSIGNMENT)
    rows = grade.grade_assignment(
        assignment=bench.ASSIGNMENT, course_root=ours, workers=2, show_progress=False
    )
    return {"ours": ours, "stock": stock / "autograder" / "course", "rows": rows}


def test_grading_command_gives_stock_nbgrader_scores_test_by_test(courses):
    for student in STOCK_SAMPLES:
        assert _scores(courses["ours"], student) == _scores(courses["stock"], student), student


def test_every_sample_submission_gets_its_expected_scores(courses):
    expected = _expected_scores()
    for row in courses["rows"]:
        assert row.status == "ok", row
        assert _scores(courses["ours"], row.student) == expected[row.student], row.student


def test_nbgrader_feedback_and_export_work_on_the_result(courses):
    bench.nbgrader(courses["ours"], "generate_feedback", bench.ASSIGNMENT)
    bench.nbgrader(courses["ours"], "export")
    with (courses["ours"] / "grades.csv").open() as handle:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(handle)}
    assert exported == {row.student: row.score for row in courses["rows"]}
    feedback = courses["ours"] / "feedback" / "naive_softmax" / bench.ASSIGNMENT
    assert "subtract max(z)" in (feedback / f"{bench.ASSIGNMENT}.html").read_text()
