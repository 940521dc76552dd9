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
    # activations, exercise widget, linear sums, linear widget; the solution's figure is folded
    assert count_png_outputs(nb) >= 4
    assert notebook_text(nb).count("FloatSlider") >= 2


def _outputs_after_the_exercise(nb):
    """Return the outputs of the cells from the slider exercise to section 3, in order."""
    start = next(i for i, c in enumerate(nb.cells) if "relu_fit_widget()" in c.source)
    end = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## 3."))
    return [o for c in nb.cells[start + 1 : end] for o in c.get("outputs", [])]


@pytest.mark.slow
def test_relu_lab_run_all_keeps_the_slider_solution_folded(executed_notebook):
    """Does Run All show the solution's numbers and figure only inside a closed <details>?"""
    outputs = _outputs_after_the_exercise(executed_notebook(LAB))
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "w1 = 1" not in printed  # only the student's own sliders are printed
    assert not any("image/png" in o.get("data", {}) for o in outputs)  # no unfolded figure
    folded = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(folded) == 1
    html = folded[0]
    assert html.startswith("<details><summary>") and "<details open" not in html
    assert "solution: w1 = 1, b1 = -1, w2 = 2, b2 = -4" in html
    assert '<img src="data:image/png;base64,' in html  # the figure, inside the fold


@pytest.mark.slow
def test_relu_lab_shows_a_dead_unit_gets_no_gradient_and_leaky_relu_revives_it(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert "dead units on 0 <= x <= 3: [2]" in text
    pattern = (
        r"^(ReLU|leaky ReLU): at the start dJ/dw2 = (\S+), dJ/db2 = (\S+)\n"
        r"  after 2000 steps: w2 = (\S+), b2 = (\S+) \(on from x = (\S+)\), "
        r"cost (\S+) -> (\S+), dead: (True|False)$"
    )
    runs = {name: groups for name, *groups in re.findall(pattern, text, re.M)}
    assert set(runs) == {"ReLU", "leaky ReLU"}
    dw, db, w2, b2, _, start, end, dead = runs["ReLU"]
    assert float(dw) == 0.0 and float(db) == 0.0  # "exactly 0"
    assert (float(w2), float(b2)) == (2.0, -7.0) and start == end and dead == "True"
    dw, db, w2, b2, on_from, start, end, dead = runs["leaky ReLU"]
    assert float(dw) != 0.0 and float(db) != 0.0  # "small ... but not zero"
    assert abs(float(dw)) < 0.05 and abs(float(db)) < 0.05
    assert dead == "False" and 2.0 < float(on_from) < 2.5  # "switches on a little after x = 2"
    assert 0 < float(end) < float(start) / 10  # "a small fraction", but not 0
