"""The Adam lab executes and shows Adam beating gradient descent, with numbers."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from lab_utils import optimizers

from conftest import REPO_ROOT, count_png_outputs, notebook_text

LAB = "labs/C2_W2_Adam.ipynb"


@pytest.mark.slow
def test_adam_lab_matches_keras_adam_to_float32_rounding(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    assert "Keras epsilon: 1e-07" in text
    gap = float(re.search(r"max \|w_keras - w_numpy\| over 10 steps: (\S+)", text).group(1))
    assert gap < 1e-6


@pytest.mark.slow
def test_adam_lab_reaches_the_target_cost_in_fewer_iterations_than_gd(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    gd = int(re.search(r"GD, lr=0\.019\s+(\d+)\n", text).group(1))
    adam = int(re.search(r"Adam, lr=0\.3\s+(\d+)\n", text).group(1))
    assert adam < gd / 2
    assert re.search(r"GD, lr=0\.021: cost after 20 steps = \S+ \(diverging\)", text)


def _lr_table(text: str) -> dict[float, tuple[str, str, int]]:
    rows = re.findall(r"^\s*([\d.]+)\s+(\S+)\s+(\S+)\s+(\d+)\s*$", text, re.M)
    return {float(lr): (gd, adam, int(bound)) for lr, gd, adam, bound in rows}


@pytest.mark.slow
def test_adam_lab_shows_adam_robust_to_the_learning_rate_where_gd_diverges(executed_notebook):
    rows = _lr_table(notebook_text(executed_notebook(LAB)))
    for lr in (0.1, 0.3, 1.0, 3.0):  # "in under 250 iterations from 0.1 to 3, a factor of 30"
        gd, adam, _ = rows[lr]
        assert gd == "diverges"
        assert int(adam) < 250
    # "every learning rate in the table from 0.019 to 3, a factor of about 160"
    reached = [lr for lr, (_, adam, _) in rows.items() if adam.isdigit()]
    assert min(reached) == 0.019 and max(reached) == 3.0 and round(3.0 / 0.019) == 158
    assert all(rows[lr][1].isdigit() for lr in rows if 0.019 <= lr <= 3.0)


@pytest.mark.slow
def test_adam_lab_shows_gd_faster_than_adam_at_small_learning_rates(executed_notebook):
    rows = _lr_table(notebook_text(executed_notebook(LAB)))
    for lr in (0.005, 0.019):
        gd, adam, bound = rows[lr]
        assert adam == ">3000" or int(adam) > int(gd)
        assert bound == round(10 / lr)
        assert adam == ">3000" or int(adam) >= bound  # the lower bound holds
    assert rows[0.005][1] == ">3000" and rows[0.005][2] == 2000  # the answer to question 3


@pytest.mark.slow
def test_adam_lab_first_step_normalises_each_gradient(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    first = dict(
        (name, (float(g), float(step), float(lr)))
        for name, g, step, lr in re.findall(
            r"(w\d): \|gradient\| =\s+(\S+), step = (\S+), effective lr = (\S+)", text
        )
    )
    assert first["w0"] == (100.0, 0.3, 0.003)
    assert first["w1"] == (10.0, 0.3, 0.03)
    gd_flips = int(re.search(r"w0's gradient changed sign (\d+) times", text).group(1))
    assert gd_flips == 29  # at every step
    # "the effective learning rate for w1 keeps growing (from 0.0300 to 0.0855 in 30 steps)"
    w1 = re.search(
        r"w1: gradient changed sign\s+0 times, effective lr went from (\S+) to (\S+)\n", text
    )
    prose = "\n".join(c.source for c in executed_notebook(LAB).cells if c.cell_type == "markdown")
    assert float(w1.group(2)) > float(w1.group(1))
    assert f"(from {w1.group(1)} to {w1.group(2)} in 30 steps)" in prose


def _prose(nb) -> str:
    """Return the lab's Markdown with every run of whitespace as one space, so line breaks do not matter."""
    return " ".join(" ".join(c.source for c in nb.cells if c.cell_type == "markdown").split())


def _blob_runs(text: str) -> dict[str, tuple[float, int | None, float]]:
    rows = re.findall(
        r"^((?:SGD|Adam), lr=\S+)\s+final loss (\S+); first epoch with loss <= 0\.05: "
        r"(\d+|not reached); largest weight change (\S+)$",
        text,
        re.M,
    )
    return {
        name: (float(loss), None if epoch == "not reached" else int(epoch), float(moved))
        for name, loss, epoch, moved in rows
    }


