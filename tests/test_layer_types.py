"""Tests for lab_utils.layer_types: heartbeat data, parameter counts, windows, plots."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks

from lab_utils import layer_types


def test_heartbeat_signals_have_the_stated_shapes_and_balanced_labels():
    X, y = layer_types.make_heartbeat_signals(n_samples=60, length=120, seed=2)
    assert X.shape == (60, 120) and X.dtype == np.float32
    assert y.shape == (60,) and set(np.unique(y)) == {0, 1}
    assert y.sum() == 30


def test_heartbeat_signals_are_reproducible_with_a_seed():
    a = layer_types.make_heartbeat_signals(n_samples=20, seed=4)
    b = layer_types.make_heartbeat_signals(n_samples=20, seed=4)
    c = layer_types.make_heartbeat_signals(n_samples=20, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_only_irregular_signals_contain_one_lower_broad_beat():
    # Without noise a normal beat peaks near 1.0 and an irregular one near 0.8.
    X, y = layer_types.make_heartbeat_signals(n_samples=40, noise=0.0, seed=3)
    for signal, label in zip(X, y, strict=True):
        peaks, props = find_peaks(signal, height=0.5)
        low = np.sum(props["peak_heights"] < 0.85)
        assert low == label, f"label {label} signal has {low} low peaks"
        assert len(peaks) >= 7  # a beat every 25 steps over 200 steps


def test_heartbeat_signals_reject_bad_settings():
    with pytest.raises(ValueError, match="n_samples"):
        layer_types.make_heartbeat_signals(n_samples=1)
    with pytest.raises(ValueError, match="period"):
        layer_types.make_heartbeat_signals(length=30, period=25)
    with pytest.raises(ValueError, match="noise"):
        layer_types.make_heartbeat_signals(noise=-1)


def test_param_counts_match_the_formulas_by_hand():
    assert layer_types.dense_param_count(200, 25) == 200 * 25 + 25
    assert layer_types.conv1d_param_count(9, 8, 8) == 9 * 8 * 8 + 8
    with pytest.raises(ValueError, match="units"):
        layer_types.dense_param_count(10, 0)


@pytest.mark.parametrize(
    ("kernel_size", "in_channels", "filters"), [(9, 1, 8), (5, 3, 4), (1, 2, 6)]
)
def test_conv1d_param_count_equals_keras_count_params(kernel_size, in_channels, filters):
    tf = pytest.importorskip("tensorflow")
    layer = tf.keras.layers.Conv1D(filters, kernel_size)
    layer.build((None, 50, in_channels))
    assert layer.count_params() == layer_types.conv1d_param_count(kernel_size, in_channels, filters)


@pytest.mark.parametrize(("n_inputs", "units"), [(200, 25), (25, 15), (15, 1)])
def test_dense_param_count_equals_keras_count_params(n_inputs, units):
    tf = pytest.importorskip("tensorflow")
    layer = tf.keras.layers.Dense(units)
    layer.build((None, n_inputs))
    assert layer.count_params() == layer_types.dense_param_count(n_inputs, units)


@pytest.mark.parametrize(
    ("length", "kernel_size", "strides"), [(200, 9, 1), (100, 20, 10), (50, 7, 3)]
)
def test_conv1d_output_length_equals_keras_output_shape(length, kernel_size, strides):
    tf = pytest.importorskip("tensorflow")
    layer = tf.keras.layers.Conv1D(2, kernel_size, strides=strides)
    out = layer(np.zeros((1, length, 1), dtype=np.float32))
    assert out.shape[1] == layer_types.conv1d_output_length(length, kernel_size, strides)


def test_multiply_add_formulas_match_counts_by_hand():
    assert layer_types.dense_multiply_adds(200, 25) == 200 * 25
    assert layer_types.conv1d_multiply_adds(200, 9, 1, 8) == 192 * 8 * 9 * 1
    assert layer_types.conv1d_multiply_adds(100, 20, 3, 4, strides=10) == 9 * 4 * 20 * 3
    with pytest.raises(ValueError, match="filters"):
        layer_types.conv1d_multiply_adds(200, 9, 1, 0)


def _products_summed(layer, tf) -> int:
    """Count the products a layer sums, by running it with every weight 1 on an input of ones.

    Each output then equals how many input-times-weight products went into it, so the outputs
    add up to the layer's multiply-adds, whatever the layer's formula.
    """
    config = {**layer.get_config(), "activation": "linear", "use_bias": False}
    ones_layer = type(layer).from_config(config)
    ones = np.ones((1, *layer.input.shape[1:]), dtype=np.float32)
    ones_layer.build(ones.shape)
    ones_layer.set_weights([np.ones_like(w) for w in ones_layer.get_weights()])
    return round(float(tf.reduce_sum(ones_layer(ones))))


def _lab_models(tf):
    conv = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(200, 1)),
            tf.keras.layers.Conv1D(8, kernel_size=9, activation="relu"),
            tf.keras.layers.Conv1D(8, kernel_size=9, activation="relu"),
            tf.keras.layers.GlobalMaxPooling1D(),
            tf.keras.layers.Dense(1),
        ]
    )
    dense = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(200,)),
            tf.keras.layers.Dense(25, activation="relu"),
            tf.keras.layers.Dense(15, activation="relu"),
            tf.keras.layers.Dense(1),
        ]
    )
    strided = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(50, 3)),
            tf.keras.layers.Conv1D(4, kernel_size=5, strides=2),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(2),
        ]
    )
    return conv, dense, strided


def test_multiply_adds_from_layer_shapes_equal_products_counted_by_running_each_layer():
    tf = pytest.importorskip("tensorflow")
    for model in _lab_models(tf):
        counted = sum(
            _products_summed(layer, tf) for layer in model.layers if hasattr(layer, "kernel")
        )
        assert layer_types.multiply_adds(model) == counted
    conv, dense, _ = _lab_models(tf)
    assert layer_types.multiply_adds(conv) == 119_816  # the Layer_Types lab's conv model
    assert layer_types.multiply_adds(dense) == 5_390


def test_multiply_adds_rejects_what_it_cannot_count():
    tf = pytest.importorskip("tensorflow")
    with pytest.raises(TypeError, match="Keras model"):
        layer_types.multiply_adds(np.zeros(3))
    transpose = tf.keras.Sequential(
        [tf.keras.Input(shape=(10, 1)), tf.keras.layers.Conv1DTranspose(2, kernel_size=3)]
    )
    with pytest.raises(ValueError, match="Dense and ConvND"):
        layer_types.multiply_adds(transpose)


def test_conv1d_output_length_rejects_a_kernel_longer_than_the_signal():
    with pytest.raises(ValueError, match="longer than the signal"):
        layer_types.conv1d_output_length(10, 11)


def test_unit_windows_start_every_stride_and_span_the_kernel():
    # The lecture's layer: 100 inputs, windows of 20 every 10 -> 9 units.
    windows = layer_types.unit_windows(100, 20, 10)
    assert windows.shape == (9, 2)
    assert windows[0].tolist() == [0, 20]
    assert windows[1].tolist() == [10, 30]
    assert windows[-1].tolist() == [80, 100]


def test_receptive_field_grows_with_stacked_layers():
    assert layer_types.receptive_field([9]) == 9
    assert layer_types.receptive_field([9, 9]) == 17
    # Second layer sees 5 first-layer units that start 10 apart: 4 * 10 + 20 inputs.
    assert layer_types.receptive_field([20, 5], [10, 1]) == 60
    with pytest.raises(ValueError, match="one stride per kernel"):
        layer_types.receptive_field([3, 3], [1])


def test_receptive_field_matches_which_inputs_reach_a_keras_unit():
    tf = pytest.importorskip("tensorflow")
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(40, 1)),
            tf.keras.layers.Conv1D(1, 4, strides=2, kernel_initializer="ones"),
            tf.keras.layers.Conv1D(1, 3, kernel_initializer="ones"),
        ]
    )
    x = tf.Variable(np.ones((1, 40, 1), dtype=np.float32))
    with tf.GradientTape() as tape:
        first_unit = model(x)[0, 0, 0]
    seen = np.flatnonzero(tape.gradient(first_unit, x).numpy()[0, :, 0])
    assert len(seen) == layer_types.receptive_field([4, 3], [2, 1])


def test_plot_signals_draws_the_requested_signals_of_each_class():
    X, y = layer_types.make_heartbeat_signals(n_samples=10, seed=1)
    ax = layer_types.plot_signals(X, y, num_each=3)
    assert len(ax.get_lines()) == 6
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["y = 0 (normal)", "y = 1 (irregular beat)"]
    with pytest.raises(ValueError, match="label 1"):
        layer_types.plot_signals(X[y == 0], y[y == 0])


def test_plot_unit_windows_shades_each_units_window():
    x = np.zeros(100)
    ax = layer_types.plot_unit_windows(x, 20, units=[0, 3], strides=10)
    spans = [p.get_x() for p in ax.patches]
    widths = [p.get_width() for p in ax.patches]
    assert spans == pytest.approx([-0.5, 29.5])
    assert widths == pytest.approx([20, 20])
    with pytest.raises(ValueError, match="units 0-8"):
        layer_types.plot_unit_windows(x, 20, units=[9], strides=10)


def test_plot_unit_activation_aligns_outputs_with_window_centres():
    x = np.zeros(30)
    activation = np.arange(26, dtype=float)  # kernel 5 -> 26 units, strongest is the last
    fig = layer_types.plot_unit_activation(x, activation, 5)
    top, bottom = fig.axes
    line = bottom.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), activation)
    np.testing.assert_allclose(line.get_xdata(), np.arange(26) + 2.0)
    assert top.get_title() == "strongest unit: 25 (window 25-29)"
    with pytest.raises(ValueError, match="26 units"):
        layer_types.plot_unit_activation(x, np.zeros(10), 5)
