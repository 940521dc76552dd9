"""Softmax, cross-entropy loss and the softmax sliders widget.

Introduced in C2_W2_SoftMax.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np

from lab_utils.style import CLASS_COLORS, Palette

#: The widget shows four logits, as in the lab's four-class example.
NUM_WIDGET_CLASSES = 4
SLIDER_MIN, SLIDER_MAX, SLIDER_STEP = -5.0, 5.0, 0.1
DEFAULT_Z: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)


def _as_logits(z, name: str = "z") -> np.ndarray:
    z = np.asarray(z, dtype=float)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array of scores (or 2-D, one row per example); "
            f"got shape {z.shape}"
        )
    return z


def softmax(z):
    """Return ``exp(z) / sum(exp(z))`` computed stably (the max of ``z`` is subtracted first).

    ``z`` is a 1-D array of N scores; a 2-D array is treated row by row.
    Introduced in C2_W2_SoftMax.
    """
    z = _as_logits(z)
    # Softmax is unchanged by adding a constant to every z_j; subtracting the max
    # makes the largest exponent e^0 = 1, so exp() cannot overflow.
    ez = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return ez / np.sum(ez, axis=-1, keepdims=True)


def naive_softmax(z):
    """Return ``exp(z) / sum(exp(z))`` exactly as written, which overflows for large ``z``.

    For ``z = [1000, 1001, 1002]`` every ``exp`` is ``inf`` and the result is ``nan``.
    Introduced in C2_W2_SoftMax.
    """
    z = _as_logits(z)
    ez = np.exp(z)
    return ez / np.sum(ez, axis=-1, keepdims=True)


def log_softmax(z):
    """Return ``log(softmax(z))`` without ever taking the log of a rounded-to-zero number.

    Uses ``log a_j = (z_j - max z) - log(sum_k exp(z_k - max z))``; this is the fused
    form TensorFlow uses when a loss is built with ``from_logits=True``.
    Introduced in C2_W2_SoftMax.
    """
    z = _as_logits(z)
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _check_labels(y, num_examples: int, num_classes: int) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if y.size != num_examples:
        raise ValueError(f"got {y.size} labels for {num_examples} examples; pass one per example")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer class numbers, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {y.min()}..{y.max()}")
    return y


def cross_entropy_loss(a, y) -> float:
    """Return ``-log(a[y])``: the loss of one example with probabilities ``a`` and true class ``y``.

    Introduced in C2_W2_SoftMax.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"a must be a 1-D probability vector, got shape {a.shape}")
    (label,) = _check_labels([y], 1, a.size)
    with np.errstate(divide="ignore"):
        return float(-np.log(a[label]))


def cross_entropy_cost(A, y, *, from_logits: bool = False) -> float:
    """Return the average cross-entropy over examples (one row of ``A`` per example).

    ``A`` holds probabilities, or logits when ``from_logits=True`` (then the stable
    :func:`log_softmax` is used). ``y`` holds integer labels, as for Keras'
    ``SparseCategoricalCrossentropy``. Introduced in C2_W2_SoftMax.
    """
    A = np.asarray(A, dtype=float)
    if A.ndim != 2:
        raise ValueError(f"A must be 2-D (examples, classes), got shape {A.shape}")
    y = _check_labels(y, A.shape[0], A.shape[1])
    rows = np.arange(A.shape[0])
    if from_logits:
        log_a = log_softmax(A)[rows, y]
    else:
        with np.errstate(divide="ignore"):
            log_a = np.log(A[rows, y])
    return float(-np.mean(log_a))


def plot_cross_entropy(ax=None):
    """Plot the loss ``-log(a_y)`` against the probability ``a_y`` given to the true class.

    Introduced in C2_W2_SoftMax.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3))
    a = np.linspace(0.005, 1.0, 400)
    ax.plot(a, -np.log(a), color=Palette.DARK_RED.value, lw=2)
    ax.set_xlabel("$a_y$: probability the model gives the true class")
    ax.set_ylabel(r"loss $= -\log a_y$")
    ax.set_title("Cross-entropy loss of one example")
    ax.set_xlim(0, 1.02)
    return ax


def plot_blobs(X, y, ax=None, *, title: str | None = None):
    """Scatter 2-D points coloured by their integer class label and return the Axes.

    Introduced in C2_W2_SoftMax.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (m, 2) to be plotted in the plane, got {X.shape}")
    y = np.asarray(y)
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # labels loaded as floats (e.g. 0.0, 1.0) are still classes
    y = _check_labels(y, X.shape[0], len(CLASS_COLORS))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    for c in np.unique(y):
        mask = y == c
        ax.scatter(
            X[mask, 0], X[mask, 1], s=12, alpha=0.7, color=CLASS_COLORS[c], label=f"class {c}"
        )
    ax.set_xlabel("$x_0$")
    ax.set_ylabel("$x_1$")
    ax.legend(loc="best", markerscale=2)
    if title is not None:
        ax.set_title(title)
    return ax


