"""End to end: the README's instructor commands, run verbatim on a fresh copy of the course (slow).

The session fixture ``readme_graded_course`` (tests/conftest.py, tests/support/
instructor_course.py) builds a temporary copy of the repository's course
(``autograder/course/nbgrader_config.py``, ``assignment/`` with a canary planted in one hidden
test, the sample submissions' script, and the virtual environment), then runs every command
block of the README's instructors' section in order, from the repository root as the README
says: the stock nbgrader workflow (release, the sample submissions, autograde, feedback,
export), the grading command, and the Dask scale-out. Each submission must get exactly its
expected scores. The parity test (tests/test_grade_nbgrader_parity.py) reads the same run.
"""

from __future__ import annotations

import csv
import html as html_module
import json
import re
from pathlib import Path

import nbformat
import pytest

from autograder.kernel import specs

from submissions import make_submissions
from support.courses import ASSIGNMENT, REPO_ROOT
from support.instructor_course import CANARY, SOURCE_STUDENT, gradebook_scores

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(readme_graded_course):
    """The README's instructor blocks, run once per session; the course and what they said."""
    graded = readme_graded_course
    return {
        "dir": graded.dir,
        "release": graded.release,
        "autograde_log": graded.autograde_log,
        "runs": [(run.block, run.done, run.seconds) for run in graded.runs],
    }


def _scores(course_dir: Path, student: str) -> dict[str, float]:
    return gradebook_scores(course_dir / "gradebook.db", student)


@pytest.mark.parametrize("submission", list(make_submissions.expected_scores()))
def test_submission_gets_exactly_its_expected_scores(course, submission):
    expected = make_submissions.expected_scores()[submission]
    assert _scores(course["dir"], submission) == expected


def test_source_notebook_autogrades_to_full_marks(course):
    scores = _scores(course["dir"], SOURCE_STUDENT)
    full = make_submissions.expected_scores()["passes_all"]
    assert scores == full
    assert sum(scores.values()) == sum(spec.points for spec in specs.SPECS)


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


def _report_rows(course_dir: Path) -> dict[str, dict[str, str]]:
    with open(course_dir / "reports" / f"{ASSIGNMENT}.csv", newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def test_the_grading_command_gives_every_sample_its_expected_scores(course):
    rows = _report_rows(course["dir"])
    expected = make_submissions.expected_scores()
    assert set(expected) <= set(rows)
    for student, tests in expected.items():
        found = {test: float(rows[student][test]) for test in tests}
        assert found == {k: float(v) for k, v in tests.items()}, student
        assert rows[student]["status"] in ("ok", "unchanged"), rows[student]


def test_the_readme_commands_print_the_table_and_regrade_one_student(course):
    grade_block = course["runs"][1][1]
    first_table = grade_block.stdout.split("student  ")[1]
    assert "naive_softmax" in first_table and "grading_error" not in grade_block.stdout
    regrade = grade_block.stdout.split("student  ")[-1].strip().splitlines()
    assert len(regrade) == 2 and regrade[1].split()[0] == "naive_softmax", regrade
    dask_block = course["runs"][2][1].stdout
    assert "unchanged" in dask_block and "grading_error" not in dask_block
