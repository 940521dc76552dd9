"""The assignment source notebook: nbgrader metadata, and what it shows when executed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from autograder.kernel import specs
from autograder.notebooks import Stop, execute_notebook

from conftest import notebook_text
from submissions import make_submissions
from support import courses

NOTEBOOK = Path("assignment/C2_W2_Assignment/C2_W2_Assignment.ipynb")
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def source():
    return nbformat.read(REPO_ROOT / NOTEBOOK, as_version=4)


def _nbgrader_cells(nb):
    return [c for c in nb.cells if "nbgrader" in c.metadata]


def _test_cells(nb):
    return [c for c in _nbgrader_cells(nb) if c.metadata["nbgrader"]["grade"]]


def test_every_nbgrader_cell_has_a_unique_snake_case_grade_id(source):
    ids = [c.metadata["nbgrader"]["grade_id"] for c in _nbgrader_cells(source)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)
    assert all(c.metadata["nbgrader"]["schema_version"] == 3 for c in _nbgrader_cells(source))


def test_there_is_one_graded_test_cell_per_check(source):
    assert [c.metadata["nbgrader"]["grade_id"] for c in _test_cells(source)] == list(specs.BY_NAME)


def test_each_test_cell_opens_with_a_one_line_docstring_and_calls_its_check(source):
    for cell in _test_cells(source):
        first = cell.source.splitlines()[0]
        assert re.fullmatch(r'""".+\?"""', first), first
        assert f"kernel.check_{cell.metadata['nbgrader']['grade_id']}(" in cell.source


def test_softmax_and_model_are_worth_eight_points_each(source):
    points = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
        for c in _test_cells(source)
    }
    assert sum(v for k, v in points.items() if k.startswith("softmax")) == 8
    assert sum(v for k, v in points.items() if k.startswith("model")) == 8


def test_answer_cells_hold_solution_regions_and_keep_the_names(source):
    answers = [c for c in _nbgrader_cells(source) if c.metadata["nbgrader"]["solution"]]
    assert [c.metadata["nbgrader"]["grade_id"] for c in answers] == [
        "my_softmax",
        "model_definition",
    ]
    for cell in answers:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
    assert "def my_softmax(z):" in answers[0].source
    assert 'name="my_model"' in answers[1].source


def test_hidden_tests_are_the_checks_students_cannot_see(source):
    public = [
        c.metadata["nbgrader"]["grade_id"] for c in _test_cells(source) if "HIDDEN" not in c.source
    ]
    assert public == [
        "softmax_original_cases",
        "softmax_large_logits",  # a naive softmax fails here, in sight
        "model_three_dense_layers",
        "model_units",
        "model_output_linear",  # a softmax output layer fails here, in sight
    ]


def _student_version(nb):
    """Return ``nb`` with its hidden tests removed by nbgrader's own preprocessor."""
    from nbgrader.preprocessors import ClearHiddenTests

    student, _ = ClearHiddenTests().preprocess(
        nbformat.reads(nbformat.writes(nb), as_version=4), {}
    )
    return student


def test_hidden_test_cells_end_in_a_statement_so_the_student_version_prints_nothing(source):
    # IPython shows the value of a cell's last expression: a lone docstring would print as Out.
    for cell in _test_cells(_student_version(source)):
        if "kernel.check_" in cell.source:
            continue  # a visible test
        last = ast.parse(cell.source).body[-1]
        assert not isinstance(last, ast.Expr), cell.source


