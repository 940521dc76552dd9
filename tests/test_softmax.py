"""Softmax, cross-entropy and the softmax sliders widget (lab_utils.softmax)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab_utils import softmax


def test_softmax_matches_formula_for_small_z():
    z = [1.0, 2.0, 3.0, 4.0]
    e = [math.exp(v) for v in z]
    expected = [v / sum(e) for v in e]
    np.testing.assert_allclose(softmax.softmax(z), expected, rtol=1e-12)


def test_softmax_sums_to_one_and_is_positive():
    z = np.random.default_rng(1).normal(size=7) * 5
    a = softmax.softmax(z)
    assert math.isclose(a.sum(), 1.0, rel_tol=1e-12)
    assert np.all(a > 0)


def test_softmax_is_unchanged_by_adding_a_constant():
    z = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(softmax.softmax(z + 100.0), softmax.softmax(z), rtol=1e-12)


def test_softmax_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    z = np.array([[-3.0, 0.2, 4.1, 1.0], [10.0, 10.0, -2.0, 0.0]])
    expected = tf.nn.softmax(tf.constant(z, dtype=tf.float64)).numpy()
    np.testing.assert_allclose(softmax.softmax(z), expected, rtol=1e-12)


def test_softmax_stays_finite_for_large_z():
    a = softmax.softmax([1000.0, 1001.0, 1002.0])
    e = np.exp([-2.0, -1.0, 0.0])
    np.testing.assert_allclose(a, e / e.sum(), rtol=1e-12)


def test_naive_softmax_matches_formula_for_small_z():
    z = np.array([0.0, math.log(3.0)])
    np.testing.assert_allclose(softmax.naive_softmax(z), [0.25, 0.75], rtol=1e-12)


def test_naive_softmax_gives_nan_on_large_z():
    with pytest.warns(RuntimeWarning):
        a = softmax.naive_softmax([1000.0, 1001.0, 1002.0])
    assert np.all(np.isnan(a))


def test_softmax_rejects_scalar_and_empty_input():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        softmax.softmax(3.0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        softmax.softmax([])


def test_log_softmax_is_finite_where_log_of_softmax_is_not():
    z = np.array([0.0, 800.0])
    # By hand: log a_0 = 0 - 800 - log(1 + e^-800) = -800 (to double precision).
    np.testing.assert_allclose(softmax.log_softmax(z), [-800.0, 0.0])
    with np.errstate(divide="ignore"):
        assert np.isneginf(np.log(softmax.softmax(z))[0])


def test_cross_entropy_loss_is_minus_log_of_true_class_probability():
    a = np.array([0.1, 0.7, 0.2])
    assert math.isclose(softmax.cross_entropy_loss(a, 1), -math.log(0.7))
    assert math.isclose(softmax.cross_entropy_loss(a, 0), -math.log(0.1))


def test_cross_entropy_loss_rejects_out_of_range_label():
    with pytest.raises(ValueError, match=r"0\.\.2"):
        softmax.cross_entropy_loss([0.2, 0.3, 0.5], 3)


def test_cross_entropy_cost_is_the_average_loss():
    A = np.array([[0.5, 0.5], [0.9, 0.1], [0.25, 0.75]])
    y = np.array([0, 0, 1])
    expected = -(math.log(0.5) + math.log(0.9) + math.log(0.75)) / 3
    assert math.isclose(softmax.cross_entropy_cost(A, y), expected)


def test_cross_entropy_cost_from_logits_matches_keras():
    tf = pytest.importorskip("tensorflow")
    logits = np.array([[2.0, -1.0, 0.5, 0.0], [-3.0, 4.0, 1.0, 0.2], [0.0, 0.0, 0.0, 0.0]])
    y = np.array([2, 1, 3])
    expected = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        y, tf.constant(logits, dtype=tf.float64)
    )
    # Keras losses compute in float32, hence the tolerance.
    assert math.isclose(
        softmax.cross_entropy_cost(logits, y, from_logits=True), float(expected), rel_tol=1e-6
    )


def test_cross_entropy_cost_for_two_classes_equals_logistic_loss():
    # With z = (0, t), a_1 = sigmoid(t): the softmax loss is the logistic loss.
    t, y = 1.3, 1
    f = 1 / (1 + math.exp(-t))
    logistic = -y * math.log(f) - (1 - y) * math.log(1 - f)
    assert math.isclose(
        softmax.cross_entropy_cost([[0.0, t]], [y], from_logits=True), logistic, rel_tol=1e-12
    )


def test_cross_entropy_cost_rejects_label_count_mismatch():
    with pytest.raises(ValueError, match="labels for 2 examples"):
        softmax.cross_entropy_cost([[0.5, 0.5], [0.5, 0.5]], [0])


def test_plot_cross_entropy_draws_minus_log():
    line = softmax.plot_cross_entropy().get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), -np.log(line.get_xdata()))


def test_plot_blobs_draws_one_scatter_per_class_with_its_points():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    y = np.array([0, 2, 2, 1])
    ax = softmax.plot_blobs(X, y)
    sizes = sorted(len(c.get_offsets()) for c in ax.collections)
    assert sizes == [1, 1, 2]


def test_plot_blobs_rejects_points_that_are_not_2d():
    with pytest.raises(ValueError, match=r"\(m, 2\)"):
        softmax.plot_blobs(np.zeros((3, 3)), [0, 1, 2])


def _heights(bars):
    return np.array([bar.get_height() for bar in bars])


def test_softmax_widget_bars_show_z_and_its_softmax():
    w = softmax.softmax_widget()
    assert set(w.sliders) == {"z0", "z1", "z2", "z3"}
    z = w.z()
    e = np.exp(z)
    np.testing.assert_allclose(_heights(w.z_bars), z)
    np.testing.assert_allclose(_heights(w.a_bars), e / e.sum(), rtol=1e-12)


def test_softmax_widget_updates_bars_and_labels_when_slider_changes():
    w = softmax.softmax_widget()
    before = _heights(w.a_bars)
    w.sliders["z0"].value = 4.5
    after = _heights(w.a_bars)
    assert not np.allclose(before, after)
    z = np.array([4.5, 2.0, 3.0, 4.0])
    expected = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(after, expected, rtol=1e-12)
    assert w.z_texts[0].get_text() == "4.5"
    assert w.a_texts[0].get_text() == f"{expected[0]:.3f}"
    assert "sum = 1.000" in w.ax_a.get_title()


def test_softmax_widget_uses_the_given_softmax_fn():
    calls = []

    def my_softmax(z):
        calls.append(z.copy())
        return np.exp(z) / np.sum(np.exp(z))

    w = softmax.softmax_widget(my_softmax)
    w.sliders["z3"].value = -1.0
    np.testing.assert_allclose(calls[-1], [1.0, 2.0, 3.0, -1.0])


def test_softmax_widget_shows_message_when_softmax_fn_raises():
    def broken(z):
        raise ZeroDivisionError("oops")

    w = softmax.softmax_widget(broken)
    w.sliders["z1"].value = 0.0  # must not raise
    assert "ZeroDivisionError" in w.message.value
    assert "oops" in w.message.value
    assert "failed" in w.ax_a.get_title()
    np.testing.assert_array_equal(_heights(w.a_bars), 0.0)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (lambda z: z[:3], "3 values for 4 inputs"),
        (lambda z: None, "returned None"),
        (lambda z: np.full(4, np.nan), "nan"),
        (lambda z: "abc", "not an array of numbers"),
    ],
)
def test_softmax_widget_explains_unusable_results(fn, words):
    w = softmax.softmax_widget(fn)
    assert words in w.message.value
    assert "failed" in w.ax_a.get_title()


def test_softmax_widget_warns_when_result_does_not_sum_to_one():
    w = softmax.softmax_widget(np.exp)
    assert "sums to" in w.message.value
    np.testing.assert_allclose(_heights(w.a_bars), np.exp([1.0, 2.0, 3.0, 4.0]))


def test_softmax_widget_message_clears_after_fix():
    w = softmax.softmax_widget(lambda z: z[:2])
    assert w.message.value
    w.softmax_fn = softmax.softmax
    w.update()
    assert w.message.value == ""
