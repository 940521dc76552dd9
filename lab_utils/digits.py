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


#: Pixels between neighbouring digits in a grid, and above each digit for its title.
_GAP, _TITLE_SPACE = 2, 9


def _draw_tiles(fig, X, indices, titles, wrong, ncols: int):
    """Draw the digits ``X[indices]`` as one mosaic image on one Axes, a title above each.

    One image with text is far quicker to draw than one Axes per digit (about 0.1 s instead
    of 1.2 s for 64 digits). Each title's gid is ``digit:<row of X>``.
    """
    ncols = min(ncols, len(indices))
    nrows = -(-len(indices) // ncols)
    if fig is None:
        fig = plt.figure(figsize=(1.0 * ncols, 1.15 * nrows + 0.3))
    ax = fig.add_subplot()
    pitch_x, pitch_y = IMAGE_SIDE + _GAP, IMAGE_SIDE + _TITLE_SPACE
    mosaic = np.full((nrows * pitch_y, ncols * pitch_x - _GAP), np.nan)
    for k, (i, title, red) in enumerate(zip(indices, titles, wrong, strict=True)):
        row, col = divmod(k, ncols)
        top, left = row * pitch_y + _TITLE_SPACE, col * pitch_x
        mosaic[top : top + IMAGE_SIDE, left : left + IMAGE_SIDE] = X[i].reshape(
            IMAGE_SIDE, IMAGE_SIDE
        )
        ax.text(
            left + IMAGE_SIDE / 2,
            top - 1.5,
            title,
            ha="center",
            va="bottom",
            fontsize=9,
            color=Palette.DARK_RED.value if red else "black",
            gid=f"digit:{i}",
        )
    cmap = plt.get_cmap("gray").with_extremes(bad=(0.0, 0.0, 0.0, 0.0))  # gaps: transparent
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    return fig


def plot_digit_grid(X, y, y_hat=None, fig=None, *, num_images: int = 64, ncols: int = 8, seed=None):
    """Draw ``num_images`` random digits titled with their label (and prediction); return the Figure.

    With ``y_hat``, each title reads ``label,prediction`` and wrong predictions are red.
    ``seed`` makes the random choice of images repeatable.
    Introduced in C2_W2_Assignment.
    """
    X, y, y_hat = _images_and_labels(X, y, y_hat)
    if not 1 <= num_images <= X.shape[0]:
        raise ValueError(f"num_images must be between 1 and {X.shape[0]}, got {num_images}")
    chosen = np.random.default_rng(seed).choice(X.shape[0], size=num_images, replace=False)
    if y_hat is None:
        titles, wrong = [f"{y[i]}" for i in chosen], [False] * num_images
    else:
        titles = [f"{y[i]},{y_hat[i]}" for i in chosen]
        wrong = [y[i] != y_hat[i] for i in chosen]
    fig = _draw_tiles(fig, X, chosen, titles, wrong, ncols)
    fig.suptitle("label" if y_hat is None else "label, prediction")
    return fig


def plot_digit(x, label=None, ax=None, *, size: float = 2.5):
    """Draw one digit large enough to read, pixel for pixel, titled with its label; return the Axes.

    ``x`` is one image: a row of ``X`` (400 grey levels) or a 20 x 20 array. Each pixel is
    a sharp square (no smoothing), from 0 (black) to 1 (white), as the network sees it.
    ``size`` is the side of a new figure in inches.
    Introduced in C2_W2_Assignment.
    """
    x = np.asarray(x, dtype=float)
    if x.size != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(
            f"x has {x.size} values; expected {IMAGE_SIDE * IMAGE_SIDE}: one image, a row of X "
            f"such as X[1015] (not X[1015:1016] of several rows, nor a whole X)"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(size, size + 0.3))
    ax.imshow(
        x.reshape(IMAGE_SIDE, IMAGE_SIDE),
        cmap="gray",
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{IMAGE_SIDE} x {IMAGE_SIDE} pixels")
    if label is not None:
        ax.set_title(f"label: {np.asarray(label).item()}")
    return ax


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
    titles = [f"{y[i]},{y_hat[i]}" for i in shown]
    fig = _draw_tiles(fig, X, shown, titles, [True] * shown.size, ncols)
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


def most_confused(counts, top: int = 3) -> list[tuple[int, int, int]]:
    """Return the ``top`` largest off-diagonal entries of a confusion matrix, largest first.

    Each entry is ``(true, predicted, count)``: ``count`` examples of class ``true`` were
    predicted as class ``predicted``. Equal counts keep the matrix's row order; entries of 0
    are left out, so fewer than ``top`` come back when there are few mistakes.
    Introduced in C2_W2_Assignment.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(
            f"counts has shape {counts.shape}; expected a square confusion matrix, such as "
            "sklearn.metrics.confusion_matrix(y, y_hat)"
        )
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    mistakes = counts.astype(int)  # a copy: the caller's matrix keeps its diagonal
    np.fill_diagonal(mistakes, 0)
    order = np.argsort(-mistakes, axis=None, kind="stable")[:top]
    rows, cols = np.unravel_index(order, mistakes.shape)
    return [
        (int(i), int(j), int(mistakes[i, j]))
        for i, j in zip(rows, cols, strict=True)
        if mistakes[i, j] > 0
    ]
