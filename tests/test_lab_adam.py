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


def _lr_table(text: str) -> dict[float, tuple[str, str, int]]:
    rows = re.findall(r"^\s*([\d.]+)\s+(\S+)\s+(\S+)\s+(\d+)\s*$", text, re.M)
    return {float(lr): (gd, adam, int(bound)) for lr, gd, adam, bound in rows}


@pytest.mark.slow
def test_adam_lab_shows_adam_robust_to_the_learning_rate_where_gd_diverges(executed_notebook):
    rows = _lr_table(notebook_text(executed_notebook(LAB)))
    for lr in (0.1, 0.3, 1.0, 3.0):  # "in under 250 iterations from 0.1 to 3, a factor of 30"
        gd, adam, _ = rows[lr]
        assert gd == "diverges"
        assert int(adam) < 250
    # "every learning rate in the table from 0.019 to 3, a factor of about 160"
    reached = [lr for lr, (_, adam, _) in rows.items() if adam.isdigit()]
    assert min(reached) == 0.019 and max(reached) == 3.0 and round(3.0 / 0.019) == 158
    assert all(rows[lr][1].isdigit() for lr in rows if 0.019 <= lr <= 3.0)


@pytest.mark.slow
def test_adam_lab_shows_gd_faster_than_adam_at_small_learning_rates(executed_notebook):
    rows = _lr_table(notebook_text(executed_notebook(LAB)))
    for lr in (0.005, 0.019):
        gd, adam, bound = rows[lr]
        assert adam == ">3000" or int(adam) > int(gd)
        assert bound == round(10 / lr)
        assert adam == ">3000" or int(adam) >= bound  # the lower bound holds
    assert rows[0.005][1] == ">3000" and rows[0.005][2] == 2000  # the answer to question 3


@pytest.mark.slow
def test_adam_lab_first_step_normalises_each_gradient(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    first = dict(
        (name, (float(g), float(step), float(lr)))
        for name, g, step, lr in re.findall(
            r"(w\d): \|gradient\| =\s+(\S+), step = (\S+), effective lr = (\S+)", text
        )
    )
    assert first["w0"] == (100.0, 0.3, 0.003)
    assert first["w1"] == (10.0, 0.3, 0.03)
    gd_flips = int(re.search(r"w0's gradient changed sign (\d+) times", text).group(1))
    assert gd_flips == 29  # at every step
    # "the effective learning rate for w1 keeps growing (from 0.0300 to 0.0855 in 30 steps)"
    w1 = re.search(
        r"w1: gradient changed sign\s+0 times, effective lr went from (\S+) to (\S+)\n", text
    )
    prose = "\n".join(c.source for c in executed_notebook(LAB).cells if c.cell_type == "markdown")
    assert float(w1.group(2)) > float(w1.group(1))
    assert f"(from {w1.group(1)} to {w1.group(2)} in 30 steps)" in prose


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
    sgd_fast = re.search(r"SGD, lr=0\.1\s+final loss (\S+);", text)
    assert float(sgd_fast.group(1)) < float(sgd.group(1))  # a better lr helps gradient descent
    assert re.search(r"Adam with lr = 0.01: \d+ iterations\nNot yet", text)  # the try-it check
    assert count_png_outputs(nb) >= 4
