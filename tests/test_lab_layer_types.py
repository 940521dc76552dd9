"""The layer-types lab executes and compares a conv model with a dense one, with numbers."""

from __future__ import annotations

import re

import pytest

from conftest import notebook_text

LAB = "labs/C2_W2_Layer_Types.ipynb"


@pytest.mark.slow
def test_layer_types_lab_counts_parameters_by_hand_and_by_keras(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    counts = {
        name: (int(hand), int(keras))
        for name, hand, keras in re.findall(
            r"(conv|dense) model:\s+by hand\s+(\d+), Keras count_params\s+(\d+)", text
        )
    }
    assert counts["conv"][0] == counts["conv"][1]
    assert counts["dense"][0] == counts["dense"][1]
    assert counts["conv"][1] < counts["dense"][1]


@pytest.mark.slow
def test_layer_types_lab_conv_model_beats_dense_on_test_accuracy(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    rows = {
        name: (int(params), float(train), float(test))
        for name, params, train, test in re.findall(
            r"^(conv|dense)\s+(\d+)\s+([\d.]+)\s+([\d.]+)$", text, re.M
        )
    }
    assert rows["conv"][0] < rows["dense"][0]
    assert rows["conv"][2] > rows["dense"][2] + 0.1
    assert rows["conv"][2] > 0.9


@pytest.mark.slow
def test_layer_types_lab_shows_windows_and_a_filter_that_fires_on_the_irregular_beat(
    executed_notebook,
):
    text = notebook_text(executed_notebook(LAB))
    assert "units per filter: 19" in text
    assert "first windows [start, stop): [[0, 20], [10, 30], [20, 40], [30, 50]]" in text
    assert "sees 60 time steps of the signal" in text
    irregular, normal = re.search(
        r"mean peak output (\S+) on irregular signals, (\S+) on normal ones", text
    ).groups()
    assert float(irregular) > float(normal)


@pytest.mark.slow
def test_layer_types_lab_cites_its_numbers_from_the_run(executed_notebook):
    text = notebook_text(executed_notebook(LAB))
    ratio = float(re.search(r"the dense model has (\S+)x more parameters", text).group(1))
    assert round(ratio) == 8  # "8x fewer parameters"
    assert "receptive field of a second-layer unit: 17 time steps" in text
    assert "signals of 200: conv model 673 parameters, dense model 5431" in text
    assert "signals of 400: conv model 673 parameters, dense model 10431" in text
    assert "first conv layer output shape: (None, 192, 8)" in text
    assert "your answer: 0\nNot yet" in text  # the try-it check runs on its starting value


@pytest.mark.slow
def test_layer_types_lab_trains_logits_with_from_logits(executed_notebook):
    nb = executed_notebook(LAB)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert 'activation="sigmoid"' not in code
    assert "BinaryCrossentropy(from_logits=True)" in code
    assert "BinaryCrossentropy()" not in code
