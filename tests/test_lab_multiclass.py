"""The Multi-class lab executes, trains an accurate model and explains its layers."""

import re

import pytest

from conftest import notebook_text

NOTEBOOK = "labs/C2_W2_Multiclass_TF.ipynb"


@pytest.fixture(scope="module")
def text(executed_notebook):
    return notebook_text(executed_notebook(NOTEBOOK))


@pytest.mark.slow
def test_multiclass_lab_trains_a_model_that_fits_the_four_clusters(text):
    assert "points per class: [25 25 25 25]" in text
    match = re.search(r"loss = ([\d.]+), accuracy on the 100 points = ([\d.]+)", text)
    assert match, "the lab must print the final loss and accuracy"
    loss, accuracy = map(float, match.groups())
    assert accuracy == 1.0  # the summary: "classify all 100 training points correctly"
    assert loss < 0.5


@pytest.mark.slow
def test_multiclass_lab_checks_its_hand_computed_layers_against_keras(text):
    assert "matches Keras' layer L1: True" in text
    assert "matches model.predict: True" in text
    assert len(re.findall(r"unit \d: off \(a = 0\) for most points of classes", text)) == 2
    wins = [int(p) for p in re.findall(r"has the largest logit for (\d+)% of its points", text)]
    assert len(wins) == 4 and min(wins) > 80


@pytest.mark.slow
def test_multiclass_lab_shows_relu_outputs_are_unbounded(text):
    tops = re.search(r"largest a_j on the plotted area: \[\s*(\S+)\s+(\S+)\]", text).groups()
    assert max(float(t) for t in tops) > 15  # "passes 15", far above a sigmoid's 1


@pytest.mark.slow
def test_multiclass_lab_one_relu_unit_cannot_separate_four_classes(text):
    accuracy = float(re.search(r"1 unit\(s\) in layer 1: accuracy (\S+)", text).group(1))
    assert accuracy < 0.9
    off = re.search(
        r"classes predicted for the points where every layer-1 unit is off: \[(.*)\]", text
    )
    assert len(off.group(1).split()) == 1  # the whole "off" half-plane gets one class


@pytest.mark.slow
def test_multiclass_lab_prints_no_library_warnings(executed_notebook):
    nb = executed_notebook(NOTEBOOK)
    stderr = "".join(
        out.get("text", "")
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("name") == "stderr"
    )
    assert "WARNING:tensorflow" not in stderr
    assert "E0000" not in stderr


def _train_lab_model(X, y, *, graph_rewrites: bool):
    """Train the lab's model (cells 5 and 6, fewer epochs) with Grappler on or off."""
    import numpy as np
    import tensorflow as tf

    before = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": not graph_rewrites})
    try:
        tf.keras.utils.set_random_seed(1234)
        model = tf.keras.Sequential(
            [
                tf.keras.Input(shape=(2,)),
                tf.keras.layers.Dense(2, activation="relu"),
                tf.keras.layers.Dense(4, activation="linear"),
            ]
        )
        model.compile(
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
            steps_per_execution=4,
        )
        history = model.fit(X, y, epochs=20, verbose=0)
        scores = [model.predict(X, verbose=0), model.predict(X, batch_size=len(X), verbose=0)]
    finally:
        tf.config.optimizer.set_experimental_options(
            {"disable_meta_optimizer": before.get("disable_meta_optimizer", False)}
        )
    return history.history["loss"], model.get_weights(), [np.asarray(s) for s in scores]


@pytest.mark.slow
def test_graph_rewrites_off_and_one_batch_predict_change_speed_not_the_numbers():
    """Do the labs' speed settings (Grappler off, predict in one batch) keep every number?"""
    import numpy as np

    from lab_utils import data

    X, y = data.make_blobs(100)
    losses_on, weights_on, (predict_on, _) = _train_lab_model(X, y, graph_rewrites=True)
    losses_off, weights_off, (predict_32, predict_all) = _train_lab_model(
        X, y, graph_rewrites=False
    )
    assert losses_on == losses_off
    assert all(np.array_equal(a, b) for a, b in zip(weights_on, weights_off, strict=True))
    assert np.array_equal(predict_on, predict_32)
    assert np.array_equal(predict_32, predict_all)


def _sources(kind: str) -> list[str]:
    import json

    from conftest import REPO_ROOT

    nb = json.loads((REPO_ROOT / NOTEBOOK).read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def test_multiclass_lab_try_it_trains_more_epochs_on_the_same_data():
    try_it = next(s for s in _sources("code") if s.startswith("units_try ="))
    assert "np.tile" not in try_it
    assert "small_model.fit(X, y, epochs=num_epochs, verbose=0)" in try_it


def test_multiclass_lab_no_longer_claims_k_units_give_2_to_the_k_patterns():
    prose = "\n".join(_sources("markdown"))
    assert "$k$ units give $2^k$ patterns" not in prose
    assert "1 + k + k(k-1)/2" in prose and re.search(r"at\s+most 7 patterns, not 8", prose)


@pytest.mark.slow
def test_multiclass_lab_counts_no_more_patterns_than_k_lines_make_regions(text):
    trained = re.search(
        r"trained layer, 2 units: (\d+) on/off patterns on the grid; at most (\d+) regions", text
    )
    assert trained and int(trained.group(1)) == int(trained.group(2)) == 4  # "all four occur"
    random3 = re.search(
        r"random layer, 3 units: (\d+) on/off patterns on the grid; at most (\d+) regions; "
        r"2\*\*3 = 8",
        text,
    )
    found, bound = int(random3.group(1)), int(random3.group(2))
    assert bound == 1 + 3 + 3 * 2 // 2 and found <= bound < 8
    never = re.search(r"never on the grid \(1 = on, units 0, 1, 2\): \[(.*)\]", text).group(1)
    assert len(re.findall(r"\(\d, \d, \d\)", never)) == 8 - found
    try_it = re.search(r"on/off patterns on the grid: (\d+); at most (\d+) regions", text)
    assert int(try_it.group(1)) <= int(try_it.group(2)) == 2  # units_try = 1: 1 + 1
