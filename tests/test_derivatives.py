"""Tests of lab_utils.derivatives: arithmetic and symbolic derivatives, tables and plots."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import sympy

from lab_utils import derivatives

w = sympy.symbols("w")


@pytest.mark.parametrize(
    ("f", "point", "dfdw"),
    [
        (lambda v: v**2, 3.0, lambda v: 2 * v),
        (lambda v: v**3, 2.0, lambda v: 3 * v**2),
        (lambda v: 1 / v, 2.0, lambda v: -1 / v**2),
        (math.sin, 0.5, math.cos),
    ],
)
def test_numeric_derivative_approximates_the_formula(f, point, dfdw):
    assert derivatives.numeric_derivative(f, point, 1e-6) == pytest.approx(dfdw(point), abs=1e-4)


def test_numeric_derivative_is_the_forward_difference_the_lab_shows():
    # J = w**2 at w = 3 with epsilon 0.001: (9.006001 - 9) / 0.001 = 6.001 by hand.
    assert derivatives.numeric_derivative(lambda v: v**2, 3, 1e-3) == pytest.approx(6.001)


def test_numeric_derivative_error_shrinks_with_epsilon_then_grows_below_machine_precision():
    def f(v):
        return v**2

    errors = {e: abs(derivatives.numeric_derivative(f, 3, e) - 6) for e in (1e-3, 1e-9, 1e-15)}
    assert errors[1e-9] < errors[1e-3]
    assert errors[1e-15] > errors[1e-9]


@pytest.mark.parametrize("bad", [0, -1e-3, float("nan"), "small"])
def test_numeric_derivative_rejects_a_bad_epsilon(bad):
    with pytest.raises((ValueError, TypeError), match="epsilon"):
        derivatives.numeric_derivative(lambda v: v, 1.0, bad)


def test_numeric_derivative_rejects_something_that_is_not_a_function():
    with pytest.raises(TypeError, match="function"):
        derivatives.numeric_derivative(3.0, 1.0)


@pytest.mark.parametrize(
    ("expr", "point", "hand_derivative", "hand_value"),
    [
        (w**2, 3, 2 * w, 6),
        (2 * w, 3, sympy.Integer(2), 2),
        (w**3, 2, 3 * w**2, 12),
        (1 / w, 2, -1 / w**2, sympy.Rational(-1, 4)),
        (1 / w**2, 4, -2 / w**3, sympy.Rational(-1, 32)),
    ],
)
def test_symbolic_derivative_matches_the_hand_derived_rule(
    expr, point, hand_derivative, hand_value
):
    derivative, value = derivatives.symbolic_derivative(expr, w, point)
    assert sympy.simplify(derivative - hand_derivative) == 0
    assert value == hand_value


def test_symbolic_derivative_accepts_a_string_and_rejects_a_non_symbol():
    derivative, value = derivatives.symbolic_derivative("w**3", w, 2)
    assert sympy.simplify(derivative - 3 * w**2) == 0
    assert value == 12
    with pytest.raises(TypeError, match="symbol"):
        derivatives.symbolic_derivative(w**2, "w", 3)
    with pytest.raises(ValueError, match="SymPy expression"):
        derivatives.symbolic_derivative("w**", w, 3)


def test_derivative_table_compares_exact_and_arithmetic_values():
    rows = derivatives.derivative_table([(w**2, 3), (1 / w, 2)], w, epsilon=1e-3)
    assert [r.exact for r in rows] == [6.0, -0.25]
    # By hand: ((3.001)**2 - 9) / 0.001 and (1/2.001 - 1/2) / 0.001.
    assert rows[0].estimate == pytest.approx(6.001)
    assert rows[1].estimate == pytest.approx((1 / 2.001 - 0.5) / 0.001)
    assert rows[0].error == pytest.approx(0.001)


def test_derivative_table_rejects_cases_that_are_not_pairs():
    with pytest.raises(ValueError, match=r"\(J, w\)"):
        derivatives.derivative_table([w**2], w)


def test_format_derivative_table_lists_one_line_per_row():
    rows = derivatives.derivative_table([(w**2, 3), (w**3, 2)], w)
    text = derivatives.format_derivative_table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + 2
    assert "2*w" in lines[2] and "6.001000" in lines[2]
    assert "3*w**2" in lines[3] and "12" in lines[3]


def test_plot_tangent_draws_curve_and_tangent_with_the_given_slope_on_given_axes():
    _, ax = plt.subplots()
    out = derivatives.plot_tangent(lambda v: v**2, 3, ax=ax, slope=6.0)
    assert out is ax
    curve, tangent, point = ax.get_lines()
    xs, ys = tangent.get_xdata(), tangent.get_ydata()
    assert np.allclose(ys, 9 + 6 * (xs - 3))
    assert np.allclose(curve.get_ydata(), curve.get_xdata() ** 2)
    assert list(point.get_xdata()) == [3.0]


def test_plot_tangent_estimates_the_slope_when_none_is_given():
    ax = derivatives.plot_tangent(lambda v: v**3, 2)
    tangent = ax.get_lines()[1]
    xs, ys = tangent.get_xdata(), tangent.get_ydata()
    assert (ys[-1] - ys[0]) / (xs[-1] - xs[0]) == pytest.approx(12, abs=1e-4)


def test_plot_epsilon_error_plots_one_point_per_epsilon_on_log_axes():
    _, ax = plt.subplots()
    eps = [1e-1, 1e-3, 1e-5]
    assert derivatives.plot_epsilon_error(lambda v: v**2, 3, 6, eps, ax=ax) is ax
    (line,) = ax.get_lines()
    assert np.allclose(line.get_xdata(), eps)
    # For J = w**2 the forward difference is 2w + eps, so the error is eps itself.
    assert np.allclose(line.get_ydata(), eps, rtol=1e-3)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_centred_derivative_is_exact_for_a_parabola():
    # ((w + e)**2 - (w - e)**2) / 2e = 2w by hand, whatever e.
    for epsilon in (0.5, 1e-2, 1e-4):
        assert derivatives.centred_derivative(lambda v: v**2, 3, epsilon) == pytest.approx(
            6, abs=1e-9
        )


def test_centred_derivative_error_shrinks_like_epsilon_squared():
    # J = w**3 at 2: by hand the centred error is exactly e**2, the forward error 6e + e**2.
    for epsilon in (1e-1, 1e-2, 1e-3):
        centred = derivatives.centred_derivative(lambda v: v**3, 2, epsilon) - 12
        forward = derivatives.numeric_derivative(lambda v: v**3, 2, epsilon) - 12
        assert centred == pytest.approx(epsilon**2, rel=1e-3)
        assert forward == pytest.approx(6 * epsilon + epsilon**2, rel=1e-3)


@pytest.mark.parametrize("bad", [0, -1e-3, "small"])
def test_centred_derivative_rejects_a_bad_epsilon(bad):
    with pytest.raises((ValueError, TypeError), match="epsilon"):
        derivatives.centred_derivative(lambda v: v, 1.0, bad)
