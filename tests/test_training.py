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
