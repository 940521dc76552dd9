"""Tests of lab_utils.training.plot_loss_curve."""

import numpy as np
import pytest

from lab_utils import training


class _History:
    def __init__(self, losses):
        self.history = {"loss": losses}


@pytest.mark.parametrize("kind", ["history", "dict", "list"])
def test_plot_loss_curve_plots_one_point_per_epoch(kind):
    losses = [2.0, 1.0, 0.5]
    arg = {"history": _History(losses), "dict": {"loss": losses}, "list": losses}[kind]
    ax = training.plot_loss_curve(arg)
    (line,) = ax.get_lines()
    assert np.array_equal(line.get_xdata(), [1, 2, 3])
    assert np.array_equal(line.get_ydata(), losses)


def test_plot_loss_curve_draws_on_a_given_axes_and_labels_runs():
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert training.plot_loss_curve([3, 2], ax=ax, label="GD") is ax
    training.plot_loss_curve([3, 1], ax=ax, label="Adam", log_scale=True)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GD", "Adam"]
    assert ax.get_yscale() == "log"


@pytest.mark.parametrize("bad", [{"accuracy": [1.0]}, [], "loss"])
def test_plot_loss_curve_rejects_input_without_losses(bad):
    with pytest.raises(ValueError):
        training.plot_loss_curve(bad)


@pytest.mark.slow
def test_steps_per_execution_changes_speed_not_the_numbers():
    """Does running many batches per call into TensorFlow give the same losses and weights?"""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype("int64")

    def train(steps):
        tf.keras.utils.set_random_seed(1)
        model = tf.keras.Sequential(
            [tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(5, "relu"), tf.keras.layers.Dense(2)]
        )
        model.compile(
            optimizer=tf.keras.optimizers.Adam(0.01),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            steps_per_execution=steps,
        )
        history = model.fit(X, y, epochs=3, batch_size=32, verbose=0)
        return history.history["loss"], model.get_weights()

    losses_1, weights_1 = train(1)
    losses_7, weights_7 = train(7)  # 200 / 32 = 7 batches: one epoch per call
    assert losses_1 == losses_7
    assert all(np.array_equal(a, b) for a, b in zip(weights_1, weights_7, strict=True))