@pytest.mark.slow
def test_adam_lab_compares_sgd_and_adam_at_their_defaults_and_at_suited_rates(executed_notebook):
    nb = executed_notebook(LAB)
    text, prose = notebook_text(nb), _prose(nb)
    defaults = re.search(r"Keras' default learning rates: SGD (\S+), Adam (\S+)\n", text)
    sgd_default, adam_default = (float(v) for v in defaults.groups())
    runs = _blob_runs(text)
    sgd, sgd_tuned = runs[f"SGD, lr={sgd_default:g}"], runs["SGD, lr=1.0"]
    adam, adam_tuned = runs[f"Adam, lr={adam_default:g}"], runs["Adam, lr=0.01"]
    # "Why 0.01 for Adam, ten times Keras' default?"
    assert pytest.approx(10 * adam_default) == 0.01 and "ten times Keras' default" in prose
    # At the defaults Adam does better; SGD never reaches the target.
    assert adam[0] < sgd[0] and sgd[1] is None and adam[1] is not None
    assert f"at epoch {adam[1]}," in prose
    assert f"(final loss: SGD {sgd[0]:.4f}, Adam {adam[0]:.4f})" in prose
    # Each at a rate suited to it, the two are close; SGD's is 100 times its default.
    assert abs(sgd_tuned[1] - adam_tuned[1]) <= 1 and max(sgd_tuned[1], adam_tuned[1]) <= 5
    assert (
        f"SGD at 1.0 reaches the target at epoch {sgd_tuned[1]}, Adam at 0.01 at epoch {adam_tuned[1]}"
        in prose
    )
    assert round(1.0 / sgd_default) == 100 and "100 times its default" in prose
    assert sgd_tuned[0] < sgd[0]  # a better learning rate helps gradient descent
    assert adam_tuned[0] < sgd[0] and adam_tuned[1] <= 10
    # 400 updates of at most about lr each bound how far Adam's weights can move.
    assert adam[2] < 400 * adam_default
    assert f"no weight changed by more than {adam[2]:.2f}" in prose
    assert f"the largest change is {adam_tuned[2]:.2f}" in prose
    for wrong in (
        "usual settings",
        "With the same learning rate, Adam",
        "at the same learning rate.",
    ):
        assert wrong not in prose
    assert count_png_outputs(nb) >= 4


@pytest.mark.slow
def test_adam_lab_describes_the_weave_its_adam_run_prints(executed_notebook):
    nb = executed_notebook(LAB)
    text, prose = notebook_text(nb), _prose(nb)
    start, low, _, flips = re.search(
        r"w0 went from (\S+) to (\S+) \(step (\d+)\) and changed sign (\d+) times in 60 steps", text
    ).groups()
    assert (float(start), float(low), int(flips)) == (1.0, -0.48, 6)
    assert f"it swings from 1.0 to ${low}$" in prose and f"with {flips} sign changes in" in prose
    peaks = [
        float(v) for v in re.search(r"the peaks of w0's swings: \[([^\]]+)\]", text)[1].split(",")
    ]
    assert len(peaks) == int(flips) and peaks[0] == float(low)
    assert all(a * b < 0 for a, b in itertools.pairwise(peaks))  # each swing crosses the valley
    ratios = [abs(b / a) for a, b in itertools.pairwise(peaks)]
    assert all(0.5 < r < 0.7 for r in ratios)  # "each reach about 0.6 times as far as the last"
    crossed, overshoot = re.search(
        r"w1 went from 10 through 0 at step (\d+) to (\S+) \(step", text
    ).groups()
    assert float(overshoot) < 0
    assert f"passes 0 at step {crossed} and overshoots to ${overshoot}$" in prose
    gd_flips = int(re.search(r"GD, lr=0\.019: w0 changed sign (\d+) times in 60 steps", text)[1])
    assert gd_flips == 60 and "a sign flip at every step (60 in 60 steps)" in prose
    rises = dict(re.findall(r"(Adam, lr=0\.3|GD, lr=0\.019): the cost went up on (\d+) of", text))
    assert int(rises["GD, lr=0.019"]) == 0 and int(rises["Adam, lr=0.3"]) > 0
    assert f"went **up** on {rises['Adam, lr=0.3']} of the first 100 iterations" in prose
    adam_iters = re.search(r"Adam, lr=0\.3\s+(\d+)\n", text)[1]
    gd_iters = re.search(r"GD, lr=0\.019\s+(\d+)\n", text)[1]
    assert f"in {adam_iters} iterations, against {gd_iters} for gradient descent" in prose
    for wrong in ("almost straight down the valley", "does not bounce"):
        assert wrong not in prose


@pytest.mark.slow
def test_adam_lab_try_its_come_before_what_they_ask_you_not_to_look_at(executed_notebook):
    nb = executed_notebook(LAB)
    text = notebook_text(nb)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    try_lr = next(i for i in code if "lr_try = " in nb.cells[i].source)
    table = next(i for i in code if "for lr in [" in nb.cells[i].source)
    assert try_lr < table
    assert re.search(r"Adam with lr = 0.01: \d+ iterations\nNot yet", text)  # the try-it check
    assert "beta1 = 0.9: the cost went up on" in text and "Not yet: less memory" in text


def test_adam_lab_draws_every_run_in_its_optimizers_colour():
    """Does every figure colour its runs through optimizers' one palette, never by hand?"""
    nb = json.loads((REPO_ROOT / LAB).read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "plot_loss_curve" not in code  # colours runs by the default cycle, not by optimizer
    assert re.findall(r"color=([^,)\n]+)", code) == ['optimizers.OPTIMIZER_COLORS["GD"]']
    runs = re.findall(r'"((?:GD|SGD|Adam), lr=[\d.]+)"', code)
    assert {optimizers.optimizer_of(run) for run in runs} == {"GD", "SGD", "Adam"}
