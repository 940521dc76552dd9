"""The softmax lab executes and shows the facts it teaches: logits vs. probabilities, stability."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT, notebook_text

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
def test_softmax_lab_softmax_output_model_is_exact_only_while_its_logits_are_attached(text):
    # evaluate and model(x) in a GradientTape get the softmax layer's tensor, logits attached.
    assert _number(r"softmax-output model, evaluate: (\S+)", text) == 200.0
    assert _number(r"the loss on extreme_model\(x_one\) in a GradientTape: (\S+)", text) == 200.0
    # predict returns a NumPy array: nothing attached, so the loss sees clipped probabilities.
    assert "predict() returns a NumPy array: True" in text
    assert _number(r"the same loss on its predict\(\) output: (\S+)", text) == pytest.approx(
        -math.log(1e-7), abs=0.01
    )


def _vector(pattern: str, text: str) -> np.ndarray:
    match = re.search(pattern + r"\s*\[([^\]]*)\]", text)
    assert match, f"the lab output has no line matching {pattern!r}"
    return np.array([float(v) for v in match.group(1).split()])


@pytest.mark.slow
def test_softmax_lab_says_which_backend_takes_the_shortcut_and_runs_on_it(executed_notebook):
    nb = executed_notebook(LAB)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "Keras backend: tensorflow" in notebook_text(nb)
    assert "**TensorFlow backend**" in prose
    assert "tf.keras 2.x" in prose and "JAX or PyTorch" in prose
    for wrong in ("only Keras 3", "older Keras", "Keras 3 shortcut", "Keras 3 quietly"):
        assert wrong not in prose, f"the lab still says {wrong!r}"


@pytest.mark.slow
def test_softmax_lab_gradient_tape_matches_a_minus_onehot(text):
    tape = _vector(r"dL/dz from GradientTape:", text)
    formula = _vector(r"a - onehot\(y\):", text)
    np.testing.assert_allclose(tape, formula, atol=1e-3)  # as printed, 3 decimals
    assert _number(r"largest difference over 5 examples: (\S+)", text) < 1e-6
    label = int(re.search(r"example 0, label (\d):", text).group(1))
    assert formula[label] < 0 and np.all(np.delete(formula, label) > 0)  # a_y - 1 < 0 < a_j
    assert formula.sum() == pytest.approx(0.0, abs=2e-3)  # probabilities sum to 1, onehot to 1


@pytest.mark.slow
def test_softmax_lab_loss_from_clipped_probabilities_has_zero_gradient(text):
    assert _vector(r"a - onehot\(y\) for z = \(0, 200\), y = 0:", text).tolist() == [-1.0, 1.0]
    assert _vector(r"dL/dz, loss from the logits:", text).tolist() == [-1.0, 1.0]
    assert _vector(r"dL/dz, loss from the probabilities:", text).tolist() == [0.0, 0.0]
    # The bias gradient in a hand-written loop is dL/dz too: the shortcut keeps it.
    assert _vector(r"its gradient with respect to the output biases:", text).tolist() == [-1.0, 1.0]


@pytest.mark.slow
def test_softmax_lab_points_to_the_backprop_lab_for_the_chain_rule(executed_notebook):
    nb = executed_notebook(LAB)
    links = re.findall(r"\]\((C2_W2_\w+\.ipynb)\)", "\n".join(c.source for c in nb.cells))
    assert "C2_W2_Backprop.ipynb" in links
    assert all((REPO_ROOT / "labs" / link).is_file() for link in links)


#: Keras (or tf.keras 2.x) as each backend is imported, and whether its loss should read the
#: logits a softmax layer attaches to its output (the lab's claim, section 5).
_BACKENDS = {
    "tensorflow": ("tensorflow", "import keras", True),
    "jax": ("jax", "import keras", False),
    "torch": ("torch", "import keras", False),
    "tf.keras 2.x": ("tf_keras", "import tf_keras as keras", True),
}
_SHORTCUT_PROBE = """
import json
import numpy as np
{import_keras}

model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(2, activation="softmax")])
model.layers[0].set_weights([np.zeros((1, 2)), np.array([0.0, 200.0])])  # z = (0, 200)
model.compile(loss=keras.losses.SparseCategoricalCrossentropy())
x, y = np.ones((1, 1), dtype="float32"), np.array([0])
loss = keras.losses.SparseCategoricalCrossentropy()
print(json.dumps({{
    "evaluate": float(model.evaluate(x, y, verbose=0)),
    "call": float(loss(y, model(x))),
    "predict": float(loss(y, model.predict(x, verbose=0))),
}}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", list(_BACKENDS))
def test_softmax_output_shortcut_is_taken_on_the_backends_the_lab_names(backend):
    """Does the loss read a softmax layer's logits on TensorFlow (and tf.keras 2.x) only?"""
    module, import_keras, takes_shortcut = _BACKENDS[backend]
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"{module} is not installed: the lab's claim about {backend} is checked where it is"
        )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if module in ("tensorflow", "jax", "torch"):
        env["KERAS_BACKEND"] = module
    run = subprocess.run(
        [sys.executable, "-c", _SHORTCUT_PROBE.format(import_keras=import_keras)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    losses = json.loads(run.stdout.strip().splitlines()[-1])
    exact, clipped = 200.0, -math.log(1e-7)  # -log a_0 from the logits; -log of the clip floor
    expected = exact if takes_shortcut else clipped
    assert losses["evaluate"] == pytest.approx(expected, abs=0.01)
    assert losses["call"] == pytest.approx(expected, abs=0.01)
    assert losses["predict"] == pytest.approx(clipped, abs=0.01)  # no backend rescues a NumPy array


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
