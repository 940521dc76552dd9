"""The multi-label lab executes and shows softmax vs. sigmoid outputs with numbers."""

from __future__ import annotations

import re

import pytest

from conftest import notebook_text

LAB = "labs/C2_W2_Multilabel.ipynb"


@pytest.mark.slow
def test_multilabel_lab_shows_overlapping_labels(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    counts = re.search(r"training examples with 0, 1, 2 'yes' labels: (\d+), (\d+), (\d+)", text)
    zero, one, two = (int(g) for g in counts.groups())
    assert zero + one + two == 4000
    assert two > 0 and zero > 0


@pytest.mark.slow
def test_multilabel_lab_softmax_rows_sum_to_one_and_sigmoid_rows_do_not(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert "multiclass softmax row sums: min 1.000000, max 1.000000" in text
    assert "3-label softmax row sums: min 1.000000, max 1.000000" in text
    low, high = re.search(r"multi-label sigmoid row sums: min (\S+), max (\S+)", text).groups()
    assert float(low) < 0.5 and float(high) > 1.5
    accuracy = float(re.search(r"test accuracy \(digit\): (\S+)", text).group(1))
    assert accuracy > 0.85


@pytest.mark.slow
def test_multilabel_lab_gets_two_label_examples_right_only_with_sigmoid(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    two = int(re.search(r"test examples with two true labels: (\d+)", text).group(1))
    sigmoid = int(
        re.search(r"sigmoid \(multi-label\)\s+predicts .* for\s+(\d+) of them", text).group(1)
    )
    softmax = int(re.search(r"softmax\s+predicts .* for\s+(\d+) of them", text).group(1))
    assert sigmoid >= 1 and sigmoid > two / 2
    assert softmax == 0


@pytest.mark.slow
def test_multilabel_lab_shows_precision_recall_trade_off_per_label(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    tables = {}
    for threshold, body in re.findall(r"threshold (0\.\d+):\nlabel.*\n((?:.*\n){3})", text):
        tables[threshold] = {
            line.rsplit(None, 3)[0]: tuple(float(v) for v in line.rsplit(None, 3)[1:3])
            for line in body.strip().splitlines()
        }
    assert set(tables) >= {"0.5", "0.1", "0.9"}
    for label in ("even", "greater than 5", "prime"):
        assert tables["0.1"][label][1] >= tables["0.9"][label][1]  # recall falls as threshold rises
        assert tables["0.1"][label][0] <= tables["0.9"][label][0]  # precision rises
