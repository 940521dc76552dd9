"""The Derivatives lab executes and shows the numbers its text explains."""

import json
import re

import pytest

from conftest import REPO_ROOT, notebook_text

NOTEBOOK = "labs/C2_W2_Derivatives.ipynb"


@pytest.mark.slow
def test_derivatives_lab_shows_arithmetic_and_symbolic_derivatives(executed_notebook):
    text = notebook_text(executed_notebook(NOTEBOOK))
    # w = 3, epsilon = 0.001: J goes 9 -> 3.001**2 = 9.006001, slope 6.001.
    assert "J(w + epsilon) = 9.006001" in text
    assert "dJ/dw ~ k      = 6.001000" in text
    # epsilon = 1e-9 is close to 6; epsilon = 1e-15 is visibly off.
    assert "dJ/dw ~ 6.000000" in text
    line_1e15 = next(ln for ln in text.splitlines() if ln.startswith("epsilon = 1e-15"))
    assert float(line_1e15.split("error =")[1]) > 1e-2
    # Symbolic results derived by hand: 2w, 2, 3w**2 -> 12, -1/w**2 -> -1/4, -2/w**3 -> -0.03125.
    assert "2*w" in text
    assert "dJ/dw = 2; at w = 3: 2" in text
    assert "dJ/dw = 3*w**2; at w = 2: 12" in text
    assert "dJ/dw = -1/w**2; at w = 2: -1/4" in text
    assert "w**(-2)       4  -2/w**3     -0.03125" in text  # the exercise, in the table


@pytest.mark.slow
def test_derivatives_lab_best_epsilon_is_around_1e_8(executed_notebook):
    text = notebook_text(executed_notebook(NOTEBOOK))
    match = re.search(r"smallest error on the plotted grid: (\S+) at epsilon = (\S+)", text)
    assert 1e-9 < float(match.group(2)) < 1e-7


@pytest.mark.slow
def test_derivatives_lab_error_is_half_epsilon_times_second_derivative(executed_notebook):
    text = notebook_text(executed_notebook(NOTEBOOK))
    rows = re.findall(r"^(\S+)\s+error\s+(\S+)\s+\(epsilon / 2\) \* J'' =\s+(\S+)$", text, re.M)
    assert len(rows) == 5
    errors = {expr: (float(error), float(predicted)) for expr, error, predicted in rows}
    for expr, (error, predicted) in errors.items():
        assert error == pytest.approx(predicted, rel=0.01, abs=1e-9), expr
    assert errors["w**3"][0] == pytest.approx(6.0e-3, rel=0.01)  # the prose's "0.006"
    assert abs(errors["2*w"][0]) < 1e-9  # only rounding for the straight line
    assert "w**(-2)       4  -2/w**3     -0.03125     -0.031238" in text  # the exercise's answer
    assert "question 1: epsilon = 0.01 gives 6.0100" in text


def test_derivatives_lab_keeps_the_names_of_section_1_for_numbers_only():
    """Can cells of section 1 be re-run after section 2, i.e. are J and w never rebound?"""
    nb = json.loads((REPO_ROOT / NOTEBOOK).read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    bindings = [s for s in sources if re.search(r"^(J|w)\b[^=\n(]*=[^=]", s, re.M)]
    assert len(bindings) == 1  # the cell that defines J(w) and sets w = 3
    assert "def J(w):" in bindings[0]
