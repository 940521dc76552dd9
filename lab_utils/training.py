"""Helpers for training Keras models in the labs: watch the loss, run small models fast."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def _losses(history) -> np.ndarray:
    """Return the per-epoch training losses of a History, a history dict or a sequence."""
    record = getattr(history, "history", history)
    if isinstance(record, Mapping):
        if "loss" not in record:
            raise ValueError(f"history has no 'loss' entry (keys: {sorted(record)})")
        record = record["loss"]
    if not isinstance(record, Sequence | np.ndarray) or len(record) == 0:
        raise ValueError("pass a Keras History, its .history dict, or a non-empty list of losses")
    return np.asarray(record, dtype=float)


def plot_loss_curve(history, ax=None, *, label: str | None = None, log_scale: bool = False):
    """Plot the training loss per epoch and return the Axes.

    ``history`` is what ``model.fit`` returns, its ``.history`` dict, or a list of losses.
    Call it several times on one ``ax`` with a ``label`` each to compare runs.
    Introduced in C2_W2_Assignment.
    """
    losses = _losses(history)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log_scale:
        ax.set_yscale("log")
    if label is not None:
        ax.legend()
    return ax


def run_small_models_fast() -> None:
    """Make small Keras models train and predict faster on a CPU, with identical numbers.

    Call it once after importing TensorFlow. It changes how TensorFlow runs the
    code, not what the code computes, so each training cell can read as you would
    write it yourself:

    - TensorFlow's graph optimiser (Grappler) is switched off: on models this small
      its rewrites cost more time than they save.
    - ``fit`` hands TensorFlow a whole epoch of batches per call (Keras's
      ``steps_per_execution``) instead of one, unless you set it in ``compile``.
      The batches and the updates are the same; only the Python round trips go.
    - ``predict`` and ``evaluate`` on arrays use one batch when you pass no
      ``batch_size``: each row's numbers do not depend on its batch mates.

    Without this call every notebook gives the same results, only more slowly.
    """
    import keras
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    if getattr(keras.Model.fit, "_lab_utils_fast", False):
        return
    fit, predict, evaluate = keras.Model.fit, keras.Model.predict, keras.Model.evaluate

    def fast_fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        n = _rows(x)
        if n and getattr(self, "steps_per_execution", None) == 1:
            per_epoch = -(-n // (batch_size or 32))
            self.steps_per_execution = per_epoch
            self.train_function = None  # rebuild for the new number of steps
        return fit(self, x, y, batch_size, *args, **kwargs)

    def fast_predict(self, x, batch_size=None, *args, **kwargs):
        return predict(self, x, batch_size or _rows(x) or None, *args, **kwargs)

    def fast_evaluate(self, x=None, y=None, batch_size=None, *args, **kwargs):
        return evaluate(self, x, y, batch_size or _rows(x) or None, *args, **kwargs)

    for wrapper, original in ((fast_fit, fit), (fast_predict, predict), (fast_evaluate, evaluate)):
        wrapper.__doc__, wrapper.__wrapped__ = original.__doc__, original
        wrapper._lab_utils_fast = True
    keras.Model.fit, keras.Model.predict, keras.Model.evaluate = (
        fast_fit,
        fast_predict,
        fast_evaluate,
    )


def _rows(x) -> int:
    """Return the number of rows of an array input, or 0 for datasets and generators."""
    shape = getattr(x, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) and shape[0] is not None else 0
