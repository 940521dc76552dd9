"""Gradient descent and Adam on small cost surfaces, with plots of their paths.

Introduced in C2_W2_Adam.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np

from lab_utils.style import CLASS_COLORS, Palette

#: One colour per optimizer in every figure of C2_W2_Adam: blue for gradient descent (full-batch
#: ``GD`` or Keras' mini-batch ``SGD``), orange for ``Adam``. A run's label starts with one of these.
OPTIMIZER_COLORS: dict[str, str] = {
    "GD": Palette.BLUE.value,
    "SGD": Palette.BLUE.value,
    "Adam": Palette.ORANGE.value,
}
#: Runs of the same optimizer (say, at two learning rates) differ by line style, in this order.
RUN_LINESTYLES = ("-", "--", ":", "-.")


@dataclasses.dataclass(frozen=True)
class ElongatedQuadratic:
    """Hold the cost ``J(w) = 0.5 * (a * w0**2 + b * w1**2)``, a long narrow valley when a >> b.

    Call it on an array whose first axis holds ``(w0, w1)`` to get the cost (this also works
    on a stack of grids, for contour plots). Introduced in C2_W2_Adam.
    """

    a: float = 100.0
    b: float = 1.0

    def __post_init__(self):
        if self.a <= 0 or self.b <= 0:
            raise ValueError(
                f"a and b must be positive so the valley has one minimum, got a={self.a}, b={self.b}"
            )

    def __call__(self, w) -> np.ndarray:
        w = _as_pair(w)
        with np.errstate(over="ignore", invalid="ignore"):
            return 0.5 * (self.a * w[0] ** 2 + self.b * w[1] ** 2)

    def gradient(self, w) -> np.ndarray:
        """Return dJ/dw = (a * w0, b * w1)."""
        w = _as_pair(w)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.array([self.a * w[0], self.b * w[1]])


def _as_pair(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    if w.shape[:1] != (2,):
        raise ValueError(f"w must hold (w0, w1) along its first axis, got shape {w.shape}")
    return w


def _adam_arrays(w, g, m, v, t, beta1, beta2) -> tuple[np.ndarray, ...]:
    """Check Adam's step number and betas and return w, g, m, v as float arrays of one shape."""
    if int(t) != t or t < 1:
        raise ValueError(f"t is the step number and starts at 1, got {t}")
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(
            f"beta1 and beta2 are averaging weights and must be in [0, 1), got {beta1} and {beta2}"
        )
    w, g, m, v = (np.asarray(x, dtype=float) for x in (w, g, m, v))
    if not (w.shape == g.shape == m.shape == v.shape):
        raise ValueError(
            f"w, g, m and v must have one shape, got {w.shape}, {g.shape}, {m.shape}, {v.shape}"
        )
    return w, g, m, v


def adam_step(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7):
    """Apply one Adam update, in the form Keras uses, and return the new ``(w, m, v)``.

    ``g`` is the gradient at ``w``; start ``m`` and ``v`` at zeros; ``t`` counts steps from 1.
    Introduced in C2_W2_Adam.
    """
    w, g, m, v = _adam_arrays(w, g, m, v, t, beta1, beta2)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    w = w - alpha * m / (np.sqrt(v) + epsilon)
    return w, m, v


def run_gradient_descent(gradient: Callable, w_init, *, lr: float, num_iters: int) -> np.ndarray:
    """Run plain gradient descent and return the path, shape (num_iters + 1, n).

    Introduced in C2_W2_Adam.
    """
    _check_run(lr, num_iters)
    w = np.asarray(w_init, dtype=float)
    path = [w]
    # Too large a learning rate makes GD diverge; let it reach inf quietly so the lab can show it.
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_iters):
            w = w - lr * np.asarray(gradient(w), dtype=float)
            path.append(w)
    return np.array(path)


def run_adam(
    gradient: Callable,
    w_init,
    *,
    lr: float,
    num_iters: int,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray]:
    """Run Adam with :func:`adam_step` and return ``(path, steps)``.

    ``path`` has shape (num_iters + 1, n); ``steps[t]`` is the size of the move each parameter
    made at iteration ``t + 1`` (``|w_new - w_old|``), shape (num_iters, n).
    Introduced in C2_W2_Adam.
    """
    _check_run(lr, num_iters)
    w = np.asarray(w_init, dtype=float)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    path = [w]
    for t in range(1, num_iters + 1):
        w, m, v = adam_step(
            w, np.asarray(gradient(w), dtype=float), m, v, t, lr, beta1, beta2, epsilon
        )
        path.append(w)
    path = np.array(path)
    return path, np.abs(np.diff(path, axis=0))


def _check_run(lr, num_iters):
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if int(num_iters) != num_iters or num_iters < 1:
        raise ValueError(f"num_iters must be a positive whole number, got {num_iters}")


def iterations_to_reach(costs, target: float) -> int | None:
    """Return the first iteration whose cost is at or below ``target``, or None if none is.

    ``costs[0]`` is the cost before any step, so the answer counts steps taken.
    Introduced in C2_W2_Adam.
    """
    costs = np.asarray(costs, dtype=float)
    if costs.ndim != 1 or costs.size == 0:
        raise ValueError(f"costs must be a non-empty 1-D sequence, got shape {costs.shape}")
    below = np.flatnonzero(costs <= target)
    return int(below[0]) if below.size else None


def optimizer_of(label: str) -> str:
    """Return the optimizer a run's label names: its first word, e.g. ``"Adam"`` for ``"Adam, lr=0.3"``."""
    return str(label).replace(",", " ").split(" ", 1)[0]


