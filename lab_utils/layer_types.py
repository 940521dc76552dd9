"""Dense vs. convolutional layers on a synthetic heartbeat signal: data, counts, windows.

Introduced in C2_W2_Layer_Types.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from lab_utils.style import CLASS_COLORS, Palette


def _beat(t: np.ndarray, centre: float, *, irregular: bool) -> np.ndarray:
    """Return one heartbeat: a sharp spike with a small later bump, or a broad irregular one."""
    if irregular:
        # A broad, lower beat with no bump after it, loosely like an ectopic beat on an EKG.
        return 0.8 * np.exp(-0.5 * ((t - centre) / 3.5) ** 2)
    return np.exp(-0.5 * ((t - centre) / 1.2) ** 2) + 0.25 * np.exp(
        -0.5 * ((t - centre - 9.0) / 3.0) ** 2
    )


def make_heartbeat_signals(
    n_samples: int = 1200,
    length: int = 200,
    *,
    period: int = 25,
    noise: float = 0.15,
    seed: int = 7,
) -> tuple[np.ndarray, np.ndarray]:
    """Return synthetic heart signals ``X`` (n, length) float32 and labels ``y`` (n,) int.

    Every signal has a beat every ``period`` samples (with a random start and a little
    jitter) plus Gaussian noise. In about half of them (``y == 1``) one beat, at a random
    position, has an abnormal shape. Introduced in C2_W2_Layer_Types.
    """
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    if period < 10 or length < 2 * period:
        raise ValueError(
            f"need period >= 10 and length >= 2 * period to fit two beats, got {period}, {length}"
        )
    if noise < 0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=float)
    X = np.zeros((n_samples, length))
    y = np.zeros(n_samples, dtype=np.int64)
    y[rng.permutation(n_samples)[: n_samples // 2]] = 1
    for i in range(n_samples):
        centres = np.arange(rng.uniform(3, period + 3), length - 3, period)
        centres = centres + rng.normal(0, 1.0, size=centres.shape)
        odd = rng.integers(len(centres)) if y[i] else -1
        for j, centre in enumerate(centres):
            X[i] += _beat(t, centre, irregular=j == odd)
    X += rng.normal(0, noise, size=X.shape)
    return X.astype(np.float32), y


def dense_param_count(n_inputs: int, units: int) -> int:
    """Return the weights plus biases of a Dense layer: ``n_inputs * units + units``.

    Introduced in C2_W2_Layer_Types.
    """
    _check_positive(n_inputs=n_inputs, units=units)
    return n_inputs * units + units


def conv1d_param_count(kernel_size: int, in_channels: int, filters: int) -> int:
    """Return the weights plus biases of a Conv1D layer: ``kernel_size * in_channels * filters + filters``.

    The count does not depend on the signal length: every position shares the same weights.
    Introduced in C2_W2_Layer_Types.
    """
    _check_positive(kernel_size=kernel_size, in_channels=in_channels, filters=filters)
    return kernel_size * in_channels * filters + filters


def dense_multiply_adds(n_inputs: int, units: int) -> int:
    """Return the multiply-adds a Dense layer does per example: one per weight, ``n_inputs * units``.

    Biases and activations aside. Introduced in C2_W2_Layer_Types.
    """
    _check_positive(n_inputs=n_inputs, units=units)
    return n_inputs * units


def conv1d_multiply_adds(
    length: int, kernel_size: int, in_channels: int, filters: int, strides: int = 1
) -> int:
    """Return the multiply-adds a 'valid' Conv1D layer does per example on a signal of ``length``.

    Each filter reads a window of ``kernel_size * in_channels`` inputs at every one of its
    positions, so the count is positions * filters * kernel_size * in_channels: unlike the
    parameter count, it grows with the signal. Biases and activations aside.
    Introduced in C2_W2_Layer_Types.
    """
    _check_positive(in_channels=in_channels, filters=filters)
    positions = conv1d_output_length(length, kernel_size, strides)
    return positions * filters * kernel_size * in_channels


def multiply_adds(model) -> int:
    """Count a Keras model's multiply-adds per example from the shapes Keras gave its layers.

    For every layer with a kernel (``Dense``, ``Conv1D``, ``Conv2D``, ...), each number in the
    layer's output reads ``kernel.size / filters`` inputs (a whole input row for Dense, one window
    for a convolution), so the layer does (outputs per example) * (that many) multiply-adds.
    Layers without a kernel (pooling, flattening) are not counted. This uses no formula for any
    layer type, so it checks the formulas of :func:`dense_multiply_adds` and
    :func:`conv1d_multiply_adds`. Introduced in C2_W2_Layer_Types.
    """
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(f"pass a built Keras model, got {type(model).__name__}")
    total = 0
    for layer in layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        if "Transpose" in type(layer).__name__ or "Depthwise" in type(layer).__name__:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) is not counted: its kernel does not "
                "map one window to one output; count Dense and ConvND layers only"
            )
        outputs = int(np.prod(layer.output.shape[1:]))
        inputs_per_output = int(np.prod(kernel.shape[:-1]))
        total += outputs * inputs_per_output
    return total


def conv1d_output_length(length: int, kernel_size: int, strides: int = 1) -> int:
    """Return how many windows (units per filter) a 'valid' Conv1D has on a signal of ``length``.

    Introduced in C2_W2_Layer_Types.
    """
    _check_positive(length=length, kernel_size=kernel_size, strides=strides)
    if kernel_size > length:
        raise ValueError(f"kernel_size {kernel_size} is longer than the signal ({length})")
    return (length - kernel_size) // strides + 1


def unit_windows(length: int, kernel_size: int, strides: int = 1) -> np.ndarray:
    """Return the input window ``[start, stop)`` each unit of a 'valid' Conv1D looks at, shape (units, 2).

    Introduced in C2_W2_Layer_Types.
    """
    starts = np.arange(conv1d_output_length(length, kernel_size, strides)) * strides
    return np.stack([starts, starts + kernel_size], axis=1)


def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None) -> int:
    """Return how many input samples one unit of the last of several stacked Conv1D layers sees.

    Introduced in C2_W2_Layer_Types.
    """
    strides = [1] * len(kernel_sizes) if strides is None else list(strides)
    if len(strides) != len(kernel_sizes) or not kernel_sizes:
        raise ValueError("give one stride per kernel size, and at least one layer")
    size, jump = 1, 1
    for kernel_size, stride in zip(kernel_sizes, strides, strict=True):
        _check_positive(kernel_size=kernel_size, strides=stride)
        size += (kernel_size - 1) * jump
        jump *= stride
    return size


def _check_positive(**values):
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value}")


def plot_signals(X, y, ax=None, *, num_each: int = 2):
    """Plot ``num_each`` normal and ``num_each`` abnormal signals, stacked, and return the Axes.

    Introduced in C2_W2_Layer_Types.
    """
    X, y = np.asarray(X), np.asarray(y).reshape(-1)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    offset = 0.0
    for label, name in ((0, "normal"), (1, "irregular beat")):
        rows = np.flatnonzero(y == label)[:num_each]
        if rows.size == 0:
            raise ValueError(f"no signal with label {label} to show")
        for k, row in enumerate(rows):
            ax.plot(
                X[row] - offset,
                color=CLASS_COLORS[label],
                linewidth=1,
                label=f"y = {label} ({name})" if k == 0 else None,
            )
            offset += 2.2
    ax.set_yticks([])
    ax.set_xlabel("time step")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def plot_unit_windows(x, kernel_size: int, units: Sequence[int], ax=None, *, strides: int = 1):
    """Shade the input window that each listed unit of a Conv1D layer looks at on signal ``x``.

    Returns the Axes. Introduced in C2_W2_Layer_Types.
    """
    x = np.asarray(x).reshape(-1)
    windows = unit_windows(len(x), kernel_size, strides)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.5))
    ax.plot(x, color="0.3", linewidth=1)
    for k, unit in enumerate(units):
        if not 0 <= unit < len(windows):
            raise ValueError(
                f"unit {unit} does not exist; this layer has units 0-{len(windows) - 1}"
            )
        start, stop = windows[unit]
        ax.axvspan(
            start - 0.5,
            stop - 0.5,
            color=CLASS_COLORS[k % len(CLASS_COLORS)],
            alpha=0.3,
            label=f"unit {unit}: inputs {start}-{stop - 1}",
        )
    ax.set_xlabel("time step")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def plot_unit_activation(
    x, activation, kernel_size: int, fig=None, *, strides: int = 1, title: str | None = None
):
    """Plot signal ``x`` above one conv filter's activation, each unit placed at its window's centre.

    ``activation`` has one value per unit (the filter's output along the signal).
    Returns the Figure. Introduced in C2_W2_Layer_Types.
    """
    x = np.asarray(x).reshape(-1)
    activation = np.asarray(activation).reshape(-1)
    windows = unit_windows(len(x), kernel_size, strides)
    if len(activation) != len(windows):
        raise ValueError(
            f"activation has {len(activation)} values but this layer has {len(windows)} units"
        )
    if fig is None:
        fig = plt.figure(figsize=(8, 3.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(x, color="0.3", linewidth=1)
    top.set_ylabel("input")
    centres = windows.mean(axis=1) - 0.5
    bottom.plot(centres, activation, color=str(Palette.ORANGE))
    peak = int(np.argmax(activation))
    start, stop = windows[peak]
    for ax in (top, bottom):
        ax.axvspan(start - 0.5, stop - 0.5, color=str(Palette.BLUE), alpha=0.25)
    bottom.set_ylabel("unit output")
    bottom.set_xlabel("time step (centre of each unit's window)")
    top.set_title(title or f"strongest unit: {peak} (window {start}-{stop - 1})")
    return fig
