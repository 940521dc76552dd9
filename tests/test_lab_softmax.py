"""The softmax lab executes and shows the facts it teaches: logits vs. probabilities, stability."""

from __future__ import annotations

import re

import pytest

from conftest import notebook_text

LAB = "labs/C2_W2_SoftMax.ipynb"


@pytest.fixture
def text(executed_notebook):
    return notebook_text(executed_notebook(LAB))


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"the lab output has no line matching {pattern!r}"
    return float(match.group(1))


@pytest.mark.slow
def test_softmax_lab_my_softmax_sums_to_one(text):
    assert "a = [0.032 0.087 0.237 0.644]  sum of a = 1.0" in text
    assert "tf.nn.softmax:     [0.032 0.087 0.237 0.644]" in text


@pytest.mark.slow
def test_softmax_lab_two_class_loss_equals_logistic_loss(text):
    for y in (0, 1):
        match = re.search(rf"y = {y}: logistic loss = (\S+), softmax cross-entropy = (\S+)", text)
        assert match and match.group(1) == match.group(2)


@pytest.mark.slow
def test_softmax_lab_obvious_model_outputs_probabilities(text):
    sums = re.search(r"their sums: \[(\S+)\s+(\S+)\]", text)
    assert sums and all(abs(float(s) - 1) < 1e-3 for s in sums.groups())
    largest = _number(r"softmax model: largest probability (\S+), smallest", text)
    smallest = _number(r"softmax model: largest probability \S+, smallest (\S+)", text)
    assert 0.5 < largest <= 1.0
    assert 0.0 <= smallest < 0.25


@pytest.mark.slow
def test_softmax_lab_preferred_model_outputs_logits_not_probabilities(text):
    assert "logit rows sum to 1: False" in text
    largest = _number(r"preferred model: largest logit (\S+), smallest", text)
    smallest = _number(r"preferred model: largest logit \S+, smallest (\S+)", text)
    assert largest > 1.0
    assert smallest < 0.0
    assert "probability rows sum to 1: True" in text


@pytest.mark.slow
def test_softmax_lab_argmax_categories_match_labels(text):
    assert "argmax of logits equals argmax of probabilities: True" in text
    assert _number(r"training accuracy: (\S+)", text) > 0.9
    pairs = re.findall(r"example \d: logits .*, category (\d), label (\d)", text)
    assert len(pairs) == 5


@pytest.mark.slow
def test_softmax_lab_naive_softmax_is_nan_and_stable_is_finite(text):
    assert "naive softmax:  [nan nan nan]" in text
    stable = re.search(r"stable softmax: \[([^\]]+)\]", text).group(1).split()
    assert [float(v) for v in stable] == pytest.approx([0.090, 0.245, 0.665], abs=1e-3)


@pytest.mark.slow
def test_softmax_lab_loss_from_logits_is_finite_where_probabilities_fail(text):
    assert "-log(a_0) from the probability: inf" in text
    # By hand: -log(softmax([0, 200])[0]) = 200 + log(1 + e^-200) = 200.
    assert _number(r"Keras loss given logits \(from_logits=True\): (\S+)", text) == 200.0
    clipped = _number(r"Keras loss given probabilities: (\S+)", text)
    assert clipped < 100.0  # finite but wrong: Keras clips a_0 away from 0


@pytest.mark.slow
def test_softmax_lab_sparse_and_categorical_losses_agree(text):
    sparse = _number(r"sparse categorical cross-entropy:\s+(\S+)", text)
    categorical = _number(r"categorical cross-entropy \(tf.one_hot\):\s+(\S+)", text)
    assert sparse == pytest.approx(categorical, rel=1e-5)
    assert "sparse and categorical losses agree: True" in text


@pytest.mark.slow
def test_softmax_lab_obvious_and_preferred_models_train_identically(text):
    epochs = re.findall(r"loss after epoch 1: (\S+), after epoch 10: (\S+)", text)
    assert len(epochs) == 2 and epochs[0] == epochs[1]  # the same printed losses for both models
    assert float(epochs[0][1]) < float(epochs[0][0])
    assert _number(r"largest difference between the two loss curves: (\S+)", text) == 0.0


@pytest.mark.slow
def test_softmax_lab_tf_softmax_is_max_shifted(text):
    shifted = re.search(r"tf.nn.softmax:  \[([^\]]+)\]", text).group(1).split()
    assert [float(v) for v in shifted] == pytest.approx([0.090, 0.245, 0.665], abs=1e-3)


@pytest.mark.slow
def test_softmax_lab_tiny_probability_is_below_float32(text):
    a_0 = _number(r"a_0 in 64-bit floats: (\S+)", text)
    smallest = _number(r"smallest positive 32-bit float: (\S+)", text)
    assert a_0 == pytest.approx(1.4e-87, rel=0.05)  # the prose says "about 1.4 x 10^-87"
    assert smallest == pytest.approx(1.4e-45, rel=0.05)
    assert a_0 < smallest
    # -log(1e-7), the clipped loss the prose cites as "about 16.1"
    assert _number(r"Keras loss given probabilities: (\S+)", text) == pytest.approx(16.1, abs=0.05)


@pytest.mark.slow
def test_softmax_lab_softmax_output_model_is_exact_only_inside_keras(text):
    assert _number(r"softmax-output model, evaluate: (\S+)", text) == 200.0
    assert _number(r"the same loss on its predict\(\) output: (\S+)", text) == pytest.approx(
        16.1, abs=0.05
    )


@pytest.mark.slow
def test_softmax_lab_try_it_check_runs(text):
    assert "softmax(z_try) = [0.25 0.25 0.25 0.25]" in text
    assert "Not yet" in text


_LOG_HEADER = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")


@pytest.mark.slow
def test_softmax_lab_explains_every_line_tensorflow_prints_at_start_up(executed_notebook):
    nb = executed_notebook(LAB)
    (setup,) = [c for c in nb.cells if c.cell_type == "code" and "import tensorflow" in c.source]
    note = nb.cells[nb.cells.index(setup) + 1].source
    messages = [
        _LOG_HEADER.sub("", line)
        for out in setup.outputs
        if out.get("name") == "stderr"
        for line in out["text"].splitlines()
        if line.strip()
    ]
    for message in messages:
        assert " ".join(message.split()[:4]) in note, f"the note does not explain {message!r}"
    assert all(messages.count(m) <= 2 for m in messages)  # "each may appear twice"