def test_notebook_starts_with_the_widget_backend_and_is_committed_clean(source):
    code = [c for c in source.cells if c.cell_type == "code"]
    assert code[0].source.startswith("%matplotlib widget")
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_executed_source_passes_every_check_and_shows_the_lab_numbers(executed_notebook):
    nb = executed_notebook(NOTEBOOK)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    text = notebook_text(nb)
    assert text.count("Passed: ") == len(specs.SPECS)
    assert "The shape of X is: (5000, 400)" in text
    assert "The shape of y is: (5000, 1)" in text
    assert "10,575" in text  # model.summary's total
    assert "W1 shape = (400, 25), b1 shape = (25,)" in text
    assert "W3 shape = (15, 10), b3 shape = (10,)" in text
    assert "training set: 4000 images, test set: 1000 images" in text
    assert "Largest prediction index: 2" in text
    assert "np.argmax(prediction_p): 2" in text
    test_accuracy = float(re.search(r"test accuracy:\s+([\d.]+)", text).group(1))
    train_accuracy = float(re.search(r"training accuracy:\s+([\d.]+)", text).group(1))
    assert 0.85 < test_accuracy <= train_accuracy <= 1.0


# ------------------------------------------------------------- the generated student version


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """Return the student version that ``nbgrader generate_assignment`` writes, and its folder."""
    course = courses.new_course(tmp_path_factory.mktemp("course"))
    path = courses.release(course)
    return nbformat.read(path, as_version=4), path.parent


def _run_student_version(release, answers: dict[str, str]):
    """Execute the student version with ``answers`` in its answer cells, up to the first error."""
    released, folder = release
    submission = make_submissions.make_submission(released, answers)
    nb = nbformat.reads(nbformat.writes(submission), as_version=4)  # sources as strings
    run = execute_notebook(nb, cwd=folder, cell_timeout=600)
    return nb, run


def _failed_visible_test(nb, run) -> tuple[str, str]:
    """Return the grade_id and error message of the visible test cell the run stopped at."""
    assert run.stop == Stop.CELL_ERROR, run
    cell = nb.cells[run.index]
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    assert grade_id in specs.BY_NAME and not specs.BY_NAME[grade_id].hidden, cell.source
    assert f"kernel.check_{grade_id}(" in cell.source  # the student sees the call
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    assert error.ename == "CheckFailed"
    return grade_id, error.evalue


@pytest.mark.slow
def test_student_version_stops_a_naive_softmax_at_a_visible_test_that_says_what_to_fix(release):
    nb, run = _run_student_version(release, make_submissions.SUBMISSIONS["naive_softmax"])
    grade_id, message = _failed_visible_test(nb, run)
    assert grade_id == "softmax_large_logits"
    assert "nan or inf" in message and "subtract max(z)" in message


@pytest.mark.slow
def test_student_version_stops_a_softmax_output_layer_at_a_visible_test_that_says_what_to_fix(
    release,
):
    nb, run = _run_student_version(release, make_submissions.SUBMISSIONS["model_softmax_output"])
    grade_id, message = _failed_visible_test(nb, run)
    assert grade_id == "model_output_linear"
    assert "uses softmax" in message and "from_logits=True" in message
    assert "activation='linear'" in message
    # The visible tests before it (softmax, layers, units) passed and said so.
    ran = [
        c
        for c in nb.cells[: run.index]
        if c.metadata.get("nbgrader", {}).get("grade") and "kernel.check_" in c.source
    ]
    assert [c.metadata["nbgrader"]["grade_id"] for c in ran] == [
        "softmax_original_cases",
        "softmax_large_logits",
        "model_three_dense_layers",
        "model_units",
    ]
    assert all(c.outputs[0].text.startswith("Passed: ") for c in ran)


@pytest.mark.slow
def test_student_version_runs_to_the_end_and_hidden_test_cells_print_nothing(release):
    nb, run = _run_student_version(release, make_submissions.SUBMISSIONS["passes_all"])
    assert run.stop is None, run
    tests = _test_cells(nb)
    hidden = [c for c in tests if "kernel.check_" not in c.source]
    visible = [c for c in tests if "kernel.check_" in c.source]
    names = [c.metadata["nbgrader"]["grade_id"] for c in hidden]
    assert names == [spec.name for spec in specs.SPECS if spec.hidden]
    assert [c.outputs for c in hidden] == [[] for _ in hidden]
    for cell in visible:
        (out,) = cell.outputs
        assert out.output_type == "stream" and out.text.startswith("Passed: "), cell.source
