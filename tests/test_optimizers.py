"""Tests for lab_utils.optimizers: the valley cost, Adam vs. Keras, GD vs. Adam, plots."""

from __future__ import annotations

import numpy as np
import pytest

from lab_utils import optimizers
from lab_utils.style import Palette


@pytest.fixture
def valley():
    return optimizers.ElongatedQuadratic(a=100.0, b=1.0)


def test_quadratic_cost_and_gradient_match_the_formula(valley):
    w = np.array([0.5, -3.0])
    assert valley(w) == pytest.approx(0.5 * (100 * 0.25 + 9.0))
    np.testing.assert_allclose(valley.gradient(w), [50.0, -3.0])


def test_quadratic_gradient_matches_finite_differences(valley):
    w = np.array([0.3, 2.0])
    h = 1e-6
    numeric = [(valley(w + h * e) - valley(w - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(valley.gradient(w), numeric, rtol=1e-6)


def test_quadratic_evaluates_on_a_grid_for_contours(valley):
    W0, W1 = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-2, 2, 3))
    cost = valley(np.stack([W0, W1]))
    assert cost.shape == (3, 4)
    assert cost[0, 0] == pytest.approx(0.5 * (100 * 1 + 4))


def test_quadratic_rejects_non_positive_curvature_and_bad_shapes(valley):
    with pytest.raises(ValueError, match="positive"):
        optimizers.ElongatedQuadratic(a=-1.0)
    with pytest.raises(ValueError, match=r"\(w0, w1\)"):
        valley(np.zeros(3))


def test_adam_first_step_moves_each_parameter_by_about_lr_against_its_gradient():
    # At t=1: m = 0.1 g, v = 0.001 g^2, so m_hat = g and v_hat = g^2: the step is lr * sign(g).
    w = np.array([1.0, 1.0, 1.0])
    g = np.array([1000.0, -0.01, 3.0])
    w_new, m, v = optimizers.adam_step(w, g, np.zeros(3), np.zeros(3), 1, lr=0.1)
    np.testing.assert_allclose(m, 0.1 * g)
    np.testing.assert_allclose(v, 0.001 * g**2)
    np.testing.assert_allclose(w_new, w - 0.1 * np.sign(g), atol=1e-4)


def test_adam_step_matches_keras_adam_over_several_steps():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(3)
    w = rng.normal(size=6)
    w_start = w.copy()
    m = np.zeros(6)
    v = np.zeros(6)
    w_tf = tf.Variable(w.astype(np.float32))
    keras_adam = tf.keras.optimizers.Adam(learning_rate=0.001)
    for t in range(1, 9):
        g = rng.normal(size=6).astype(np.float32)
        w, m, v = optimizers.adam_step(w, g, m, v, t, lr=0.001)
        keras_adam.apply_gradients([(tf.constant(g), w_tf)])
        np.testing.assert_allclose(w_tf.numpy(), w, atol=1e-6)
    assert np.abs(w - w_start).sum() > 0.01  # the parameters really moved: the match is not trivial


def test_adam_step_rejects_step_zero_and_mismatched_shapes():
    z = np.zeros(2)
    with pytest.raises(ValueError, match="starts at 1"):
        optimizers.adam_step(z, z, z, z, 0)
    with pytest.raises(ValueError, match="one shape"):
        optimizers.adam_step(z, np.zeros(3), z, z, 1)


def test_gradient_descent_takes_lr_times_gradient_steps(valley):
    w_init = np.array([1.0, 10.0])
    path = optimizers.run_gradient_descent(valley.gradient, w_init, lr=0.01, num_iters=5)
    assert path.shape == (6, 2)
    np.testing.assert_allclose(path[1], [1.0 - 0.01 * 100.0, 10.0 - 0.01 * 10.0])
    # Each step multiplies w0 by (1 - lr a) and w1 by (1 - lr b).
    np.testing.assert_allclose(path[5], [(1 - 1.0) ** 5 * 1.0, 0.99**5 * 10.0], atol=1e-12)


def test_gradient_descent_diverges_above_two_over_a(valley):
    path = optimizers.run_gradient_descent(valley.gradient, [1.0, 1.0], lr=0.021, num_iters=50)
    assert valley(path[-1]) > valley(path[0])


def test_run_adam_returns_path_and_step_sizes(valley):
    path, steps = optimizers.run_adam(valley.gradient, [1.0, 10.0], lr=0.3, num_iters=7)
    assert path.shape == (8, 2)
    assert steps.shape == (7, 2)
    np.testing.assert_allclose(steps, np.abs(path[1:] - path[:-1]))


def test_gd_needs_many_more_iterations_than_adam_in_the_narrow_valley(valley):
    w_init = [1.0, 10.0]
    target = 1e-3
    gd = optimizers.run_gradient_descent(valley.gradient, w_init, lr=0.019, num_iters=1000)
    adam, _ = optimizers.run_adam(valley.gradient, w_init, lr=0.3, num_iters=1000)
    gd_iters = optimizers.iterations_to_reach(valley(gd.T), target)
    adam_iters = optimizers.iterations_to_reach(valley(adam.T), target)
    assert adam_iters is not None and gd_iters is not None
    assert gd_iters > 2 * adam_iters


def test_adam_steps_shrink_for_the_oscillating_parameter(valley):
    _, steps = optimizers.run_adam(valley.gradient, [1.0, 10.0], lr=0.3, num_iters=30)
    # w1's gradient keeps its sign: steps stay near lr; w0's flips: steps are smaller on average.
    assert steps[5:30, 1].mean() > 0.2
    assert steps[5:30, 0].mean() < 0.5 * steps[5:30, 1].mean()


def test_run_functions_reject_bad_settings(valley):
    with pytest.raises(ValueError, match="lr"):
        optimizers.run_gradient_descent(valley.gradient, [1.0, 1.0], lr=0, num_iters=3)
    with pytest.raises(ValueError, match="num_iters"):
        optimizers.run_adam(valley.gradient, [1.0, 1.0], lr=0.1, num_iters=0)


def test_iterations_to_reach_counts_steps_until_target():
    assert optimizers.iterations_to_reach([5.0, 3.0, 1.0, 0.5], 1.0) == 2
    assert optimizers.iterations_to_reach([5.0, 3.0], 1.0) is None
    assert optimizers.iterations_to_reach([0.1], 1.0) == 0
    with pytest.raises(ValueError, match="non-empty"):
        optimizers.iterations_to_reach([], 1.0)


def test_plot_trajectories_draws_each_path_and_the_minimum(valley):
    gd = optimizers.run_gradient_descent(valley.gradient, [1.0, 10.0], lr=0.019, num_iters=10)
    adam, _ = optimizers.run_adam(valley.gradient, [1.0, 10.0], lr=0.3, num_iters=10)
    ax = optimizers.plot_trajectories(valley, {"GD": gd, "Adam": adam})
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["GD (10 steps)", "Adam (10 steps)", "minimum"]
    np.testing.assert_allclose(ax.get_lines()[1].get_xydata(), adam)
    assert ax.collections, "contours were drawn"


def test_plot_trajectories_rejects_empty_or_misshapen_paths(valley):
    with pytest.raises(ValueError, match="non-empty"):
        optimizers.plot_trajectories(valley, {})
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        optimizers.plot_trajectories(valley, {"bad": np.zeros((4, 3))})


def test_plot_step_sizes_draws_one_line_per_parameter_and_run_on_a_log_axis():
    steps = {"Adam": np.full((5, 2), 0.1), "GD": np.full((5, 2), 0.01)}
    ax = optimizers.plot_step_sizes(steps)
    assert len(ax.get_lines()) == 4
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), 0.01)
    with pytest.raises(ValueError, match="num_iters"):
        optimizers.plot_step_sizes({"x": np.zeros((5, 3))})


