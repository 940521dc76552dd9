"""Plots for a small multiclass network: data, decision regions, and what each layer does.

Introduced in C2_W2_Multiclass_TF.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap, to_rgba

from lab_utils.style import CLASS_COLORS, Palette, class_cmap

#: Colour of the activation shading; not one of the first four class colours, so the
#: data points stay readable on top of it.
_SHADE = Palette.GREEN
_BOUNDARY = Palette.PURPLE


def _check_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (m, 2): one 2-D point per row; got {X.shape}")
    y = y.reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("y must hold integer class labels 0, 1, 2, ...")
        y = y.astype(int)
    if y.size and y.min() < 0:
        raise ValueError("y must hold class labels 0, 1, 2, ... (no negative labels)")
    if y.size and y.max() >= len(CLASS_COLORS):
        raise ValueError(
            f"at most {len(CLASS_COLORS)} classes can be coloured; y has {y.max() + 1}"
        )
    return X, y


def _check_layer(W, b, n_in: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float).reshape(-1)
    if W.ndim != 2 or W.shape[0] != n_in:
        raise ValueError(
            f"{what} weights must have shape ({n_in}, units) as Keras stores them "
            f"(layer.get_weights()[0]); got {W.shape}"
        )
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"{what} has {W.shape[1]} units but {b.shape[0]} biases")
    return W, b


def _shade_cmap(colour: Palette) -> LinearSegmentedColormap:
    """Return a colormap from transparent to ``colour``, so zero shows as background."""
    return LinearSegmentedColormap.from_list(
        f"shade_{colour.name.lower()}", [to_rgba(colour.value, 0.0), to_rgba(colour.value, 0.9)]
    )


def _grid(x_range, y_range, resolution: int):
    xs = np.linspace(*x_range, resolution)
    ys = np.linspace(*y_range, resolution)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def _padded_range(values: np.ndarray, padding: float) -> tuple[float, float]:
    return float(values.min() - padding), float(values.max() + padding)


def _scatter_classes(ax, X, y, *, highlight: int | None = None, size: float = 30):
    for c in np.unique(y):
        points = X[y == c]
        faded = highlight is not None and c != highlight
        ax.scatter(
            points[:, 0],
            points[:, 1],
            s=size,
            color=CLASS_COLORS[c],
            alpha=0.25 if faded else 0.95,
            label=f"class {c}",
            zorder=3,
        )


def plot_multiclass_data(X, y, ax=None):
    """Scatter 2-D points coloured by class label and return the Axes.

    Introduced in C2_W2_Multiclass_TF.
    """
    X, y = _check_data(X, y)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    _scatter_classes(ax, X, y)
    ax.set_xlabel("$x_0$")
    ax.set_ylabel("$x_1$")
    ax.legend(loc="best")
    return ax


def plot_decision_boundary(
    predict_fn, X, y, ax=None, *, resolution: int = 200, padding: float = 1.0
):
    """Shade each point of the plane by the class ``predict_fn`` picks, with the data on top.

    ``predict_fn`` maps an (n, 2) array to (n, classes) scores (logits or probabilities;
    the class is their argmax) or to (n,) labels. It is called once, on the whole grid.
    Returns the Axes. Introduced in C2_W2_Multiclass_TF.
    """
    if not callable(predict_fn):
        raise TypeError(
            "predict_fn must be a function of an (n, 2) array, "
            "e.g. lambda X: model.predict(X, verbose=0)"
        )
    X, y = _check_data(X, y)
    xx, yy, grid = _grid(
        _padded_range(X[:, 0], padding), _padded_range(X[:, 1], padding), resolution
    )
    scores = np.asarray(predict_fn(grid))
    if scores.shape[0] != grid.shape[0]:
        raise ValueError(
            f"predict_fn returned {scores.shape[0]} rows for {grid.shape[0]} points; "
            "it must return one row of scores (or one label) per input row"
        )
    if scores.ndim == 2 and scores.shape[1] > 1:
        labels = np.argmax(scores, axis=1)
        num_classes = scores.shape[1]
    else:
        labels = scores.reshape(-1).astype(int)
        num_classes = int(max(labels.max(), y.max())) + 1
    num_classes = max(num_classes, int(y.max()) + 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    ax.pcolormesh(
        xx,
        yy,
        labels.reshape(xx.shape),
        cmap=class_cmap(num_classes),
        vmin=-0.5,
        vmax=num_classes - 0.5,
        alpha=0.25,
        shading="auto",
        zorder=1,
    )
    _scatter_classes(ax, X, y)
    ax.set_xlabel("$x_0$")
    ax.set_ylabel("$x_1$")
    ax.legend(loc="best")
    return ax


def _shade_unit(ax, xx, yy, values, *, boundary=None, label: str):
    """Shade ``values`` on the grid, draw the z = 0 line from ``boundary``, add a colour bar."""
    mesh = ax.pcolormesh(xx, yy, values, cmap=_shade_cmap(_SHADE), shading="auto", zorder=1)
    if boundary is not None and boundary.min() < 0 < boundary.max():
        ax.contour(xx, yy, boundary, levels=[0.0], colors=[_BOUNDARY.value], linewidths=2, zorder=2)
    ax.figure.colorbar(mesh, ax=ax, label=label)
    return mesh


def plot_layer1_units(W1, b1, X, y, fig=None, *, resolution: int = 200, padding: float = 1.0):
    """Show each first-layer ReLU unit: a = ReLU(w·x + b) over the plane, its z = 0 line, the data.

    ``W1`` (2, units) and ``b1`` (units,) are the layer's weights as Keras stores them.
    Returns the Figure (one panel per unit). Introduced in C2_W2_Multiclass_TF.
    """
    X, y = _check_data(X, y)
    W1, b1 = _check_layer(W1, b1, 2, "layer 1")
    units = W1.shape[1]
    if fig is None:
        fig = plt.figure(figsize=(4.6 * units, 3.8))
    axes = np.atleast_1d(fig.subplots(1, units))
    xx, yy, grid = _grid(
        _padded_range(X[:, 0], padding), _padded_range(X[:, 1], padding), resolution
    )
    for j, ax in enumerate(axes):
        z = (grid @ W1[:, j] + b1[j]).reshape(xx.shape)
        _shade_unit(ax, xx, yy, np.maximum(0.0, z), boundary=z, label=f"$a_{j}$")
        _scatter_classes(ax, X, y, size=18)
        ax.set_title(f"layer 1, unit {j}: $a_{j}$ = ReLU($z_{j}$)")
        ax.set_xlabel("$x_0$")
        ax.set_ylabel("$x_1$")
    return fig


def plot_output_units(W2, b2, A1, y, fig=None, *, resolution: int = 200):
    """Show each output unit's z = a·w + b over the layer-1 feature plane, with the data there.

    ``A1`` (m, 2) is the data after layer 1; ``W2`` (2, classes), ``b2`` (classes,).
    In panel k the points of class k are bright and the others faded, and a line outlines
    where z_k is the largest output (the region predicted as class k).
    Returns the Figure. Introduced in C2_W2_Multiclass_TF.
    """
    A1, y = _check_data(A1, y)
    W2, b2 = _check_layer(W2, b2, 2, "layer 2")
    classes = W2.shape[1]
    cols = 2 if classes == 4 else classes
    rows = -(-classes // cols)
    if fig is None:
        fig = plt.figure(figsize=(4.6 * cols, 3.6 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    # ReLU outputs are never negative; a small margin keeps points at 0 visible.
    top = A1.max(axis=0) * 1.1 + 0.5
    xx, yy, grid = _grid((-0.04 * top[0], top[0]), (-0.04 * top[1], top[1]), resolution)
    Z = grid @ W2 + b2
    for k, ax in enumerate(axes):
        z = Z[:, k].reshape(xx.shape)
        mesh = ax.pcolormesh(xx, yy, z, cmap=_shade_cmap(_SHADE), shading="auto", zorder=1)
        fig.colorbar(mesh, ax=ax, label=f"$z_{k}$")
        # Outline where unit k beats every other output: the region predicted as class k.
        margin = (z - np.delete(Z, k, axis=1).max(axis=1).reshape(xx.shape)) if classes > 1 else z
        if margin.min() < 0 < margin.max():
            ax.contour(xx, yy, margin, levels=[0.0], colors=[_BOUNDARY.value], linewidths=2)
        _scatter_classes(ax, A1, y, highlight=k, size=18)
        ax.set_title(f"output unit {k} (class {k})")
        ax.set_xlabel("$a_0$ (layer-1 unit 0)")
        ax.set_ylabel("$a_1$ (layer-1 unit 1)")
    return fig


def inactive_fraction(A1, y) -> np.ndarray:
    """Return, for each unit and class, the fraction of that class's points where the unit is 0.

    Shape (units, classes); a value near 1 means the ReLU unit is "off" for that class.
    Introduced in C2_W2_Multiclass_TF.
    """
    A1 = np.asarray(A1, dtype=float)
    if A1.ndim != 2:
        raise ValueError(f"A1 must have shape (m, units); got {A1.shape}")
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != A1.shape[0]:
        raise ValueError(f"A1 has {A1.shape[0]} rows but y has {y.shape[0]} labels")
    classes = np.unique(y)
    return np.array([[np.mean(A1[y == c, j] <= 0.0) for c in classes] for j in range(A1.shape[1])])


def activation_patterns(W1, b1, X) -> np.ndarray:
    """Return the distinct on/off patterns a ReLU layer shows on the points ``X``, one per row.

    Row entries are True where the unit is on (``z > 0``). ``W1`` (2, units) and ``b1``
    (units,) as Keras stores them; ``X`` (m, 2), e.g. a fine grid over the plane.
    Introduced in C2_W2_Multiclass_TF.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (m, 2): one 2-D point per row; got {X.shape}")
    W1, b1 = _check_layer(W1, b1, 2, "layer 1")
    if W1.shape[1] > 62:
        raise ValueError(f"at most 62 units fit the patterns' 64-bit codes; got {W1.shape[1]}")
    # One integer per point, bit j set where unit j is on: counting integers is far faster
    # than np.unique on rows. z is written out, as a matrix product is slow for two inputs.
    codes = np.zeros(len(X), dtype=np.int64)
    for j in range(W1.shape[1]):
        on = X[:, 0] * W1[0, j] + X[:, 1] * W1[1, j] + b1[j] > 0
        codes |= on.astype(np.int64) << j
    found = np.flatnonzero(np.bincount(codes, minlength=1))
    return (found[:, None] >> np.arange(W1.shape[1])) & 1 == 1


def max_regions(num_lines: int) -> int:
    """Return the most regions ``num_lines`` straight lines can cut the plane into.

    Line k crosses the k - 1 lines before it at most once each, so it runs through at
    most k regions and splits each in two: 1 + (1 + 2 + ... + n) = 1 + n + n(n - 1)/2.
    k ReLU units of a layer with 2-D input have one line each, so they show at most this
    many on/off patterns, fewer than 2**k from k = 3 on. Introduced in C2_W2_Multiclass_TF.
    """
    if isinstance(num_lines, bool) or not isinstance(num_lines, int | np.integer) or num_lines < 0:
        raise ValueError(f"num_lines must be a whole number >= 0, got {num_lines!r}")
    return 1 + num_lines + num_lines * (num_lines - 1) // 2
