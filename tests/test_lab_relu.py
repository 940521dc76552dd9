"""The ReLU lab executes and shows the exercise's solution and the linear comparison."""

from __future__ import annotations

import re

import pytest

from conftest import count_png_outputs, notebook_text

LAB = "labs/C2_W2_Relu.ipynb"


@pytest.mark.slow
def test_relu_lab_shows_the_solution_and_that_it_fits_the_target(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert "solution: w1 = 1, b1 = -1, w2 = 2, b2 = -4" in text
    assert "output matches target: True" in text
    gap = float(re.search(r"^largest \|y_hat - target\| on \[0, 3\]: (\S+)", text, re.M).group(1))
    assert gap < 1e-9


@pytest.mark.slow
def test_relu_lab_run_all_leaves_the_exercise_unsolved(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert "your sliders: w1 = 0, b1 = 0, w2 = 0, b2 = 0" in text
    assert "your output matches the target: False" in text


@pytest.mark.slow
def test_relu_lab_try_it_check_runs_on_the_starting_values(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert "slope from x = 2: 3.00; unchanged left of x = 2: True" in text
    assert "Not yet." in text


@pytest.mark.slow
def test_relu_lab_shows_linear_units_only_make_straight_lines(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    linear = float(re.search(r"linear units, .*second difference = (\S+)", text).group(1))
    bent = float(
        re.search(r"ReLU units, solution: largest second difference = (\S+)", text).group(1)
    )
    assert linear < 1e-9
    assert bent > 0.01


@pytest.mark.slow
def test_relu_lab_draws_its_figures_and_widgets(executed_notebook):
    nb = executed_notebook(LAB)
    # activations, exercise widget, solution, linear sums, linear widget
    assert count_png_outputs(nb) >= 5
    assert notebook_text(nb).count("FloatSlider") >= 2
