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


@pytest.mark.slow
def test_derivatives_lab_centred_error_shrinks_like_epsilon_squared(executed_notebook):
    """Does each tenfold smaller epsilon divide the forward error by 10 and the centred by 100?"""
    text = notebook_text(executed_notebook(NOTEBOOK))
    rows = [
        tuple(float(v) for v in row)
        for row in re.findall(r"^\s+(\S+)\s+(-?\d\.\d+e[+-]\d+)\s+(-?\d\.\d+e[+-]\d+)$", text, re.M)
    ]
    assert [r[0] for r in rows] == [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
    table = {eps: (forward, centred) for eps, forward, centred in rows}
    for eps in (1e-1, 1e-2, 1e-3):  # above the rounding floor
        forward, centred = table[eps]
        smaller_forward, smaller_centred = table[eps / 10]
        assert forward / smaller_forward == pytest.approx(10, rel=0.05)
        assert centred / smaller_centred == pytest.approx(100, rel=0.05)
    assert all(abs(c) < abs(f) for f, c in table.values())  # "much more accurate"
    assert abs(table[1e-3][1]) == pytest.approx(1e-6, rel=0.01)  # "off by only about 1e-6"
    assert abs(table[1e-3][1]) < min(abs(f) for f, _ in table.values())
    # "from about 1e-5 its error no longer follows epsilon**2"
    assert abs(table[1e-5][1]) > 1.5 * 1e-10


@pytest.mark.slow
def test_derivatives_lab_evaluates_w_squared_at_the_original_points(executed_notebook):
    text = notebook_text(executed_notebook(NOTEBOOK))
    found = {
        int(w_at): (int(exact), float(estimate))
        for w_at, exact, estimate in re.findall(
            r"^at w = \s*(-?\d+): SymPy (-?\d+), arithmetic (\S+)$", text, re.M
        )
    }
    assert set(found) == {2, 3, -3}
    for w_at, (exact, estimate) in found.items():
        assert exact == 2 * w_at  # dJ/dw = 2w, by hand
        assert estimate == pytest.approx(2 * w_at + 0.001, abs=1e-6)  # "2w + epsilon"
    assert "dJ/dw = 2; at w = 3: 2; at w = -3: 2" in text


@pytest.mark.slow
def test_derivatives_lab_folds_the_centred_answer_to_question_4(executed_notebook):
    text = notebook_text(executed_notebook(NOTEBOOK))
    assert "question 4: centred, epsilon = 0.5 gives 6.0000" in text
