"""Derivatives two ways: by nudging the input (arithmetic) and with SymPy (symbolic).

Introduced in C2_W2_Derivatives.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable

import matplotlib.pyplot as plt
import numpy as np
import sympy

from lab_utils.style import Palette


def _check_epsilon(epsilon) -> float:
    try:
        epsilon = float(epsilon)
    except (TypeError, ValueError):
        raise TypeError(f"epsilon must be a number such as 1e-3, got {epsilon!r}") from None
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be a small positive number such as 1e-3, got {epsilon}")
    return epsilon


def _check_function(f) -> None:
    if not callable(f):
        raise TypeError(
            f"f must be a function of one number, e.g. lambda w: w**2; got {type(f).__name__}"
        )


def numeric_derivative(f: Callable[[float], float], w: float, epsilon: float = 1e-3) -> float:
    """Estimate dJ/dw at ``w`` by nudging ``w`` up by ``epsilon``: (f(w + eps) - f(w)) / eps.

    This is the forward difference the lab calls the "arithmetic" derivative.
    Introduced in C2_W2_Derivatives.
    """
    _check_function(f)
    epsilon = _check_epsilon(epsilon)
    w = float(w)
    return (f(w + epsilon) - f(w)) / epsilon


def centred_derivative(f: Callable[[float], float], w: float, epsilon: float = 1e-3) -> float:
    """Estimate dJ/dw at ``w`` by nudging both ways: (f(w + eps) - f(w - eps)) / (2 eps).

    The centred difference: its error shrinks like epsilon**2 (the forward difference's
    like epsilon), which makes it the usual choice for checking gradients.
    Introduced in C2_W2_Derivatives.
    """
    _check_function(f)
    epsilon = _check_epsilon(epsilon)
    w = float(w)
    return (f(w + epsilon) - f(w - epsilon)) / (2 * epsilon)


def symbolic_derivative(expr, symbol: sympy.Symbol, value: float):
    """Differentiate ``expr`` with respect to ``symbol`` and evaluate it at ``value``.

    ``expr`` is a SymPy expression (or a string SymPy can parse, e.g. ``"1/w**2"``).
    Returns ``(derivative_expression, derivative_value)`` with the value as a SymPy number,
    exact where possible (e.g. ``-1/32``).
    Introduced in C2_W2_Derivatives.
    """
    if not isinstance(symbol, sympy.Symbol):
        raise TypeError(
            f"symbol must be a SymPy symbol, e.g. w = sympy.symbols('w'); got {symbol!r}"
        )
    try:
        expr = sympy.sympify(expr, locals={symbol.name: symbol})
    except (sympy.SympifyError, TypeError) as err:
        raise ValueError(f"cannot read {expr!r} as a SymPy expression: {err}") from None
    derivative = sympy.diff(expr, symbol)
    return derivative, derivative.subs(symbol, sympy.nsimplify(value))


@dataclasses.dataclass(frozen=True)
class DerivativeRow:
    """Hold one line of a derivative comparison: J(w), the point, and both answers."""

    J: sympy.Expr
    w: float
    dJ_dw: sympy.Expr
    exact: float
    estimate: float
    epsilon: float

    @property
    def error(self) -> float:
        """Return how far the arithmetic estimate is from the exact value."""
        return self.estimate - self.exact


def derivative_table(
    cases: Iterable[tuple[object, float]], symbol: sympy.Symbol, epsilon: float = 1e-3
) -> list[DerivativeRow]:
    """Compare symbolic and arithmetic derivatives for each ``(J, w)`` in ``cases``.

    Introduced in C2_W2_Derivatives.
    """
    epsilon = _check_epsilon(epsilon)
    rows = []
    for case in cases:
        try:
            expr, w = case
        except (TypeError, ValueError):
            raise ValueError(
                f"each case must be a pair (J, w) such as (w**2, 3); got {case!r}"
            ) from None
        derivative, exact = symbolic_derivative(expr, symbol, w)
        J = sympy.sympify(expr, locals={symbol.name: symbol})
        f = sympy.lambdify(symbol, J, "math")
        rows.append(
            DerivativeRow(
                J=J,
                w=float(w),
                dJ_dw=derivative,
                exact=float(exact),
                estimate=numeric_derivative(f, w, epsilon),
                epsilon=epsilon,
            )
        )
    return rows


def format_derivative_table(rows: Iterable[DerivativeRow]) -> str:
    """Return the rows of :func:`derivative_table` as a plain-text table.

    Introduced in C2_W2_Derivatives.
    """
    header = f"{'J(w)':<10}{'w':>5}  {'dJ/dw':<10}{'exact':>10}{'arithmetic':>14}{'error':>11}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{sympy.sstr(r.J):<10}{r.w:>5g}  {sympy.sstr(r.dJ_dw):<10}"
            f"{r.exact:>10.6g}{r.estimate:>14.6f}{r.error:>11.2e}"
        )
    return "\n".join(lines)


def plot_tangent(
    f: Callable[[float], float],
    w: float,
    ax=None,
    *,
    slope: float | None = None,
    span: float = 2.0,
    label: str = "J(w)",
):
    """Draw J(w) around ``w`` and its tangent line at ``w``; return the Axes.

    ``slope`` defaults to a forward-difference estimate with a small epsilon (1e-6).
    Introduced in C2_W2_Derivatives.
    """
    _check_function(f)
    if not (span > 0):
        raise ValueError(f"span must be positive (half-width of the plotted range), got {span}")
    w = float(w)
    if slope is None:
        slope = numeric_derivative(f, w, 1e-6)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ws = np.linspace(w - span, w + span, 201)
    # Evaluate point by point so plain Python functions (math.*, 1/w) work too.
    Js = np.array([f(v) for v in ws], dtype=float)
    Jw = f(w)
    ax.plot(ws, Js, color=str(Palette.BLUE), label=label)
    ax.plot(
        ws,
        Jw + slope * (ws - w),
        color=str(Palette.ORANGE),
        linestyle="--",
        label=f"tangent, slope {slope:.4g}",
    )
    ax.plot([w], [Jw], "o", color=str(Palette.DARK_RED))
    ax.set_xlabel("w")
    ax.set_ylabel("J(w)")
    ax.legend()
    return ax


def plot_epsilon_error(
    f: Callable[[float], float],
    w: float,
    exact: float,
    epsilons: Iterable[float] | None = None,
    ax=None,
):
    """Plot |arithmetic estimate - exact derivative| against epsilon (log-log); return the Axes.

    Shows both effects: a large epsilon measures the slope of a chord, not the tangent,
    and a tiny one loses the change in J to floating-point rounding.
    Introduced in C2_W2_Derivatives.
    """
    _check_function(f)
    if epsilons is None:
        epsilons = np.logspace(-16, -1, 61)
    epsilons = np.asarray([_check_epsilon(e) for e in epsilons])
    errors = np.array([abs(numeric_derivative(f, w, e) - exact) for e in epsilons])
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    # An exact hit (error 0) has no place on a log axis, so leave it out.
    keep = errors > 0
    ax.loglog(epsilons[keep], errors[keep], "o-", color=str(Palette.BLUE))
    ax.set_xlabel("epsilon")
    ax.set_ylabel("|estimate - exact|")
    return ax
