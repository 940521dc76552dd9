"""Tests of lab_utils.training: the loss curve, and the one call that speeds up small models."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from lab_utils import training

REPO_ROOT = Path(__file__).resolve().parents[1]


class _History:
    def __init__(self, losses):
        self.history = {"loss": losses}


@pytest.mark.parametrize("kind", ["history", "dict", "list"])
def test_plot_loss_curve_plots_one_point_per_epoch(kind):
    losses = [2.0, 1.0, 0.5]
    arg = {"history": _History(losses), "dict": {"loss": losses}, "list": losses}[kind]
    ax = training.plot_loss_curve(arg)
    (line,) = ax.get_lines()
    assert np.array_equal(line.get_xdata(), [1, 2, 3])
    assert np.array_equal(line.get_ydata(), losses)


def test_plot_loss_curve_draws_on_a_given_axes_and_labels_runs():
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert training.plot_loss_curve([3, 2], ax=ax, label="GD") is ax
    training.plot_loss_curve([3, 1], ax=ax, label="Adam", log_scale=True)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GD", "Adam"]
    assert ax.get_yscale() == "log"


@pytest.mark.parametrize("bad", [{"accuracy": [1.0]}, [], "loss"])
def test_plot_loss_curve_rejects_input_without_losses(bad):
    with pytest.raises(ValueError):
        training.plot_loss_curve(bad)


@pytest.mark.slow
def test_steps_per_execution_changes_speed_not_the_numbers():
    """Does running many batches per call into TensorFlow give the same losses and weights?"""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype("int64")

    def train(steps):
        tf.keras.utils.set_random_seed(1)
        model = tf.keras.Sequential(
            [tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(5, "relu"), tf.keras.layers.Dense(2)]
        )
        model.compile(
            optimizer=tf.keras.optimizers.Adam(0.01),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            steps_per_execution=steps,
        )
        history = model.fit(X, y, epochs=3, batch_size=32, verbose=0)
        return history.history["loss"], model.get_weights()

    losses_1, weights_1 = train(1)
    losses_7, weights_7 = train(7)  # 200 / 32 = 7 batches: one epoch per call
    assert losses_1 == losses_7
    assert all(np.array_equal(a, b) for a, b in zip(weights_1, weights_7, strict=True))


_TRAIN_AND_PREDICT = """
import json, sys
import numpy as np, keras
from lab_utils import training
if sys.argv[1] == "fast":
    training.run_small_models_fast()
    training.run_small_models_fast()  # a second call changes nothing
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 2)).astype("float32")
y = rng.integers(0, 3, 300)
keras.utils.set_random_seed(7)
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(3)])
model.compile(optimizer=keras.optimizers.Adam(0.01),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
first = model.fit(X, y, epochs=3, verbose=0).history["loss"]
second = model.fit(X, y, epochs=2, verbose=0, validation_split=0.2).history
print(json.dumps({"steps": int(model.steps_per_execution), "first": first, "second": second,
                  "predict": model.predict(X, verbose=0).tolist(),
                  "evaluate": model.evaluate(X, y, verbose=0)}))
"""


@pytest.mark.slow
def test_run_small_models_fast_gives_the_same_numbers_in_fewer_calls():
    """Does the speed-up call change how often Python calls TensorFlow, and nothing computed?"""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {}
    for mode in ("plain", "fast"):
        done = subprocess.run(
            [sys.executable, "-c", _TRAIN_AND_PREDICT, mode],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=300,
        )
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    assert runs["plain"].pop("steps") == 1
    assert runs["fast"].pop("steps") == 10  # 300 rows / 32 per batch: one epoch per call
    assert runs["fast"] == runs["plain"]


#: The notebooks that train Keras models, and what they once carried in their training cells.
TRAINING_NOTEBOOKS = (
    "labs/C2_W2_SoftMax.ipynb",
    "labs/C2_W2_Adam.ipynb",
    "labs/C2_W2_Layer_Types.ipynb",
    "labs/C2_W2_Multiclass_TF.ipynb",
    "labs/C2_W2_Multilabel.ipynb",
    "assignment/C2_W2_Assignment/C2_W2_Assignment.ipynb",
)
SPEED_TWEAKS = (
    "steps_per_execution",
    "disable_meta_optimizer",
    "set_experimental_options",
    "batch_size=len(",
    "STEPS",
)


@pytest.mark.parametrize("notebook", TRAINING_NOTEBOOKS, ids=lambda p: Path(p).stem)
def test_a_notebook_leaves_its_speed_up_to_one_documented_call_in_its_setup_cell(notebook):
    """Does every training cell read as a student would write it?"""
    nb = json.loads((REPO_ROOT / notebook).read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    prose = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert not [t for t in SPEED_TWEAKS if any(t in cell for cell in code)], "a tweak is back"
    assert not [c for c in code if re.search(r"predict\([^)]*batch_size", c)]
    assert "steps_per_execution" not in prose
    assert [i for i, cell in enumerate(code) if "run_small_models_fast" in cell] == [0]
    lines = code[0].splitlines()
    call = lines.index("training.run_small_models_fast()")
    assert lines[call - 1].startswith("# ") and "same results without it" in lines[call - 1]
