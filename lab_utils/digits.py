"""Plot handwritten digits, predictions and a confusion matrix (introduced in C2_W2_Assignment)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lab_utils.data import IMAGE_SIDE
from lab_utils.style import Palette


def _images_and_labels(X, y, y_hat=None):
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(
            f"X has shape {X.shape}; expected (m, {IMAGE_SIDE * IMAGE_SIDE}): one unrolled "
            f"{IMAGE_SIDE}x{IMAGE_SIDE} image per row"
        )
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if y_hat is not None:
        y_hat = np.asarray(y_hat).reshape(-1)
        if y_hat.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} rows but y_hat has {y_hat.shape[0]} predictions; "
                "pass one predicted class per image (e.g. np.argmax(logits, axis=1))"
            )
    return X, y, y_hat


def _draw_digit(ax, pixels, title: str, *, wrong: bool = False) -> None:
    ax.imshow(pixels.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray")
    ax.set_title(title, fontsize=9, color=Palette.DARK_RED.value if wrong else "black")
    ax.set_axis_off()


def _grid(fig, count: int, ncols: int):
    nrows = int(np.ceil(count / ncols))
    if fig is None:
        fig = plt.figure(figsize=(1.0 * ncols, 1.15 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).reshape(-1)
    for ax in axes[count:]:
        ax.set_axis_off()
    return fig, axes[:count]


def plot_digit_grid(X, y, y_hat=None, fig=None, *, num_images: int = 64, ncols: int = 8, seed=None):
    """Draw ``num_images`` random digits titled with their label (and prediction); return the Figure.

    With ``y_hat``, each title reads ``label,prediction`` and wrong predictions are red.
    ``seed`` makes the random choice of images repeatable.
    Introduced in C2_W2_Assignment.
    """
    X, y, y_hat = _images_and_labels(X, y, y_hat)
    if not 1 <= num_images <= X.shape[0]:
        raise ValueError(f"num_images must be between 1 and {X.shape[0]}, got {num_images}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(X.shape[0], size=num_images, replace=False)
    fig, axes = _grid(fig, num_images, ncols)
    for ax, i in zip(axes, chosen, strict=True):
        if y_hat is None:
            _draw_digit(ax, X[i], f"{y[i]}")
        else:
            _draw_digit(ax, X[i], f"{y[i]},{y_hat[i]}", wrong=y[i] != y_hat[i])
    fig.suptitle("label" if y_hat is None else "label, prediction")
    return fig


def misclassified(y, y_hat) -> np.ndarray:
    """Return the indices where the prediction differs from the label."""
    y = np.asarray(y).reshape(-1)
    y_hat = np.asarray(y_hat).reshape(-1)
    if y.shape != y_hat.shape:
        raise ValueError(f"y has {y.size} labels but y_hat has {y_hat.size} predictions")
    return np.flatnonzero(y != y_hat)


def plot_misclassified(X, y, y_hat, fig=None, *, max_images: int = 8, ncols: int = 8, seed=None):
    """Draw up to ``max_images`` misclassified digits, picked at random; return the Figure.

    Each image is titled ``label,prediction``; the figure title says how many of how many
    errors it shows. The images are a random sample (``seed`` makes it repeatable), not the
    first errors, because data sorted by label would show only the low digits.
    Introduced in C2_W2_Assignment.
    """
    X, y, y_hat = _images_and_labels(X, y, y_hat)
    wrong = misclassified(y, y_hat)
    if wrong.size == 0:
        fig = fig if fig is not None else plt.figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return fig
    shown = np.sort(
        np.random.default_rng(seed).choice(wrong, size=min(max_images, wrong.size), replace=False)
    )
    fig, axes = _grid(fig, shown.size, min(ncols, shown.size))
    for ax, i in zip(axes, shown, strict=True):
        _draw_digit(ax, X[i], f"{y[i]},{y_hat[i]}", wrong=True)
    fig.suptitle(f"{shown.size} of {wrong.size} misclassified, at random: label, prediction")
    return fig


def plot_confusion_matrix(y, y_hat, ax=None, *, num_classes: int = 10):
    """Draw the confusion matrix (rows: true label, columns: prediction); return the Axes.

    Introduced in C2_W2_Assignment.
    """
    from sklearn.metrics import confusion_matrix

    y = np.asarray(y).reshape(-1)
    y_hat = np.asarray(y_hat).reshape(-1)
    if y.shape != y_hat.shape:
        raise ValueError(f"y has {y.size} labels but y_hat has {y_hat.size} predictions")
    counts = confusion_matrix(y, y_hat, labels=np.arange(num_classes))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(counts, cmap="Blues")
    threshold = counts.max() / 2 if counts.size else 0
    for (i, j), n in np.ndenumerate(counts):
        ax.text(
            j,
            i,
            str(n),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if n > threshold else "black",
        )
    ticks = np.arange(num_classes)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title("confusion matrix")
    ax.grid(False)
    return ax
