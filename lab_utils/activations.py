"""Activation functions and the "why non-linear activations" ReLU-fitting exercise.

Introduced in C2_W2_Relu.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np

from lab_utils.style import Palette

#: Unit 0 of the exercise is fixed: it is "on" for x < 1 and "off" for x > 1.
UNIT0_W = -2.0
UNIT0_B = 2.0

#: Slider values that make the network reproduce :func:`target_function` exactly.
SOLUTION: dict[str, float] = {"w1": 1.0, "b1": -1.0, "w2": 2.0, "b2": -4.0}

#: The exercise fits the target on this interval of x.
X_RANGE: tuple[float, float] = (0.0, 3.0)

SLIDER_NAMES: tuple[str, ...] = ("w1", "b1", "w2", "b2")
SLIDER_MIN, SLIDER_MAX, SLIDER_STEP = -4.0, 4.0, 0.1


def sigmoid(z):
    """Return the logistic sigmoid ``1 / (1 + exp(-z))``, element-wise.

    Introduced in C2_W2_Relu.
    """
    z = np.asarray(z, dtype=float)
    # Splitting by sign keeps exp() from overflowing for large |z|.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out if out.ndim else float(out)


def relu(z):
    """Return the rectified linear unit ``max(0, z)``, element-wise.

    Introduced in C2_W2_Relu.
    """
    out = np.maximum(0.0, np.asarray(z, dtype=float))
    return out if out.ndim else float(out)


def linear(z):
    """Return ``z`` unchanged (the "linear" activation, i.e. no activation).

    Introduced in C2_W2_Relu.
    """
    out = np.array(z, dtype=float)
    return out if out.ndim else float(out)


def leaky_relu(z, negative_slope: float = 0.01):
    """Return ``z`` for positive ``z`` and ``negative_slope * z`` otherwise, element-wise.

    Keras offers the same as ``keras.layers.LeakyReLU(negative_slope=...)`` (default 0.3).
    Introduced in C2_W2_Relu (dying ReLU).
    """
    slope = _check_slope(negative_slope)
    z = np.asarray(z, dtype=float)
    out = np.where(z > 0, z, slope * z)
    return out if out.ndim else float(out)


def _check_slope(negative_slope) -> float:
    slope = float(negative_slope)
    if not 0.0 <= slope < 1.0:
        raise ValueError(
            f"negative_slope must be in [0, 1): 0 for ReLU, a small number such as 0.01 for "
            f"leaky ReLU; got {negative_slope}"
        )
    return slope


def plot_activations(fig=None, *, z_range: tuple[float, float] = (-5.0, 5.0)):
    """Draw linear, sigmoid and ReLU side by side and return the Figure.

    Introduced in C2_W2_Relu.
    """
    if fig is None:
        fig = plt.figure(figsize=(9, 2.8))
    axes = fig.subplots(1, 3)
    z = np.linspace(*z_range, 201)
    panels = (
        ("Linear: $a = z$", linear, Palette.BLUE),
        (r"Sigmoid: $a = \frac{1}{1+e^{-z}}$", sigmoid, Palette.ORANGE),
        (r"ReLU: $a = \max(0, z)$", relu, Palette.DARK_RED),
    )
    for ax, (title, g, colour) in zip(axes, panels, strict=True):
        ax.axhline(0, color="0.75", lw=0.8)
        ax.axvline(0, color="0.75", lw=0.8)
        ax.plot(z, g(z), color=colour.value, lw=2)
        ax.set_title(title)
        ax.set_xlabel("z")
    axes[0].set_ylabel("a = g(z)")
    return fig


def target_function(x):
    """Return the exercise's piecewise-linear target at ``x``.

    Slope -2 down to (1, 0), slope 1 up to (2, 1), then slope 3 (reaching 4 at x = 3).
    Introduced in C2_W2_Relu.
    """
    x = np.asarray(x, dtype=float)
    return np.piecewise(
        x,
        [x < 1, (x >= 1) & (x < 2), x >= 2],
        [lambda t: 2 - 2 * t, lambda t: t - 1, lambda t: 3 * t - 5],
    )


def _check_params(w, b) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(w, dtype=float).reshape(-1)
    b = np.asarray(b, dtype=float).reshape(-1)
    if w.shape != b.shape or w.size == 0:
        raise ValueError(
            f"w and b must hold one number per unit and have the same length; "
            f"got {w.size} weights and {b.size} biases"
        )
    return w, b


def unit_outputs(x, w, b, activation: Callable = relu):
    """Return ``(z, a)`` for each unit: arrays of shape (units, len(x)).

    Unit j computes ``z = w[j] * x + b[j]`` and ``a = activation(z)``.
    Introduced in C2_W2_Relu.
    """
    w, b = _check_params(w, b)
    x = np.asarray(x, dtype=float).reshape(-1)
    z = w[:, None] * x[None, :] + b[:, None]
    return z, activation(z)


def relu_network_output(x, w, b, activation: Callable = relu):
    """Return the network's output at ``x``: the sum of its units' activations.

    The output unit adds the hidden units' outputs with weight 1 and no bias, as in the lab.
    Pass ``activation=linear`` to see that without ReLU the sum is always a straight line.
    Introduced in C2_W2_Relu.
    """
    _, a = unit_outputs(x, w, b, activation)
    return a.sum(axis=0)


def solution_parameters() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(w, b)`` for all three units with the exercise's solution.

    Introduced in C2_W2_Relu.
    """
    w = np.array([UNIT0_W, SOLUTION["w1"], SOLUTION["w2"]])
    b = np.array([UNIT0_B, SOLUTION["b1"], SOLUTION["b2"]])
    return w, b


