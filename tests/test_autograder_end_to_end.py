"""End to end: release, autograde the submission fixtures, feedback, export (slow).

Builds a temporary course from ``autograder/course/nbgrader_config.py`` and a copy of
``assignment/``, with a canary planted in one hidden test, then runs the instructor's
nbgrader commands exactly as the README gives them.
"""

from __future__ import annotations

import html as html_module
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "C2_W2_Assignment"
SOURCE = REPO_ROOT / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
CANARY = "canary_7f3a9e_hidden_source"

pytestmark = pytest.mark.slow


def _load_make_submissions():
    path = Path(__file__).resolve().parent / "submissions" / "make_submissions.py"
    spec = importlib.util.spec_from_file_location("make_submissions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_submissions = _load_make_submissions()


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("NBGRADER_EXECUTION", None)
    result = subprocess.run(
        [str(Path(bin_dir) / "nbgrader"), *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-4000:]}"
    return result


def _plant_canary(source: Path) -> None:
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "softmax_random_vectors":
            cell.source = cell.source.replace(
                "### BEGIN HIDDEN TESTS\n", f"### BEGIN HIDDEN TESTS\n# {CANARY}\n"
            )
            assert CANARY in cell.source
    nbformat.write(nb, source)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Run the whole instructor workflow once; return the course folder and timings."""
    root = tmp_path_factory.mktemp("course")
    course = root / "autograder" / "course"
    course.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "autograder" / "course" / "nbgrader_config.py", course)
    shutil.copytree(REPO_ROOT / "assignment", root / "assignment")
    _plant_canary(root / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")

    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    make_submissions.write_submissions(release, course / "submitted")
    source_copy = course / "submitted" / "source_notebook" / ASSIGNMENT
    source_copy.mkdir(parents=True)
    shutil.copy(SOURCE, source_copy)

    start = time.perf_counter()
    autograde = _nbgrader(course, "autograde", ASSIGNMENT)
    seconds = time.perf_counter() - start
    print(
        f"\nnbgrader autograde of {len(make_submissions.SUBMISSIONS) + 1} submissions: "
        f"{seconds:.0f} s"
    )
    _nbgrader(course, "generate_feedback", ASSIGNMENT)
    _nbgrader(course, "export")
    return {"dir": course, "release": release, "autograde_log": autograde.stderr}


def _scores(course_dir: Path, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name: grade.score for grade in notebook.grades}


@pytest.mark.parametrize("submission", list(make_submissions.expected_scores()))
def test_submission_gets_exactly_its_expected_scores(course, submission):
    expected = make_submissions.expected_scores()[submission]
    assert _scores(course["dir"], submission) == expected


def test_source_notebook_autogrades_to_full_marks(course):
    scores = _scores(course["dir"], "source_notebook")
    full = make_submissions.expected_scores()["passes_all"]
    assert scores == full
    assert sum(scores.values()) == 16


def test_tf_warnings_fixture_really_wrote_library_warnings_that_were_filtered(course):
    assert "library-warning line(s) from the stderr of graded cell" in course["autograde_log"]


def test_release_holds_no_solution_and_no_hidden_tests(course):
    text = course["release"].read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert CANARY not in text
    code = "\n".join(
        cell.source
        for cell in nbformat.read(course["release"], as_version=4).cells
        if cell.cell_type == "code"
    )
    assert "np.exp(z - np.max(z))" not in code
    assert "Sequential(" not in code and "Dense(" not in code
    assert "kernel.check_softmax_random_vectors" not in code
    assert "kernel.check_softmax_original_cases" in code  # the public test stays
    assert code.count("raise NotImplementedError") == 2


def test_release_fails_each_unanswered_cell_with_a_clear_message(course):
    nb = nbformat.read(course["release"], as_version=4)
    from nbclient import NotebookClient

    NotebookClient(
        nb,
        timeout=600,
        allow_errors=True,
        resources={"metadata": {"path": str(course["release"].parent)}},
    ).execute()
    errors = [
        (out["ename"], out["evalue"])
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out["output_type"] == "error"
    ]
    assert errors, "the unanswered release should stop at the exercises"
    for ename, evalue in errors:
        assert ename in {"NotImplementedError", "ExerciseNotDone", "CheckFailed"}, (ename, evalue)
        assert "Exercise" in evalue or "exercise" in evalue, evalue


def _feedback_html(course_dir: Path, student: str) -> str:
    return (course_dir / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(
        encoding="utf-8"
    )


def _visible_text(page: str) -> str:
    """Return the text of an HTML page without tags (highlighting splits code into spans)."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", page))


def _hidden_reference_values() -> list[str]:
    """Return the hidden expected softmax values as they could be printed."""
    data = json.loads((REPO_ROOT / "autograder" / "reference" / "softmax.json").read_text())
    public = {
        f"{v:.6f}" for case in data["checks"]["softmax_original_cases"] for v in case["expected"]
    } | {f"{1.0:.6f}"}  # the lab prints softmax([1, 2, 3, 4]); a single entry gives 1
    values = []
    for name, cases in data["checks"].items():
        for case in cases:
            for v in case["expected"]:
                if name != "softmax_original_cases" and f"{v:.6f}" not in public:
                    values += [repr(v), f"{v:.6f}"]
    return values


@pytest.mark.parametrize("student", ["naive_softmax", "softmax_not_normalised", "unanswered"])
def test_feedback_explains_failures_without_revealing_hidden_tests(course, student):
    html = _feedback_html(course["dir"], student)
    text = _visible_text(html)
    assert CANARY not in html and CANARY not in text
    assert "kernel.check_softmax_random_vectors" not in text
    assert "kernel.check_softmax_original_cases" in text  # public test source is shown
    assert "application/vnd.nn-course.facts+json" not in html
    assert '"facts"' not in html
    leaked = [v for v in _hidden_reference_values() if v in text]
    assert leaked == []
    assert "CheckFailed" in html


def test_feedback_says_why_the_naive_softmax_failed(course):
    text = _visible_text(_feedback_html(course["dir"], "naive_softmax"))
    assert "subtract max(z)" in text
    assert "Does my_softmax stay finite" in text  # the test's docstring stays visible


def test_export_writes_total_scores(course):
    import csv

    with open(course["dir"] / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}
    expected = make_submissions.expected_scores()
    for student, scores in expected.items():
        assert rows[student] == sum(scores.values())
