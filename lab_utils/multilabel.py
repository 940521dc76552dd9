"""Multi-label vs. multiclass classification: digit attributes, thresholds, per-label scores.

Introduced in C2_W2_Multilabel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from lab_utils.style import CLASS_COLORS, Palette

#: Names of the three yes/no labels :func:`digit_attributes` derives from a digit.
LABEL_NAMES: tuple[str, ...] = ("even", "greater than 5", "prime")

_PRIMES = (2, 3, 5, 7)


def digit_attributes(y) -> np.ndarray:
    """Return a multi-hot array (m, 3) saying whether each digit is even, > 5 and prime.

    ``y`` holds digit labels 0-9 with shape (m,) or (m, 1). Introduced in C2_W2_Multilabel.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y must be integer digit labels of shape (m,) or (m, 1), got {y.dtype} {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"y must hold digits 0-9, got values in [{y.min()}, {y.max()}]")
    return np.stack([y % 2 == 0, y > 5, np.isin(y, _PRIMES)], axis=1).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class DigitLabels:
    """Hold the same digit images labelled two ways, split into training, validation and test sets.

    ``y_*`` is the digit (one label per example, shape (m,)); ``Y_*`` is the multi-hot
    array of :data:`LABEL_NAMES` (several yes/no labels per example, shape (m, 3)).
    The validation set (``*_val``) is for choices such as thresholds; it is empty unless
    :func:`make_digit_labels` is given a ``validation_fraction``.
    Introduced in C2_W2_Multilabel.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    Y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    Y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    Y_test: np.ndarray
    label_names: tuple[str, ...] = LABEL_NAMES


def make_digit_labels(
    *,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.0,
    seed: int = 1,
    X=None,
    y=None,
) -> DigitLabels:
    """Label digits by class and by attributes, shuffle with ``seed``, split off test and validation.

    Both fractions are of all the examples. The test set is the same for every
    ``validation_fraction``: the validation set is carved from what would be training data.
    Uses ``lab_utils.data.load_digits()`` unless ``X`` (m, n) and ``y`` (m,) or (m, 1) are given.
    Introduced in C2_W2_Multilabel.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if not 0 <= validation_fraction < 1 - test_fraction:
        raise ValueError(
            f"validation_fraction must be at least 0 and leave training data after the test "
            f"set's {test_fraction:g}; got {validation_fraction}"
        )
    if X is None or y is None:
        from lab_utils import data

        X, y = data.load_digits()
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(
            f"X must be (m, n) with one row per label in y, got {X.shape} and {y.shape}"
        )
    Y = digit_attributes(y)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, round(test_fraction * len(y)))
    n_val = round(validation_fraction * len(y))
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    if train.size == 0:
        raise ValueError(f"no training examples are left of {len(y)}; use smaller fractions")
    return DigitLabels(
        *(X[train], y[train], Y[train]), *(X[val], y[val], Y[val]), *(X[test], y[test], Y[test])
    )


def _check_probabilities(Y_prob, n_labels=None) -> np.ndarray:
    Y_prob = np.asarray(Y_prob, dtype=float)
    if Y_prob.ndim != 2:
        raise ValueError(f"probabilities must be 2-D (examples, labels), got shape {Y_prob.shape}")
    if n_labels is not None and Y_prob.shape[1] != n_labels:
        raise ValueError(f"expected {n_labels} label columns, got {Y_prob.shape[1]}")
    return Y_prob


def labels_from_probabilities(Y_prob, threshold=0.5) -> np.ndarray:
    """Turn per-label probabilities (m, k) into a 0/1 label set per example.

    ``threshold`` is one number or one per label; a label is "yes" when its probability
    is at or above it. Introduced in C2_W2_Multilabel.
    """
    Y_prob = _check_probabilities(Y_prob)
    threshold = np.asarray(threshold, dtype=float)
    if threshold.ndim > 1 or (threshold.ndim == 1 and threshold.shape[0] != Y_prob.shape[1]):
        raise ValueError(
            f"threshold must be one number or one per label ({Y_prob.shape[1]}), got {threshold.shape}"
        )
    return (Y_prob >= threshold).astype(np.int64)


