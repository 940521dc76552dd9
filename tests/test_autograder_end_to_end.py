"""End to end: the README's instructor commands, run verbatim on a fresh copy of the course (slow).

Builds a temporary copy of the repository's course (``autograder/course/nbgrader_config.py``,
``assignment/`` with a canary planted in one hidden test, the sample submissions' script, and
the virtual environment), then runs every command block of the README's instructors' section
in order, from the repository root as the README says: the stock nbgrader workflow (release,
the sample submissions, autograde, feedback, export), the grading command, and the Dask
scale-out. Each submission must get exactly its expected scores.
"""

from __future__ import annotations

import csv
import html as html_module
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

from submissions import make_submissions
from support import courses, readme
from support.courses import ASSIGNMENT, REPO_ROOT, SOURCE

CANARY = "canary_7f3a9e_hidden_source"

pytestmark = pytest.mark.slow


def _plant_canary(source: Path) -> None:
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "softmax_random_vectors":
            cell.source = cell.source.replace(
                "### BEGIN HIDDEN TESTS\n", f"### BEGIN HIDDEN TESTS\n# {CANARY}\n"
            )
            assert CANARY in cell.source
    nbformat.write(nb, source)


#: Comments that mark a line as a service (started and left running, as on its own machine).
_SERVICE_MARKS = ("# on the scheduler machine", "# on each worker machine")


def _as_script(block: str) -> str:
    """Return ``block`` as a bash script: stop at the first error, services in the background."""
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for line in block.splitlines():
        mark = next((m for m in _SERVICE_MARKS if m in line), None)
        if mark is not None:
            line = line[: line.index(mark)].rstrip() + " &"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _copy_of_the_course(root: Path) -> Path:
    """Lay out what the README's commands need, as in the repository, under ``root``."""
    course = courses.new_course(root)
    shutil.copytree(REPO_ROOT / "tests" / "submissions", root / "tests" / "submissions")
    (root / ".venv").symlink_to(Path(sys.prefix))
    _plant_canary(root / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    # An extra submission, beside those the README's sample script writes: the source itself.
    source_copy = course / "submitted" / "source_notebook" / ASSIGNMENT
    source_copy.mkdir(parents=True)
    shutil.copy(SOURCE, source_copy)
    return course


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Run the README's instructor command blocks once; return the course and what they said."""
    root = tmp_path_factory.mktemp("course")
    course = _copy_of_the_course(root)
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {**os.environ, "PATH": path}
    for name in ("NBGRADER_EXECUTION", "VIRTUAL_ENV"):
        env.pop(name, None)
    blocks = readme.blocks("## For instructors: grading the assignment")
    assert len(blocks) == 3, "the README's instructors' section should have three blocks"
    runs = []
    for block in blocks:
        start = time.perf_counter()
        done = subprocess.run(
            ["bash", "-c", _as_script(block)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=2400,
        )
        runs.append((block, done, time.perf_counter() - start))
        assert done.returncode == 0, f"README block failed:\n{block}\n{done.stderr[-4000:]}"
    print("\n" + "\n".join(f"README block {k}: {t:.0f} s" for k, (_, _, t) in enumerate(runs)))
    return {
        "dir": course,
        "release": course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        "autograde_log": runs[0][1].stderr,
        "runs": runs,
    }


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
