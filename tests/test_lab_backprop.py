"""The Back-propagation lab executes and shows the numbers its text explains."""

import pytest

from conftest import notebook_text

NOTEBOOK = "labs/C2_W2_Backprop.ipynb"


@pytest.fixture(scope="module")
def text(executed_notebook):
    return notebook_text(executed_notebook(NOTEBOOK))


@pytest.mark.slow
def test_backprop_lab_shows_the_simple_graph_forward_and_backward(text):
    # a = 2 + 3*3 = 11, J = 121; dJ/da = 2a = 22; dJ/dw = 22 * 3 = 66.
    assert "-> 11" in text and "-> 121" in text
    assert "dJ/da = 2*a = 22 at a = 11" in text
    assert "dJ/da ~ 22.001" in text
    assert "da/dw ~ 3.000" in text
    assert "chain rule:  dJ/dw = 22 * 3 = 66" in text
    assert "SymPy:       dJ/dw = 18*w + 12 = 66 at w = 3" in text


@pytest.mark.slow
def test_backprop_lab_shows_the_network_forward_and_backward(text):
    # c = -4, a = 4, d = 3, J = 9/2; dJ/dd = dJ/da = dJ/dc = dJ/db = 3, dJ/dw = 3 * 2 = 6.
    for value in ("-> -4", "-> 4", "-> 3", "-> 4.5"):
        assert value in text
    assert "SymPy: dJ/dd = d = 3" in text
    assert "chain rule: dJ/da = 3 * 1 = 3" in text
    assert "chain rule: dJ/db = 3 * 1 = 3" in text
    assert "chain rule: dJ/dw = 3 * 2 = 6" in text
    assert "SymPy on the whole cost: dJ/dw = 6, dJ/db = 3" in text


@pytest.mark.slow
def test_backprop_lab_agrees_with_gradient_tape(text):
    assert "J = 121, dJ/dw = 66  (graph: 66)" in text
    assert "J = 4.5, dJ/dw = 6, dJ/db = 3" in text


@pytest.mark.slow
def test_backprop_lab_check_your_understanding_answers_are_computed(text):
    assert "question 1: at w = 0, dJ/dw = 12" in text
    assert "question 2: w = -2.6, b = 7.7, a = 2.5" in text
    assert "question 3: J = 4.5, dJ/dd = -3, dJ/da = 3, dJ/dw = 6" in text


@pytest.mark.slow
def test_backprop_lab_quizzes_ask_about_values_other_than_the_worked_examples(executed_notebook):
    nb = executed_notebook(NOTEBOOK)
    quiz_cells = [c.source for c in nb.cells if "backprop_quiz(" in c.source]
    assert len(quiz_cells) == 2
    assert "simple_graph(w=w_quiz)" in quiz_cells[0] and "w_quiz = -1" in quiz_cells[0]
    assert "network_graph(x=3, w=2, b=-1, y=1)" in quiz_cells[1]
