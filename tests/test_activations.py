"""Activation functions, the ReLU-fitting exercise and its widget (lab_utils.activations)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab_utils import activations


def test_relu_is_zero_for_negative_and_identity_for_positive_z():
    z = np.array([-3.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(activations.relu(z), [0.0, 0.0, 0.0, 0.5, 2.0])
    assert activations.relu(-1.0) == 0.0
    assert activations.relu(4.0) == 4.0


def test_sigmoid_matches_formula_at_known_points():
    z = np.array([-2.0, 0.0, 1.0, 3.0])
    expected = [1 / (1 + math.exp(2.0)), 0.5, 1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(-3.0))]
    np.testing.assert_allclose(activations.sigmoid(z), expected, rtol=1e-12)
    assert activations.sigmoid(0.0) == 0.5


def test_sigmoid_does_not_overflow_for_large_negative_z():
    with np.errstate(over="raise", invalid="raise"):
        out = activations.sigmoid(np.array([-1000.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 1.0])


def test_linear_returns_its_input_unchanged():
    z = np.array([-2.5, 0.0, 7.0])
    np.testing.assert_array_equal(activations.linear(z), z)
    assert activations.linear(3.0) == 3.0


def test_plot_activations_draws_three_panels_with_each_function():
    fig = activations.plot_activations()
    axes = fig.get_axes()
    assert len(axes) == 3
    formulas = (lambda z: z, lambda z: 1 / (1 + np.exp(-z)))
    for ax, expected in zip(axes[:2], formulas, strict=True):
        line = ax.get_lines()[-1]
        np.testing.assert_allclose(line.get_ydata(), expected(line.get_xdata()), atol=1e-12)
    relu_line = axes[2].get_lines()[-1]
    np.testing.assert_array_equal(relu_line.get_ydata(), np.maximum(0, relu_line.get_xdata()))
    assert "ReLU" in axes[2].get_title()


def test_plot_activations_draws_on_a_given_figure():
    import matplotlib.pyplot as plt

    fig = plt.figure()
    assert activations.plot_activations(fig) is fig


def test_target_function_has_the_lab_corner_points():
    # Corners read off the exercise: slope -2 to (1, 0), slope 1 to (2, 1), slope 3 to (3, 4).
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    np.testing.assert_allclose(activations.target_function(x), [2, 1, 0, 0.5, 1, 2.5, 4])


def test_solution_parameters_reproduce_the_target_exactly_on_a_grid():
    w, b = activations.solution_parameters()
    np.testing.assert_array_equal(w, [-2, 1, 2])
    np.testing.assert_array_equal(b, [2, -1, -4])
    x = np.linspace(0, 3, 301)
    output = activations.relu_network_output(x, w, b)
    np.testing.assert_allclose(output, activations.target_function(x), atol=1e-12)


@pytest.mark.parametrize(
    ("w", "b"),
    [([-2, 1, 2], [2, -1, -3]), ([-2, 1.1, 2], [2, -1, -4]), ([-2, 0, 0], [2, 0, 0])],
)
def test_other_parameters_do_not_reproduce_the_target(w, b):
    x = np.linspace(0, 3, 301)
    output = activations.relu_network_output(x, w, b)
    assert np.max(np.abs(output - activations.target_function(x))) > 0.05


def test_unit_outputs_compute_z_and_relu_of_z_per_unit():
    x = np.array([0.0, 1.0, 2.0])
    z, a = activations.unit_outputs(x, [1.0, -1.0], [-1.0, 0.5])
    np.testing.assert_allclose(z, [[-1, 0, 1], [0.5, -0.5, -1.5]])
    np.testing.assert_allclose(a, [[0, 0, 1], [0.5, 0, 0]])


def test_linear_units_always_sum_to_a_straight_line():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 3, 50)
    for _ in range(20):
        w, b = rng.uniform(-4, 4, 3), rng.uniform(-4, 4, 3)
        y = activations.relu_network_output(x, w, b, activation=activations.linear)
        np.testing.assert_allclose(np.diff(y, n=2), 0.0, atol=1e-10)


def test_relu_units_bend_where_units_switch_on():
    x = np.linspace(0, 3, 301)
    y = activations.relu_network_output(x, *activations.solution_parameters())
    assert np.max(np.abs(np.diff(y, n=2))) > 0.01


def test_network_rejects_mismatched_weights_and_biases():
    with pytest.raises(ValueError, match="same length"):
        activations.relu_network_output([0.0], [1.0, 2.0], [0.0])


def test_plot_relu_fit_draws_target_output_and_one_panel_per_unit():
    fig = activations.plot_relu_fit(*activations.solution_parameters())
    assert len(fig.get_axes()) == 4
    target, output = fig.get_axes()[0].get_lines()[:2]
    np.testing.assert_allclose(output.get_ydata(), target.get_ydata(), atol=1e-12)


def test_plot_linear_unit_sums_draws_only_straight_lines():
    ax = activations.plot_linear_unit_sums(num_settings=4, seed=3)
    lines = ax.get_lines()
    assert len(lines) == 1 + 1 + 4  # target, best line, random settings
    for line in lines[1:]:
        np.testing.assert_allclose(np.diff(line.get_ydata(), n=2), 0.0, atol=1e-10)


def test_relu_widget_moves_output_line_when_slider_changes():
    w = activations.relu_fit_widget()
    before = w.output_line.get_ydata().copy()
    w.sliders["w1"].value = 1.5
    after = w.output_line.get_ydata()
    assert not np.allclose(before, after)
    x = w.output_line.get_xdata()
    expected = np.maximum(0, -2 * x + 2) + np.maximum(0, 1.5 * x + 0.0)
    np.testing.assert_allclose(after, expected, atol=1e-12)


def test_relu_widget_updates_each_units_z_and_a_lines():
    w = activations.relu_fit_widget()
    w.sliders["w2"].value = 2.0
    w.sliders["b2"].value = -3.0
    x = w.z_lines[2].get_xdata()
    np.testing.assert_allclose(w.z_lines[2].get_ydata(), 2 * x - 3, atol=1e-12)
    np.testing.assert_allclose(w.a_lines[2].get_ydata(), np.maximum(0, 2 * x - 3), atol=1e-12)
    # Unit 0 is fixed at w0 = -2, b0 = 2 whatever the sliders say.
    np.testing.assert_allclose(w.z_lines[0].get_ydata(), -2 * x + 2, atol=1e-12)


def test_relu_widget_sliders_have_the_lab_range_and_step():
    w = activations.relu_fit_widget()
    assert set(w.sliders) == {"w1", "b1", "w2", "b2"}
    for slider in w.sliders.values():
        assert (slider.min, slider.max, slider.step) == (-4.0, 4.0, 0.1)


def test_show_solution_button_sets_sliders_and_output_matches_target():
    w = activations.relu_fit_widget()
    assert "matches" not in w.status.value
    w.solution_button.click()
    values = {name: s.value for name, s in w.sliders.items()}
    assert values == {"w1": 1.0, "b1": -1.0, "w2": 2.0, "b2": -4.0}
    np.testing.assert_allclose(
        w.output_line.get_ydata(), activations.target_function(w.x), atol=1e-12
    )
    assert "matches the target exactly" in w.status.value


def test_linear_widget_button_tries_the_relu_answer_and_says_it_does_not_fit():
    w = activations.relu_fit_widget(activation=activations.linear)
    assert w.solution_button.description == "Try the ReLU answer"
    w.solution_button.click()
    assert {name: s.value for name, s in w.sliders.items()} == activations.SOLUTION
    assert "Largest gap" in w.status.value and "matches" not in w.status.value


def test_relu_widget_with_linear_activation_keeps_output_straight():
    w = activations.relu_fit_widget(activation=activations.linear)
    w.set_parameters(w1=3.0, b1=-1.0, w2=-0.7, b2=2.2)
    np.testing.assert_allclose(np.diff(w.output_line.get_ydata(), n=2), 0.0, atol=1e-10)


def test_relu_widget_rejects_unknown_slider_names():
    with pytest.raises(ValueError, match="unknown slider"):
        activations.relu_fit_widget(initial={"w3": 1.0})


def test_leaky_relu_keeps_a_small_slope_for_negative_z():
    z = np.array([-10.0, -1.0, 0.0, 2.0])
    np.testing.assert_allclose(activations.leaky_relu(z), [-0.1, -0.01, 0.0, 2.0])
    np.testing.assert_allclose(
        activations.leaky_relu(z, negative_slope=0.3), [-3.0, -0.3, 0.0, 2.0]
    )
    assert activations.leaky_relu(-2.0, negative_slope=0.0) == 0.0  # slope 0 is ReLU


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2.0])
def test_leaky_relu_rejects_a_slope_outside_zero_to_one(bad):
    with pytest.raises(ValueError, match="negative_slope"):
        activations.leaky_relu(1.0, negative_slope=bad)


def test_dead_units_are_those_off_for_every_example():
    x = np.linspace(0, 3, 31)
    # By hand on [0, 3]: z = x - 1 is on from 1; z = -x - 1 never; z = 2x - 7 never (on from 3.5);
    # z = -x + 3 is on left of 3.
    w, b = [1.0, -1.0, 2.0, -1.0], [-1.0, -1.0, -7.0, 3.0]
    assert activations.dead_units(x, w, b).tolist() == [False, True, True, False]


def test_cost_gradients_match_centred_differences_of_the_cost():
    x = np.linspace(0, 3, 31)
    y = activations.target_function(x)
    # No kink (z = 0) falls on a grid point, where a difference would straddle two slopes.
    w, b = np.array([-2.1, 0.8, 1.5]), np.array([2.0, -0.7, -3.5])
    for slope in (0.0, 0.01):
        cost, dJ_dw, dJ_db = activations.cost_gradients(x, y, w, b, negative_slope=slope)

        def J(w_, b_, slope=slope):
            return activations.cost_gradients(x, y, w_, b_, negative_slope=slope)[0]

        eps = 1e-6
        for j in range(3):
            step = np.eye(3)[j] * eps
            assert dJ_dw[j] == pytest.approx(
                (J(w + step, b) - J(w - step, b)) / (2 * eps), abs=1e-6
            )
            assert dJ_db[j] == pytest.approx(
                (J(w, b + step) - J(w, b - step)) / (2 * eps), abs=1e-6
            )
        y_hat = activations.leaky_relu(w[:, None] * x + b[:, None], slope).sum(axis=0)
        assert cost == pytest.approx(np.mean((y_hat - y) ** 2) / 2)


def test_a_dead_relu_unit_gets_exactly_zero_gradient_and_a_leaky_one_does_not():
    x = np.linspace(0, 3, 301)
    y = activations.target_function(x)
    w, b = activations.solution_parameters()
    w[2], b[2] = 2.0, -7.0
    _, dJ_dw, dJ_db = activations.cost_gradients(x, y, w, b)
    assert dJ_dw[2] == 0.0 and dJ_db[2] == 0.0
    assert dJ_dw[1] != 0.0  # a live unit does get a gradient
    _, dJ_dw, dJ_db = activations.cost_gradients(x, y, w, b, negative_slope=0.01)
    assert dJ_dw[2] != 0.0 and dJ_db[2] != 0.0


def test_gradient_descent_cannot_revive_a_dead_relu_unit_but_revives_a_leaky_one():
    x = np.linspace(0, 3, 301)
    y = activations.target_function(x)
    w, b = activations.solution_parameters()
    w[2], b[2] = 2.0, -7.0
    start = (w.copy(), b.copy())
    w_relu, b_relu, costs = activations.gradient_descent(x, y, w, b, num_iters=500, units=[2])
    assert (w_relu[2], b_relu[2]) == (2.0, -7.0)
    assert costs[0] == costs[-1] and len(costs) == 501
    w_leaky, b_leaky, costs = activations.gradient_descent(
        x, y, w, b, negative_slope=0.01, num_iters=2000, units=[2]
    )
    assert not activations.dead_units(x, w_leaky, b_leaky)[2]
    assert costs[-1] < costs[0] / 10
    assert (w_leaky[:2], b_leaky[:2]) == (pytest.approx(w[:2]), pytest.approx(b[:2]))  # not updated
    np.testing.assert_array_equal(w, start[0])  # the inputs are left alone
    np.testing.assert_array_equal(b, start[1])


def test_gradient_descent_rejects_a_bad_learning_rate():
    with pytest.raises(ValueError, match="lr > 0"):
        activations.gradient_descent([0.0, 1.0], [0.0, 1.0], [1.0], [0.0], lr=0.0)
