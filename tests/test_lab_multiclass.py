"""The Multi-class lab executes, trains an accurate model and explains its layers."""

import re

import pytest

from conftest import notebook_text

NOTEBOOK = "labs/C2_W2_Multiclass_TF.ipynb"


@pytest.fixture(scope="module")
def text(executed_notebook):
    return notebook_text(executed_notebook(NOTEBOOK))


@pytest.mark.slow
def test_multiclass_lab_trains_a_model_that_fits_the_four_clusters(text):
    assert "points per class: [25 25 25 25]" in text
    match = re.search(r"loss = ([\d.]+), accuracy on the 100 points = ([\d.]+)", text)
    assert match, "the lab must print the final loss and accuracy"
    loss, accuracy = map(float, match.groups())
    assert accuracy > 0.9
    assert loss < 0.5


@pytest.mark.slow
def test_multiclass_lab_checks_its_hand_computed_layers_against_keras(text):
    assert "matches Keras' layer L1: True" in text
    assert "matches model.predict: True" in text
    assert len(re.findall(r"unit \d: off \(a = 0\) for most points of classes", text)) == 2
    wins = [int(p) for p in re.findall(r"has the largest logit for (\d+)% of its points", text)]
    assert len(wins) == 4 and min(wins) > 80


@pytest.mark.slow
def test_multiclass_lab_shows_relu_outputs_are_unbounded(text):
    tops = re.search(r"largest a_j on the plotted area: \[\s*(\S+)\s+(\S+)\]", text).groups()
    assert max(float(t) for t in tops) > 15  # "passes 15", far above a sigmoid's 1


@pytest.mark.slow
def test_multiclass_lab_one_relu_unit_cannot_separate_four_classes(text):
    accuracy = float(re.search(r"1 unit\(s\) in layer 1: accuracy (\S+)", text).group(1))
    assert accuracy < 0.9
    off = re.search(
        r"classes predicted for the points where every layer-1 unit is off: \[(.*)\]", text
    )
    assert len(off.group(1).split()) == 1  # the whole "off" half-plane gets one class


@pytest.mark.slow
def test_multiclass_lab_prints_no_library_warnings(executed_notebook):
    nb = executed_notebook(NOTEBOOK)
    stderr = "".join(
        out.get("text", "")
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("name") == "stderr"
    )
    assert "WARNING:tensorflow" not in stderr
    assert "E0000" not in stderr
