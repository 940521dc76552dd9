"""Do the check specs, the assignment's graded cells, the kernel API and the reference agree?"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from autograder import kernel
from autograder.grading import judge
from autograder.kernel import specs
from autograder.kernel.reference import load

NOTEBOOK = (
    Path(__file__).resolve().parents[1] / "assignment/C2_W2_Assignment/C2_W2_Assignment.ipynb"
)


def _graded_cells() -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def test_each_graded_cell_is_one_spec_in_notebook_order():
    assert list(_graded_cells()) == list(specs.BY_NAME)


@pytest.mark.parametrize("spec", specs.SPECS, ids=lambda s: s.name)
def test_a_specs_points_and_hiding_match_its_test_cell(spec):
    cell = _graded_cells()[spec.name]
    assert cell.metadata["nbgrader"]["points"] == spec.points
    hidden = re.search(
        rf"### BEGIN HIDDEN TESTS\n.*kernel\.check_{spec.name}\(.*### END HIDDEN TESTS",
        cell.source,
        re.S,
    )
    assert bool(hidden) == spec.hidden, cell.source


@pytest.mark.parametrize("spec", specs.SPECS, ids=lambda s: s.name)
def test_the_grader_finds_the_specs_call_in_its_test_cell(spec):
    calls = judge.expected_checks(_graded_cells()[spec.name].source)
    assert [call.name for call in calls] == [spec.name]


@pytest.mark.parametrize("spec", specs.SPECS, ids=lambda s: s.name)
def test_the_kernel_offers_each_spec_as_a_check_function(spec):
    function = getattr(kernel, f"check_{spec.name}")
    assert function.__name__ == f"check_{spec.name}"
    assert function.__doc__ == spec.question


def test_the_reference_holds_exactly_the_softmax_specs_cases():
    reference = load()["softmax"]["checks"]
    assert list(reference) == list(specs.names("softmax"))
    for spec in specs.SPECS:
        if spec.subject == "softmax":
            assert [row["id"] for row in reference[spec.name]] == [c["id"] for c in spec.cases]
            assert [row["z"] for row in reference[spec.name]] == [c["z"] for c in spec.cases]


def test_every_softmax_spec_has_public_cases_and_a_probe_plan_and_no_model_spec_has():
    for spec in specs.SPECS:
        softmax = spec.subject == "softmax"
        assert bool(spec.cases) == softmax, spec.name
        assert (spec.probe_plan is not None) == softmax, spec.name


def test_the_points_add_up_to_the_assignments_sixteen():
    assert sum(spec.points for spec in specs.SPECS) == 16


def test_grading_doc_states_the_public_checks_and_their_twins_as_the_specs_define_them():
    page = " ".join(
        (NOTEBOOK.parents[2] / "docs" / "grading.md").read_text(encoding="utf-8").split()
    )
    public = [spec for spec in specs.SPECS if not spec.hidden]
    total = sum(spec.points for spec in specs.SPECS)
    assert f"Of the {len(specs.SPECS)} ({total} points), {len(public)} are public" in page
    twins = {
        "softmax_large_logits": "softmax_large_inputs",
        "model_output_linear": "model_activations",
    }
    for visible, hidden in twins.items():
        assert not specs.BY_NAME[visible].hidden and specs.BY_NAME[hidden].hidden
        assert f"`{visible}` and the hidden `{hidden}`" in page
        assert specs.BY_NAME[visible].points == specs.BY_NAME[hidden].points == 1
    assert "Each twin is worth 1 point" in page
