"""Check that the autograder's verdicts and the assignment's training agree across devices.

Runs on any Keras 3 backend (the GPU machines this project may borrow have JAX but not
TensorFlow, so there it runs with ``KERAS_BACKEND=jax``) and prints one ``RESULT`` line of
JSON: the verdict of every softmax check on a stable and a naive softmax, of every model check
on correct and wrong models, and the loss and accuracies of the assignment's 40-epoch run.
Compare the line from a CPU run with the line from a GPU run.

Usage: KERAS_BACKEND=jax python tests/device_check.py

``tests/test_device_check.py`` asserts the same verdicts on whatever device runs the tests.
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np
from sklearn.model_selection import train_test_split

from autograder import kernel
from autograder.kernel import specs
from lab_utils import data

SOFTMAX_CHECKS = specs.names("softmax")
MODEL_CHECKS = specs.names("model")
# hidden activation, output activation
SPELLINGS = {
    "relu_string": ("relu", "linear"),
    "relu_function": (keras.activations.relu, "linear"),
    "sigmoid_hidden": ("sigmoid", "linear"),
    "softmax_output": ("relu", "softmax"),
}


def build_model(hidden, output) -> keras.Sequential:
    """Build the assignment's 25-15-10 network with the given activations."""
    return keras.Sequential(
        [
            keras.Input(shape=(400,)),
            keras.layers.Dense(25, activation=hidden),
            keras.layers.Dense(15, activation=hidden),
            keras.layers.Dense(10, activation=output),
        ],
        name="my_model",
    )


def verdicts(obj, names) -> dict[str, bool]:
    """Return whether each named autograder check passes for ``obj``."""
    result = {}
    for name in names:
        try:
            getattr(kernel, f"check_{name}")(obj)
            result[name] = True
        except AssertionError:
            result[name] = False
    return result


def stable_softmax(z):
    ez = np.exp(z - np.max(z))
    return ez / ez.sum()


def naive_softmax(z):
    with np.errstate(over="ignore", invalid="ignore"):
        ez = np.exp(z)
        return ez / ez.sum()


def main() -> None:
    out = {"backend": keras.backend.backend(), "keras": keras.__version__}
    if out["backend"] == "jax":
        import jax

        out["devices"] = [str(d) for d in jax.devices()]
    out["softmax"] = {
        "stable": verdicts(stable_softmax, SOFTMAX_CHECKS),
        "naive": verdicts(naive_softmax, SOFTMAX_CHECKS),
    }
    out["models"] = {
        name: verdicts(build_model(*acts), MODEL_CHECKS) for name, acts in SPELLINGS.items()
    }

    X, y = data.load_digits()
    idx_train, idx_test = train_test_split(
        np.arange(len(X)), test_size=0.2, stratify=y.ravel(), random_state=1
    )
    keras.utils.set_random_seed(1234)
    model = build_model("relu", "linear")
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
    )
    start = time.perf_counter()
    history = model.fit(X[idx_train], y[idx_train], epochs=40, verbose=0)
    out["fit_seconds"] = round(time.perf_counter() - start, 1)
    y_hat = np.argmax(model.predict(X, verbose=0), axis=1)
    out["final_loss"] = round(float(history.history["loss"][-1]), 4)
    out["train_accuracy"] = round(float(np.mean(y_hat[idx_train] == y[idx_train].ravel())), 3)
    out["test_accuracy"] = round(float(np.mean(y_hat[idx_test] == y[idx_test].ravel())), 3)
    out["trained_model"] = verdicts(model, MODEL_CHECKS)
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