def test_run_styles_colour_each_run_by_its_optimizer_and_dash_its_repeats():
    styles = optimizers.run_styles(["GD, lr=0.019", "Adam, lr=0.3", "GD, lr=0.005", "SGD, lr=0.1"])
    assert styles["GD, lr=0.019"] == {"color": Palette.BLUE.value, "linestyle": "-"}
    assert styles["GD, lr=0.005"] == {"color": Palette.BLUE.value, "linestyle": "--"}
    assert styles["Adam, lr=0.3"] == {"color": Palette.ORANGE.value, "linestyle": "-"}
    assert styles["SGD, lr=0.1"]["color"] == Palette.BLUE.value


def test_run_styles_give_other_optimizers_colours_no_named_optimizer_uses():
    styles = optimizers.run_styles(["RMSprop", "Adam"])
    assert styles["RMSprop"]["color"] not in optimizers.OPTIMIZER_COLORS.values()
    assert optimizers.optimizer_of("Adam, lr=0.3") == "Adam"


def test_every_adam_lab_plot_draws_an_optimizer_in_the_same_colour(valley):
    """Is orange Adam (and blue gradient descent) in the path, cost and step-size plots alike?"""
    gd = optimizers.run_gradient_descent(valley.gradient, [1.0, 10.0], lr=0.019, num_iters=10)
    adam, adam_steps = optimizers.run_adam(valley.gradient, [1.0, 10.0], lr=0.3, num_iters=10)
    runs = {"GD, lr=0.019": gd, "Adam, lr=0.3": adam}
    path_ax = optimizers.plot_trajectories(valley, runs)
    cost_ax = optimizers.plot_costs({name: valley(p.T) for name, p in runs.items()}, target=1e-3)
    step_ax = optimizers.plot_step_sizes(
        {"Adam, lr=0.3": adam_steps, "GD, lr=0.019": np.abs(np.diff(gd, axis=0))}
    )
    for ax in (path_ax, cost_ax, step_ax):
        for line in ax.get_lines():
            label = line.get_label()
            if label.startswith(("GD", "Adam")):
                expected = optimizers.OPTIMIZER_COLORS[optimizers.optimizer_of(label)]
                assert line.get_color() == expected, (label, line.get_color())


