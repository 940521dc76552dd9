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
