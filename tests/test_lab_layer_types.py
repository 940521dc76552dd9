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
    assert (
        "signals of 200: conv model 673 parameters, dense model 5431 (Keras count_params)" in text
    )
    assert (
        "signals of 400: conv model 673 parameters, dense model 10431 (Keras count_params)" in text
    )
    assert "first conv layer output shape: (None, 192, 8)" in text
    assert "your answer: 0\nNot yet" in text  # the try-it check runs on its starting value


@pytest.mark.slow
def test_layer_types_lab_trains_logits_with_from_logits(executed_notebook):
    nb = executed_notebook(LAB)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert 'activation="sigmoid"' not in code
    assert "BinaryCrossentropy(from_logits=True)" in code
    assert "BinaryCrossentropy()" not in code


def _multiply_adds(text: str) -> dict[str, tuple[int, int]]:
    return {
        name: (int(formula), int(shapes))
        for name, formula, shapes in re.findall(
            r"(conv|dense) model:\s+by formula\s+(\d+), from Keras layer shapes\s+(\d+)", text
        )
    }


@pytest.mark.slow
def test_layer_types_lab_counts_multiply_adds_by_formula_and_from_layer_shapes(executed_notebook):
    nb = executed_notebook(LAB)
    text = notebook_text(nb)
    prose = " ".join(" ".join(c.source for c in nb.cells if c.cell_type == "markdown").split())
    counts = _multiply_adds(text)
    assert counts["conv"][0] == counts["conv"][1] and counts["dense"][0] == counts["dense"][1]
    conv, dense = counts["conv"][1], counts["dense"][1]
    assert f"**{conv:,}**" in prose and f"**{dense:,}**" in prose  # the hand counts in the prose
    more, fewer = re.search(
        r"the conv model does (\S+)x more multiply-adds per example with (\S+)x fewer parameters",
        text,
    ).groups()
    assert float(more) == pytest.approx(conv / dense, abs=0.05) and round(float(more)) == 22
    assert round(float(fewer)) == 8
    assert "about 22 times more multiply-adds" in prose and "about 22x more multiply-adds" in prose
    assert "Sharing weights cuts parameters, not compute" in prose
    assert "faster training" not in prose


@pytest.mark.slow
def test_layer_types_lab_checks_question_1_by_building_the_models_for_400_steps(executed_notebook):
    nb = executed_notebook(LAB)
    text = notebook_text(nb)
    check = next(c for c in nb.cells if c.cell_type == "code" and "signals of {n}" in c.source)
    assert "make_conv_model(400)" in check.source and "make_dense_model(400)" in check.source
    assert "count_params()" in check.source
    assert "param_count(" not in check.source  # Keras counts, not the formulas again
    rows = {
        int(n): (int(conv), int(dense))
        for n, conv, dense in re.findall(
            r"signals of (\d+): .*?multiply-adds per example: conv (\d+), dense (\d+)", text
        )
    }
    assert rows[200] == (_multiply_adds(text)["conv"][1], _multiply_adds(text)["dense"][1])
    # "those of the conv model do grow with the length, to about twice as many"
    assert rows[400][0] / rows[200][0] == pytest.approx(2, rel=0.1)
