"""The Derivatives lab executes and shows the numbers its text explains."""

import pytest

from conftest import notebook_text

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
    # Symbolic results derived by hand: 2w, 2, 3w**2 -> 12, -1/w**2 -> -1/4, -2/w**3 -> -1/32.
    assert "2*w" in text
    assert "dJ/dw = 2; at w = 3: 2" in text
    assert "dJ/dw = 3*w**2; at w = 2: 12" in text
    assert "dJ/dw = -1/w**2; at w = 2: -1/4" in text
    assert "dJ/dw = -2/w**3; at w = 4: -1/32" in text
