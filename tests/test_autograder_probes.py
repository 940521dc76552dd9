"""Unit tests for autograder.kernel.probes: facts from real functions and small Keras models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.kernel import cases, probes, unanswered

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

CASES = [
    {"id": "a", "z": [1.0, 2.0, 3.0], "dtype": "float64"},
    {"id": "b", "z": [0.5], "dtype": "float32"},
]


def test_softmax_facts_record_values_shape_and_type():
    facts = probes.softmax_facts(lambda z: list(z * 2), CASES)
    a = facts["cases"]["a"]
    assert a["values"] == [2.0, 4.0, 6.0]  # 2 * z, computed by hand
    assert a["shape"] == [3] and a["type"] == "list" and a["error"] is None
    assert facts["cases"]["b"]["n"] == 1


def test_softmax_facts_receive_arrays_of_the_case_dtype():
    seen = []
    probes.softmax_facts(lambda z: seen.append(z.dtype) or z, CASES)
    assert seen == [np.float64, np.float32]


def test_softmax_facts_report_errors_and_not_implemented():
    def broken(z):
        raise NotImplementedError("todo")

    entry = probes.softmax_facts(broken, CASES)["cases"]["a"]
    assert entry["error"] == "NotImplementedError: todo" and entry["not_implemented"]


def test_softmax_facts_encode_non_finite_values_as_strict_json():
    facts = probes.softmax_facts(lambda z: np.array([np.nan, np.inf, -np.inf]), CASES[:1])
    assert facts["cases"]["a"]["values"] == ["nan", "inf", "-inf"]
    json.loads(json.dumps(facts, allow_nan=False))


def test_softmax_facts_describe_none_and_non_numbers():
    assert probes.softmax_facts(lambda z: None, CASES)["cases"]["a"]["problem"] == "returned None"
    entry = probes.softmax_facts(lambda z: "abc", CASES)["cases"]["a"]
    assert entry["values"] is None and "ValueError" in entry["problem"]


def test_softmax_facts_accept_a_tensor_output():
    facts = probes.softmax_facts(lambda z: tf.constant(z) + 1, CASES[:1])
    assert facts["cases"]["a"]["values"] == [2.0, 3.0, 4.0]


def test_softmax_facts_of_a_non_callable():
    assert probes.softmax_facts(3, CASES) == {"callable": False, "type": "int", "cases": {}}


def _dense_stack(first, act=("relu", "relu", "linear"), units=(25, 15, 10)):
    layers = [] if first is None else [first]
    layers += [keras.layers.Dense(u, activation=a) for u, a in zip(units, act, strict=True)]
    return keras.Sequential(layers)


@pytest.mark.parametrize(
    "make_first",
    [
        lambda: keras.Input(shape=(400,)),
        lambda: keras.layers.InputLayer(shape=(400,)),
        lambda: None,
    ],
    ids=["Input", "InputLayer", "no_input"],
)
def test_model_facts_count_params_however_the_input_is_declared(make_first):
    model = _dense_stack(make_first())
    facts = probes.model_facts(model)
    assert [layer["units"] for layer in facts["layers"]] == [25, 15, 10]
    assert facts["param_count"] == 400 * 25 + 25 + 25 * 15 + 15 + 15 * 10 + 10
    json.dumps(facts, allow_nan=False)


def test_model_facts_leave_an_unbuilt_model_unbuilt():
    model = _dense_stack(None)
    facts = probes.model_facts(model)
    assert facts["declared_input_features"] is None and not model.built


def test_model_facts_report_a_declared_input_of_another_size():
    facts = probes.model_facts(_dense_stack(keras.Input(shape=(784,))))
    assert facts["declared_input_features"] == 784


@pytest.mark.parametrize(
    "relu", ["relu", keras.activations.relu, tf.nn.relu], ids=["string", "keras", "tf_nn"]
)
def test_model_facts_show_relu_by_what_it_does(relu):
    model = _dense_stack(keras.Input(shape=(400,)), act=(relu, relu, None))
    layers = probes.model_facts(model)["layers"]
    probe = np.array(cases.ACTIVATION_PROBE)
    assert layers[0]["activation_values"] == np.maximum(probe, 0).tolist()
    assert layers[2]["activation_values"] == probe.tolist()  # no activation = linear


def test_model_facts_report_the_loss_and_its_from_logits_setting():
    model = _dense_stack(keras.Input(shape=(400,)))
    assert probes.model_facts(model)["loss"] is None
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert probes.model_facts(model)["loss"]["from_logits"] is True
    model.compile(loss="sparse_categorical_crossentropy")
    loss = probes.model_facts(model)["loss"]
    assert loss == {
        "kind": "string",
        "name": "sparse_categorical_crossentropy",
        "from_logits": None,
    }


def test_model_facts_of_the_placeholder_and_of_something_else():
    assert probes.model_facts(unanswered("model", "Exercise 2"))["unanswered"] is True
    assert probes.model_facts([1, 2])["error"] == "list is not a Keras model"