@dataclasses.dataclass
class SoftmaxWidget:
    """Hold the softmax sliders widget, its sliders and the bar artists it redraws.

    Display ``.widget`` (the controls and message); the figure ``.fig`` is shown by matplotlib.
    """

    widget: object
    sliders: dict
    message: object
    fig: object
    ax_z: object
    ax_a: object
    z_bars: object
    a_bars: object
    z_texts: list
    a_texts: list
    softmax_fn: Callable

    def z(self) -> np.ndarray:
        """Return the current slider values as an array."""
        return np.array([self.sliders[f"z{j}"].value for j in range(len(self.sliders))])

    def _probabilities(self, z: np.ndarray) -> tuple[np.ndarray | None, str]:
        """Call ``softmax_fn`` and return (probabilities or None, message for the student)."""
        name = getattr(self.softmax_fn, "__name__", "softmax_fn")
        try:
            result = self.softmax_fn(z.copy())
        except Exception as err:  # any student error must reach the message, not the kernel log
            return None, f"{name}(z) raised {type(err).__name__}: {err}"
        if result is None:
            return None, f"{name}(z) returned None; did you forget to return a?"
        try:
            a = np.asarray(result, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            return None, f"{name}(z) returned {type(result).__name__}, not an array of numbers"
        if a.size != z.size:
            return (
                None,
                f"{name}(z) returned {a.size} values for {z.size} inputs; expected one per z_j",
            )
        if not np.all(np.isfinite(a)):
            return None, f"{name}(z) returned nan or inf: {np.array2string(a, precision=3)}"
        if not np.isclose(a.sum(), 1.0, atol=1e-6):
            return a, f"Warning: {name}(z) sums to {a.sum():.4f}, but probabilities sum to 1."
        return a, ""

    def update(self, _change=None) -> None:
        """Recompute the bars from the sliders and redraw in place."""
        z = self.z()
        for bar, text, value in zip(self.z_bars, self.z_texts, z, strict=True):
            bar.set_height(value)
            text.set_y(value)
            text.set_text(f"{value:.1f}")
            text.set_va("bottom" if value >= 0 else "top")
        a, problem = self._probabilities(z)
        if a is None:
            for bar, text in zip(self.a_bars, self.a_texts, strict=True):
                bar.set_height(0.0)
                text.set_y(0.0)
                text.set_text("?")
            self.ax_a.set_title("softmax failed: see the message", color=Palette.DARK_RED.value)
            self.message.value = (
                f"<b style='color:{Palette.DARK_RED.value}'>{html.escape(problem)}</b>"
            )
        else:
            for bar, text, value in zip(self.a_bars, self.a_texts, a, strict=True):
                bar.set_height(value)
                text.set_y(value)
                text.set_text(f"{value:.3f}")
            self.ax_a.set_title(f"a = softmax(z)   (sum = {a.sum():.3f})", color="black")
            self.message.value = html.escape(problem)
        self.fig.canvas.draw_idle()


def softmax_widget(softmax_fn: Callable | None = None, *, z=DEFAULT_Z) -> SoftmaxWidget:
    """Build sliders for ``z0..z3`` with bar charts of ``z`` and ``softmax(z)``; return its state.

    ``softmax_fn`` defaults to :func:`softmax`; pass your own (e.g. ``my_softmax``) to check
    it. If it raises or returns something unusable, the widget shows a message instead.
    Introduced in C2_W2_SoftMax.
    """
    import ipywidgets as widgets

    softmax_fn = softmax if softmax_fn is None else softmax_fn
    if not callable(softmax_fn):
        raise TypeError(f"softmax_fn must be a function taking z, got {type(softmax_fn).__name__}")
    z = np.asarray(z, dtype=float).reshape(-1)
    if z.size != NUM_WIDGET_CLASSES:
        raise ValueError(f"z must hold {NUM_WIDGET_CLASSES} starting values, got {z.size}")
    sliders = {
        f"z{j}": widgets.FloatSlider(
            value=float(z[j]),
            min=SLIDER_MIN,
            max=SLIDER_MAX,
            step=SLIDER_STEP,
            description=f"z{j}",
            readout_format=".1f",
        )
        for j in range(NUM_WIDGET_CLASSES)
    }
    fig, (ax_z, ax_a) = plt.subplots(1, 2, figsize=(8, 3.2))
    labels = [f"$z_{j}$" for j in range(NUM_WIDGET_CLASSES)]
    colours = CLASS_COLORS[:NUM_WIDGET_CLASSES]
    positions = np.arange(NUM_WIDGET_CLASSES)
    z_bars = ax_z.bar(positions, np.zeros(NUM_WIDGET_CLASSES), color=colours)
    a_bars = ax_a.bar(positions, np.zeros(NUM_WIDGET_CLASSES), color=colours)
    ax_z.axhline(0, color="0.6", lw=0.8)
    ax_z.set_ylim(SLIDER_MIN - 1.2, SLIDER_MAX + 1.2)
    ax_z.set_title("z (the logits)")
    ax_a.set_ylim(0, 1.15)
    for ax, names in ((ax_z, labels), (ax_a, [f"$a_{j}$" for j in positions])):
        ax.set_xticks(positions, names)
    z_texts = [ax_z.text(p, 0, "", ha="center", va="bottom", fontsize=9) for p in positions]
    a_texts = [ax_a.text(p, 0, "", ha="center", va="bottom", fontsize=9) for p in positions]
    message = widgets.HTML()
    controls = widgets.VBox(
        [
            widgets.HBox(list(sliders.values())[:2]),
            widgets.HBox(list(sliders.values())[2:]),
            message,
        ]
    )
    state = SoftmaxWidget(
        widget=controls,
        sliders=sliders,
        message=message,
        fig=fig,
        ax_z=ax_z,
        ax_a=ax_a,
        z_bars=z_bars,
        a_bars=a_bars,
        z_texts=z_texts,
        a_texts=a_texts,
        softmax_fn=softmax_fn,
    )
    for slider in sliders.values():
        slider.observe(state.update, names="value")
    state.update()
    return state