def per_label_scores(Y_true, Y_prob, threshold=0.5) -> dict[str, np.ndarray]:
    """Return precision, recall and support (true "yes" count) of each label at ``threshold``.

    Precision is set to 0 for a label the model never predicts. Introduced in C2_W2_Multilabel.
    """
    from sklearn.metrics import precision_score, recall_score

    Y_true = np.asarray(Y_true)
    Y_prob = _check_probabilities(Y_prob)
    if Y_true.shape != Y_prob.shape:
        raise ValueError(f"Y_true {Y_true.shape} and Y_prob {Y_prob.shape} must have one shape")
    Y_pred = labels_from_probabilities(Y_prob, threshold)
    return {
        "precision": precision_score(Y_true, Y_pred, average=None, zero_division=0),
        "recall": recall_score(Y_true, Y_pred, average=None, zero_division=0),
        "support": Y_true.sum(axis=0),
    }


def largest_threshold_for_recall(
    Y_true, Y_prob, label: int, target: float, step: float = 0.01
) -> float:
    """Return the largest threshold on a ``step`` grid at which ``label``'s recall is >= ``target``.

    Introduced in C2_W2_Multilabel (the "try it" task).
    """
    Y_true = np.asarray(Y_true)
    Y_prob = _check_probabilities(Y_prob)
    scores = Y_prob[Y_true[:, label] == 1, label]
    if scores.size == 0:
        raise ValueError(f"label {label} has no true 'yes' example, so its recall is undefined")
    grid = np.round(np.arange(step, 1.0, step), 10)
    recalls = (scores[None, :] >= grid[:, None]).mean(axis=1)
    reached = grid[recalls >= target]
    return float(reached.max()) if reached.size else 0.0


def check_recall_threshold(
    Y_true, Y_prob, label: int, threshold: float, target: float = 0.95
) -> str:
    """Say whether ``threshold`` is the largest (to 0.01) giving ``label`` a recall of ``target``.

    Introduced in C2_W2_Multilabel (the "try it" task).
    """
    Y_true = np.asarray(Y_true)
    Y_prob = _check_probabilities(Y_prob)
    recall = float(np.mean(Y_prob[Y_true[:, label] == 1, label] >= threshold))
    best = largest_threshold_for_recall(Y_true, Y_prob, label, target)
    verdict = f"recall at threshold {threshold:g}: {recall:.3f}. "
    if recall < target:
        return verdict + f"Not yet: that is below {target:g}; lower the threshold."
    if threshold < best - 1e-9:
        return (
            verdict + "High enough, but a larger threshold (fewer false alarms) still reaches it."
        )
    return verdict + "Well done: the largest threshold (to 0.01) that reaches it."


def exact_match_rate(Y_true, Y_prob, threshold=0.5) -> float:
    """Return the fraction of examples whose whole label set is right at ``threshold``.

    Introduced in C2_W2_Multilabel.
    """
    Y_true = np.asarray(Y_true)
    Y_prob = _check_probabilities(Y_prob)
    if Y_true.shape != Y_prob.shape:
        raise ValueError(f"Y_true {Y_true.shape} and Y_prob {Y_prob.shape} must have one shape")
    return float(np.mean(np.all(labels_from_probabilities(Y_prob, threshold) == Y_true, axis=1)))


def score_table(Y_true, Y_prob, threshold=0.5, label_names: Sequence[str] = LABEL_NAMES) -> str:
    """Return a plain-text table of each label's precision, recall and support.

    Introduced in C2_W2_Multilabel.
    """
    scores = per_label_scores(Y_true, Y_prob, threshold)
    if len(label_names) != len(scores["support"]):
        raise ValueError(
            f"give one name per label ({len(scores['support'])}), got {len(label_names)}"
        )
    width = max(len(n) for n in [*label_names, "label"])
    rows = [f"{'label':<{width}}  precision  recall  support"]
    for i, name in enumerate(label_names):
        rows.append(
            f"{name:<{width}}  {scores['precision'][i]:9.3f}  {scores['recall'][i]:6.3f}"
            f"  {int(scores['support'][i]):7d}"
        )
    return "\n".join(rows)


