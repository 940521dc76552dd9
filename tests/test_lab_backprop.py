"""The Back-propagation lab executes and shows the numbers its text explains."""

import contextlib
import io
import re

import nbformat
import pytest

from lab_utils import backprop

from conftest import REPO_ROOT, notebook_text

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


def _tape_section():
    nb = nbformat.read(REPO_ROOT / NOTEBOOK, as_version=4)
    (cell,) = [c for c in nb.cells if c.source.startswith("## 4. TensorFlow does the same")]
    listing, printed = re.findall(r"```(?:python)?\n(.*?)```", cell.source, flags=re.DOTALL)
    return listing, printed


def test_backprop_lab_gradient_tape_listing_prints_what_the_lab_says():
    listing, printed = _tape_section()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(listing, {})  # the listing a student pastes into a cell, run as written
    assert out.getvalue() == printed


def test_backprop_lab_gradient_tape_listing_matches_the_graphs():
    _, printed = _tape_section()
    simple = backprop.simple_graph(w=3)
    net = backprop.network_graph(x=2, w=-2, b=8, y=1)
    assert printed == (
        f"J = {simple.values['J']:g}, dJ/dw = {simple.grads['w']:g}\n"
        f"J = {net.values['J']:g}, dJ/dw = {net.grads['w']:g}, dJ/db = {net.grads['b']:g}\n"
    )


def test_backprop_lab_does_not_import_tensorflow_in_its_cells():
    nb = nbformat.read(REPO_ROOT / NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "tensorflow" not in code and "tf." not in code


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
