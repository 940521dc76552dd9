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


def _pair(pattern: str, text: str) -> tuple[float, float]:
    match = re.search(pattern, text)
    assert match, f"the lab output has no line matching {pattern!r}"
    return float(match.group(1)), float(match.group(2))


@pytest.mark.slow
def test_multilabel_lab_binary_cross_entropy_is_the_mean_over_labels(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    by_hand, keras = _pair(r"by hand \(mean over labels\) (\S+), Keras (\S+)", text)
    assert by_hand == pytest.approx(keras, abs=2e-4)  # float64 by hand, float32 in Keras


@pytest.mark.slow
def test_multilabel_lab_softmax_gets_no_signal_from_images_with_no_label(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    match = re.search(r"softmax loss on the (\d+) training images of a 1: largest (\S+)", text)
    assert int(match.group(1)) > 0
    assert float(match.group(2)) == 0.0


@pytest.mark.slow
def test_multilabel_lab_softmax_cannot_make_all_outputs_small(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    ones = int(re.search(r"test images of a 1 \(true label set empty\): (\d+)", text).group(1))
    rows = re.findall(
        r"(sigmoid \(multi-label\)|softmax)\s+largest output: min (\S+), median (\S+); "
        r"empty set at 0.5 for (\d+) of them",
        text,
    )
    found = {name: (float(low), float(median), int(empty)) for name, low, median, empty in rows}
    _, sig_median, sig_empty = found["sigmoid (multi-label)"]
    soft_low, soft_median, soft_empty = found["softmax"]
    assert soft_low >= 1 / 3 - 1e-3  # three outputs summing to 1: the largest is at least 1/3
    assert sig_median < 0.5 < soft_median  # sigmoid pushes all three towards 0, softmax cannot
    assert 0 < soft_empty < sig_empty <= ones  # (0.4, 0.3, 0.3)-like draws do give the empty set


@pytest.mark.slow
def test_multilabel_lab_digit_lookup_beats_sigmoid_on_these_derived_labels(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    lookup = float(re.search(r"digit classifier \+ lookup: (\S+)%", text).group(1))
    sigmoid = float(re.search(r"exact label set, sigmoid model:\s+(\S+)%", text).group(1))
    assert lookup > sigmoid
    impossible = int(
        re.search(r"sigmoid label sets that no digit has: (\d+) of 1000", text).group(1)
    )
    assert impossible > 0  # "sometimes does"


@pytest.mark.slow
def test_multilabel_lab_try_it_check_runs_on_the_default_threshold(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert re.search(r"recall at threshold 0.5: \S+\. (Not yet|High enough|Well done)", text)