def run_styles(labels) -> dict[str, dict[str, str]]:
    """Return each run's matplotlib ``color`` and ``linestyle``: colour by optimizer, style by order.

    A label's optimizer is its first word (see :data:`OPTIMIZER_COLORS`); the first run of an
    optimizer is drawn solid, the next dashed, and so on. Labels naming another optimizer get the
    remaining course colours in turn. Introduced in C2_W2_Adam.
    """
    spare = iter([c for c in CLASS_COLORS if c not in OPTIMIZER_COLORS.values()])
    colors = dict(OPTIMIZER_COLORS)
    seen: dict[str, int] = {}
    styles = {}
    for label in labels:
        name = optimizer_of(label)
        if name not in colors:
            colors[name] = next(spare, "0.4")
        runs = seen.get(name, 0)
        seen[name] = runs + 1
        styles[label] = {
            "color": colors[name],
            "linestyle": RUN_LINESTYLES[runs % len(RUN_LINESTYLES)],
        }
    return styles


def sign_changes(values) -> int:
    """Return how many times a sequence changes sign from one entry to the next (zeros count as a sign).

    Introduced in C2_W2_Adam.
    """
    signs = np.sign(np.asarray(values, dtype=float).reshape(-1))
    return int(np.sum(signs[1:] != signs[:-1]))


def plot_trajectories(J: Callable, paths: Mapping[str, np.ndarray], ax=None, *, levels=20):
    """Draw the contours of ``J`` and each named path of (w0, w1) points over them.

    ``J`` takes an array whose first axis holds (w0, w1), like :class:`ElongatedQuadratic`.
    Each path is coloured by its optimizer (:func:`run_styles`).
    Returns the Axes. Introduced in C2_W2_Adam.
    """
    if not isinstance(paths, Mapping) or not paths:
        raise ValueError("paths must be a non-empty dict mapping a label to an (n, 2) array")
    arrays = {}
    for label, path in paths.items():
        path = np.asarray(path, dtype=float)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"path {label!r} must have shape (n, 2), got {path.shape}")
        arrays[label] = path
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    every = np.concatenate(list(arrays.values()))
    finite = every[np.all(np.isfinite(every), axis=1)]
    # Keep the minimum at (0, 0) in view even when no path reaches it.
    lo = np.minimum(finite.min(axis=0), 0.0)
    hi = np.maximum(finite.max(axis=0), 0.0)
    pad = 0.15 * np.maximum(hi - lo, 1e-3)
    w0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 200)
    w1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 200)
    W0, W1 = np.meshgrid(w0, w1)
    cost = J(np.stack([W0, W1]))
    # Square-root spacing puts more contour lines near the minimum, where the paths end.
    top = np.sqrt(cost.max())
    ax.contour(
        W0, W1, cost, levels=np.linspace(0, top, levels)[1:] ** 2, colors="0.75", linewidths=0.8
    )
    for label, style in run_styles(arrays).items():
        path = arrays[label]
        ax.plot(
            path[:, 0],
            path[:, 1],
            marker="o",
            **style,
            markersize=2.5,
            linewidth=1.2,
            label=f"{label} ({len(path) - 1} steps)",
        )
    ax.plot([0], [0], "*", color=str(Palette.DARK_RED), markersize=12, label="minimum")
    ax.set_xlabel("$w_0$")
    ax.set_ylabel("$w_1$")
    ax.legend(loc="best")
    return ax


def plot_step_sizes(steps: Mapping[str, np.ndarray], ax=None, *, param_names=("w0", "w1")):
    """Plot each parameter's step size per iteration (log scale) for each named run.

    ``steps`` maps a run's label to an array (num_iters, n) of step sizes, e.g. the second
    value :func:`run_adam` returns. A run keeps its optimizer's colour (:func:`run_styles`);
    the parameters differ by line style (w0 solid, w1 dashed, ...), so pass one run per optimizer.
    Returns the Axes. Introduced in C2_W2_Adam.
    """
    if not isinstance(steps, Mapping) or not steps:
        raise ValueError("steps must be a non-empty dict mapping a label to a (num_iters, n) array")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    colors = {label: style["color"] for label, style in run_styles(steps).items()}
    for label, array in steps.items():
        array = np.asarray(array, dtype=float)
        if array.ndim != 2 or array.shape[1] != len(param_names):
            raise ValueError(
                f"steps {label!r} must have shape (num_iters, {len(param_names)}), got {array.shape}"
            )
        iters = np.arange(1, len(array) + 1)
        for p, name in enumerate(param_names):
            ax.plot(
                iters,
                array[:, p],
                RUN_LINESTYLES[p % len(RUN_LINESTYLES)],
                color=colors[label],
                label=f"{label}: {name}",
            )
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("step size $|\\Delta w|$")
    ax.legend(loc="best")
    return ax


def plot_costs(
    costs: Mapping[str, np.ndarray],
    ax=None,
    *,
    target: float | None = None,
    xlabel: str = "iteration",
    ylabel: str = "cost",
):
    """Plot each named run's cost (or loss) per iteration on a log scale and return the Axes.

    ``costs`` maps a run's label to its costs, the first one drawn at iteration 1. Each run is
    coloured by its optimizer (:func:`run_styles`); ``target``, if given, is drawn as a dotted line.
    Introduced in C2_W2_Adam.
    """
    if not isinstance(costs, Mapping) or not costs:
        raise ValueError("costs must be a non-empty dict mapping a label to a 1-D array of costs")
    arrays = {}
    for label, values in costs.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"costs {label!r} must be a non-empty 1-D array, got {values.shape}")
        arrays[label] = values
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, style in run_styles(arrays).items():
        values = arrays[label]
        ax.plot(np.arange(1, len(values) + 1), values, **style, label=label)
    if target is not None:
        ax.axhline(target, color=str(Palette.DARK_RED), linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")
    return ax
