"""Helpers for watching a Keras model train (introduced in C2_W2_Assignment)."""

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
