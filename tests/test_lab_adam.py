"""The Adam lab executes and shows Adam beating gradient descent, with numbers."""

from __future__ import annotations

import re

import pytest

from conftest import count_png_outputs, notebook_text

LAB = "labs/C2_W2_Adam.ipynb"


@pytest.mark.slow
def test_adam_lab_matches_keras_adam_to_float32_rounding(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert "Keras epsilon: 1e-07" in text
    gap = float(re.search(r"max \|w_keras - w_numpy\| over 10 steps: (\S+)", text).group(1))
    assert gap < 1e-6


@pytest.mark.slow
def test_adam_lab_reaches_the_target_cost_in_fewer_iterations_than_gd(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    gd = int(re.search(r"GD, lr=0\.019\s+(\d+)\n", text).group(1))
    adam = int(re.search(r"Adam, lr=0\.3\s+(\d+)\n", text).group(1))
    assert adam < gd / 2
    assert re.search(r"GD, lr=0\.021: cost after 20 steps = \S+ \(diverging\)", text)


@pytest.mark.slow
def test_adam_lab_shows_adam_robust_to_the_learning_rate_where_gd_diverges(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    rows = dict(
        (float(lr), (gd, adam))
        for lr, gd, adam in re.findall(r"^\s*([\d.]+)\s+(\S+)\s+(\S+)\s*$", text, re.M)
    )
    for lr in (0.1, 0.3, 1.0, 3.0):
        gd, adam = rows[lr]
        assert gd == "diverges"
        assert int(adam) < 300


@pytest.mark.slow
def test_adam_lab_shows_effective_lr_growing_only_for_the_steady_parameter(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    found = dict(
        (name, (int(flips), float(start), float(end)))
        for name, flips, start, end in re.findall(
            r"(w\d): gradient changed sign\s+(\d+) times, effective lr went from (\S+) to (\S+)",
            text,
        )
    )
    assert found["w1"][0] == 0 and found["w1"][2] > found["w1"][1]
    assert found["w0"][0] > 0 and found["w0"][2] < found["w1"][2]


@pytest.mark.slow
def test_adam_lab_trains_the_blob_network_faster_than_sgd_at_the_same_lr(executed_notebook):
    nb = executed_notebook(LAB)
    text = notebook_text(nb)
    adam = re.search(
        r"Adam, lr=0\.01\s+final loss (\S+); first epoch with loss <= 0\.05: (\d+)", text
    )
    sgd = re.search(r"SGD, lr=0\.01\s+final loss (\S+);", text)
    assert float(adam.group(1)) < float(sgd.group(1))
    assert int(adam.group(2)) <= 10
    assert count_png_outputs(nb) >= 4