def _unit_colours() -> tuple[str, ...]:
    return (Palette.DARK_RED.value, Palette.GREEN.value, Palette.PURPLE.value)


@dataclasses.dataclass
class _FitArtists:
    fig: object
    ax_fit: object
    unit_axes: list
    target_line: object
    output_line: object
    z_lines: list
    a_lines: list


def _draw_fit(fig, w, b, activation: Callable, num_points: int) -> _FitArtists:
    x = np.linspace(*X_RANGE, num_points)
    z, a = unit_outputs(x, w, b, activation)
    grid = fig.add_gridspec(len(w), 2, width_ratios=(1.4, 1))
    ax_fit = fig.add_subplot(grid[:, 0])
    (target_line,) = ax_fit.plot(
        x, target_function(x), color=Palette.BLUE.value, lw=4, alpha=0.45, label="target"
    )
    (output_line,) = ax_fit.plot(
        x, a.sum(axis=0), color=Palette.ORANGE.value, lw=2, label="network output"
    )
    ax_fit.set_xlabel("x")
    ax_fit.set_ylabel("y")
    ax_fit.set_title(f"Target vs. sum of {len(w)} {activation.__name__} units")
    ax_fit.legend(loc="upper center")
    unit_axes, z_lines, a_lines = [], [], []
    for j, colour in enumerate(_unit_colours()[: len(w)]):
        ax = fig.add_subplot(grid[j, 1], sharex=ax_fit)
        ax.axhline(0, color="0.8", lw=0.8)
        (z_line,) = ax.plot(x, z[j], color=colour, lw=1.2, ls="--", label="z = w·x + b")
        (a_line,) = ax.plot(x, a[j], color=colour, lw=2.2, label=f"a = {activation.__name__}(z)")
        ax.set_ylabel(f"unit {j}")
        unit_axes.append(ax)
        z_lines.append(z_line)
        a_lines.append(a_line)
    unit_axes[-1].set_xlabel("x")
    # One caption instead of a legend per panel, which would cover the lines.
    unit_axes[0].set_title(
        f"each unit: dashed $z = wx + b$, solid $a = $ {activation.__name__}$(z)$", fontsize=9
    )
    artists = _FitArtists(fig, ax_fit, unit_axes, target_line, output_line, z_lines, a_lines)
    _rescale(artists)
    return artists


def _span(values: np.ndarray, pad: float) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    return lo - pad, hi + pad


def _rescale(artists: _FitArtists) -> None:
    """Fit the y-limits to the current lines, always keeping the target in view."""
    target = artists.target_line.get_ydata()
    output = artists.output_line.get_ydata()
    artists.ax_fit.set_ylim(*_span(np.concatenate([target, output, [0.0]]), 0.5))
    for ax, z_line, a_line in zip(artists.unit_axes, artists.z_lines, artists.a_lines, strict=True):
        both = np.concatenate([z_line.get_ydata(), a_line.get_ydata(), [-1.0, 1.0]])
        ax.set_ylim(*_span(both, 0.5))


def plot_relu_fit(w, b, fig=None, *, activation: Callable = relu, num_points: int = 301):
    """Draw the target vs. the network output, plus each unit's ``z`` and ``a``; return the Figure.

    ``w`` and ``b`` hold one weight and one bias per hidden unit.
    Introduced in C2_W2_Relu.
    """
    w, b = _check_params(w, b)
    if fig is None:
        fig = plt.figure(figsize=(9, 4.5))
    _draw_fit(fig, w, b, activation, num_points)
    return fig