def plot_output_bars(
    outputs: Mapping[str, np.ndarray],
    ax=None,
    *,
    label_names=LABEL_NAMES,
    threshold: float | None = 0.5,
    title: str | None = None,
):
    """Draw grouped bars of several output vectors for one example, e.g. sigmoid vs. softmax.

    ``outputs`` maps a name to a vector with one value per label. Returns the Axes.
    Introduced in C2_W2_Multilabel.
    """
    if not isinstance(outputs, Mapping) or not outputs:
        raise ValueError("outputs must be a non-empty dict mapping a name to one value per label")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    positions = np.arange(len(label_names))
    width = 0.8 / len(outputs)
    for index, (name, values) in enumerate(outputs.items()):
        values = np.asarray(values, dtype=float).reshape(-1)
        if values.shape[0] != len(label_names):
            raise ValueError(f"{name!r} has {values.shape[0]} values; expected {len(label_names)}")
        bars = ax.bar(
            positions + (index - (len(outputs) - 1) / 2) * width,
            values,
            width,
            color=CLASS_COLORS[index % len(CLASS_COLORS)],
            label=f"{name} (sum {values.sum():.2f})",
        )
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    if threshold is not None:
        ax.axhline(
            threshold,
            color=str(Palette.DARK_RED),
            linestyle="--",
            linewidth=1,
            label=f"threshold {threshold:g}",
        )
    ax.set_xticks(positions, label_names)
    ax.set_ylim(0, 1.45)
    ax.set_ylabel("model output")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper center", ncol=2, fontsize=8)
    return ax


@dataclasses.dataclass
class ThresholdExplorer:
    """Hold the threshold slider, the per-label score text and the bar chart it updates.

    Introduced in C2_W2_Multilabel.
    """

    widget: object
    slider: object
    text: object
    fig: object
    ax: object
    precision_bars: object
    recall_bars: object
    Y_true: np.ndarray
    Y_prob: np.ndarray
    label_names: tuple[str, ...]

    def update(self, threshold: float) -> None:
        """Recompute the scores at ``threshold`` and redraw bars and text."""
        scores = per_label_scores(self.Y_true, self.Y_prob, threshold)
        for bar, value in zip(self.precision_bars, scores["precision"], strict=True):
            bar.set_height(value)
        for bar, value in zip(self.recall_bars, scores["recall"], strict=True):
            bar.set_height(value)
        self.ax.set_title(f"threshold = {threshold:.2f}")
        self.text.value = (
            "<pre>" + score_table(self.Y_true, self.Y_prob, threshold, self.label_names) + "</pre>"
        )
        self.fig.canvas.draw_idle()


def threshold_widget(
    Y_true,
    Y_prob,
    *,
    label_names: Sequence[str] = LABEL_NAMES,
    threshold: float = 0.5,
    set_name: str = "validation",
) -> ThresholdExplorer:
    """Build a slider that moves the threshold and shows each label's precision and recall.

    ``set_name`` names the examples scored (the axis says "score on the validation set").
    Display ``explorer.widget``; the figure shows itself. Introduced in C2_W2_Multilabel.
    """
    import ipywidgets as widgets

    Y_true = np.asarray(Y_true)
    Y_prob = _check_probabilities(Y_prob, len(label_names))
    if Y_true.shape != Y_prob.shape:
        raise ValueError(f"Y_true {Y_true.shape} and Y_prob {Y_prob.shape} must have one shape")
    fig, ax = plt.subplots(figsize=(6, 3))
    positions = np.arange(len(label_names))
    precision_bars = ax.bar(
        positions - 0.2, np.zeros(len(label_names)), 0.4, color=str(Palette.BLUE), label="precision"
    )
    recall_bars = ax.bar(
        positions + 0.2, np.zeros(len(label_names)), 0.4, color=str(Palette.ORANGE), label="recall"
    )
    ax.set_xticks(positions, label_names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"score on the {set_name} set")
    ax.legend(loc="lower left")
    slider = widgets.FloatSlider(
        value=threshold,
        min=0.05,
        max=0.95,
        step=0.05,
        description="threshold",
        continuous_update=False,
    )
    text = widgets.HTML()
    explorer = ThresholdExplorer(
        widgets.VBox([slider, text]),
        slider,
        text,
        fig,
        ax,
        precision_bars,
        recall_bars,
        Y_true,
        Y_prob,
        tuple(label_names),
    )
    slider.observe(lambda change: explorer.update(change["new"]), names="value")
    explorer.update(threshold)
    return explorer