def test_plot_costs_draws_each_run_from_iteration_one_on_a_log_axis():
    ax = optimizers.plot_costs({"Adam": [4.0, 2.0, 1.0]}, target=1.5, xlabel="epoch")
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "Adam"]
    np.testing.assert_allclose(line.get_xydata(), [[1, 4.0], [2, 2.0], [3, 1.0]])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="non-empty"):
        optimizers.plot_costs({})
    with pytest.raises(ValueError, match="1-D"):
        optimizers.plot_costs({"x": np.zeros((2, 2))})


def test_sign_changes_counts_flips_between_neighbours():
    assert optimizers.sign_changes([1.0, -0.5, -0.2, 0.3, 0.1]) == 2
    assert optimizers.sign_changes([3.0, 2.0, 1.0]) == 0


def test_adam_rejects_betas_outside_zero_to_one():
    z = np.zeros(2)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        optimizers.adam_step(z, z, z, z, 1, beta1=1.0)


def test_adam_with_less_momentum_stops_overshooting_in_the_valley(valley):
    """Can the Adam lab's beta1 try-it be solved: a smaller beta1, no cost rises, still fast?"""
    rises = {}
    for beta1 in (0.9, 0.5):
        path, _ = optimizers.run_adam(
            valley.gradient, [1.0, 10.0], lr=0.3, num_iters=300, beta1=beta1
        )
        cost = valley(path.T)
        rises[beta1] = int(np.sum(np.diff(cost[:101]) > 0))
        assert optimizers.iterations_to_reach(cost, 1e-3) < 100
    assert rises[0.9] > 0 and rises[0.5] == 0