def plot_linear_unit_sums(num_settings: int = 5, *, seed: int = 1, ax=None):
    """Plot the 3-unit network with *linear* units for random parameters; return the Axes.

    Every curve is a straight line, however the parameters are drawn, so none can follow
    the bent target. Introduced in C2_W2_Relu.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    rng = np.random.default_rng(seed)
    x = np.linspace(*X_RANGE, 301)
    ax.plot(x, target_function(x), color=Palette.BLUE.value, lw=4, alpha=0.45, label="target")
    # Even the least-squares line, the best any linear network can do, misses the bends.
    slope, intercept = np.polyfit(x, target_function(x), 1)
    ax.plot(x, slope * x + intercept, color="0.3", lw=2, ls=":", label="best straight line")
    colours = [c.value for c in Palette if c is not Palette.BLUE]
    for k in range(num_settings):
        w = rng.uniform(-2.0, 2.0, 3)
        b = rng.uniform(-2.0, 2.0, 3)
        ax.plot(
            x,
            relu_network_output(x, w, b, activation=linear),
            color=colours[k % len(colours)],
            lw=1.5,
            label=f"random setting {k + 1}",
        )
    ax.set_xlabel("x")
    ax.set_ylabel("network output")
    ax.set_title("Three linear units: the sum is always a line")
    ax.legend(fontsize=7, loc="upper left", ncols=2)
    return ax


@dataclasses.dataclass
class ReluFitWidget(_FitArtists):
    """Hold the ReLU-fitting widget, its sliders and the artists it redraws.

    Display ``.widget`` (the controls); the figure ``.fig`` is shown by matplotlib.
    """

    widget: object
    sliders: dict
    solution_button: object
    status: object
    activation: Callable
    x: np.ndarray
    _updating: bool = False

    def parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(w, b)`` for all units: the fixed unit 0 and the slider values."""
        s = {name: self.sliders[name].value for name in SLIDER_NAMES}
        w = np.array([UNIT0_W, s["w1"], s["w2"]])
        b = np.array([UNIT0_B, s["b1"], s["b2"]])
        return w, b

    def update(self, _change=None) -> None:
        """Recompute the curves from the sliders and redraw in place."""
        if self._updating:
            return
        w, b = self.parameters()
        z, a = unit_outputs(self.x, w, b, self.activation)
        for z_line, a_line, z_j, a_j in zip(self.z_lines, self.a_lines, z, a, strict=True):
            z_line.set_ydata(z_j)
            a_line.set_ydata(a_j)
        output = a.sum(axis=0)
        self.output_line.set_ydata(output)
        _rescale(self)
        error = float(np.max(np.abs(output - target_function(self.x))))
        if error < 1e-9:
            self.status.value = "<b>The output matches the target exactly.</b>"
        else:
            self.status.value = f"Largest gap between output and target: <b>{error:.2f}</b>"
        self.fig.canvas.draw_idle()

    def set_parameters(self, **values: float) -> None:
        """Set several sliders at once (e.g. ``w1=1, b1=-1``) and redraw once."""
        unknown = set(values) - set(SLIDER_NAMES)
        if unknown:
            raise ValueError(f"unknown slider(s) {sorted(unknown)}; use {list(SLIDER_NAMES)}")
        self._updating = True
        try:
            for name, value in values.items():
                self.sliders[name].value = value
        finally:
            self._updating = False
        self.update()

    def show_solution(self, _button=None) -> None:
        """Move the sliders to the ReLU network's solution."""
        self.set_parameters(**SOLUTION)


