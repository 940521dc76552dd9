"""The assignment source notebook: nbgrader metadata, and what it shows when executed."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from autograder.kernel import specs

from conftest import notebook_text

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
    assert public == ["softmax_original_cases", "model_three_dense_layers", "model_units"]


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