def relu_fit_widget(
    *,
    activation: Callable = relu,
    initial: dict[str, float] | None = None,
    num_points: int = 301,
) -> ReluFitWidget:
    """Build the "fit the target with three units" exercise and return its state object.

    Sliders set ``w1, b1, w2, b2`` in [-4, 4]; unit 0 is fixed at ``w0 = -2, b0 = 2``.
    Pass ``activation=linear`` to try the same network without ReLU; its button then tries
    the ReLU answer, which does not fit.
    Introduced in C2_W2_Relu.
    """
    import ipywidgets as widgets

    start = {name: 0.0 for name in SLIDER_NAMES}
    if initial is not None:
        unknown = set(initial) - set(SLIDER_NAMES)
        if unknown:
            raise ValueError(f"unknown slider(s) {sorted(unknown)}; use {list(SLIDER_NAMES)}")
        start.update(initial)
    sliders = {
        name: widgets.FloatSlider(
            value=start[name],
            min=SLIDER_MIN,
            max=SLIDER_MAX,
            step=SLIDER_STEP,
            description=name,
            continuous_update=True,
            readout_format=".1f",
        )
        for name in SLIDER_NAMES
    }
    w = np.array([UNIT0_W, start["w1"], start["w2"]])
    b = np.array([UNIT0_B, start["b1"], start["b2"]])
    fig = plt.figure(figsize=(9, 4.5))
    artists = _draw_fit(fig, w, b, activation, num_points)
    # Without ReLU there is no solution: the button then tries the ReLU answer on these units.
    label = "Show solution" if activation is relu else "Try the ReLU answer"
    button = widgets.Button(description=label, icon="check")
    status = widgets.HTML()
    controls = widgets.VBox(
        [
            widgets.HTML(f"Unit 0 is fixed: w0 = {UNIT0_W:g}, b0 = {UNIT0_B:g}."),
            widgets.HBox([sliders["w1"], sliders["b1"]]),
            widgets.HBox([sliders["w2"], sliders["b2"]]),
            widgets.HBox([button, status]),
        ]
    )
    state = ReluFitWidget(
        widget=controls,
        sliders=sliders,
        solution_button=button,
        status=status,
        activation=activation,
        x=artists.target_line.get_xdata(),
        **vars(artists),
    )
    for slider in sliders.values():
        slider.observe(state.update, names="value")
    button.on_click(state.show_solution)
    state.update()
    return state


def dead_units(x, w, b) -> np.ndarray:
    """Return one flag per unit: True where ``z = w x + b`` is at most 0 for every ``x``.

    Such a ReLU unit outputs 0 on all the data and its slope there is 0, so gradient
    descent gets no gradient for its ``w`` and ``b``: it stays "dead".
    Introduced in C2_W2_Relu (dying ReLU).
    """
    z, _ = unit_outputs(x, w, b)
    return np.all(z <= 0, axis=1)


def cost_gradients(x, y, w, b, *, negative_slope: float = 0.0):
    """Return ``(J, dJ_dw, dJ_db)`` for the lab's network fitted to ``y`` at ``x``.

    ``J = (1/2m) sum (y_hat - y)**2`` with ``y_hat`` the sum of the units' outputs;
    ``negative_slope = 0`` gives ReLU units, a small positive one leaky ReLU units.
    A unit's gradient is ``(1/m) sum (y_hat - y) g'(z) x`` (and without ``x`` for ``b``),
    so it is exactly 0 for a ReLU unit whose ``z`` is negative on every example.
    Introduced in C2_W2_Relu (dying ReLU).
    """
    slope = _check_slope(negative_slope)
    x = np.asarray(x, dtype=float).reshape(-1)
    y = np.asarray(y, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must hold one target per point; got {x.size} and {y.size}")
    z, a = unit_outputs(x, w, b, lambda v: leaky_relu(v, slope))
    error = a.sum(axis=0) - y
    g_prime = np.where(z > 0, 1.0, slope)
    cost = float(np.mean(error**2) / 2)
    # + 0.0 turns a -0.0 (a mean of zeros times negative errors) into a plain 0.
    return cost, np.mean(error * g_prime * x, axis=1) + 0.0, np.mean(error * g_prime, axis=1) + 0.0


def gradient_descent(
    x, y, w, b, *, negative_slope: float = 0.0, lr: float = 0.1, num_iters: int = 1000, units=None
):
    """Run ``num_iters`` steps of gradient descent on the lab's network; return ``(w, b, costs)``.

    ``units`` lists the units whose ``w`` and ``b`` are updated (default: all); ``costs``
    holds the cost before every step and after the last one. The inputs are not changed.
    Introduced in C2_W2_Relu (dying ReLU).
    """
    w, b = (v.copy() for v in _check_params(w, b))
    if num_iters < 0 or lr <= 0:
        raise ValueError(f"need lr > 0 and num_iters >= 0; got lr={lr}, num_iters={num_iters}")
    update = np.zeros(w.size)
    update[list(range(w.size)) if units is None else list(units)] = 1.0
    costs = []
    for _ in range(num_iters):
        cost, dJ_dw, dJ_db = cost_gradients(x, y, w, b, negative_slope=negative_slope)
        costs.append(cost)
        w -= lr * update * dJ_dw
        b -= lr * update * dJ_db
    costs.append(cost_gradients(x, y, w, b, negative_slope=negative_slope)[0])
    return w, b, np.array(costs)
