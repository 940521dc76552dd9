"""Unit tests for autograder.kernel.checks with in-memory facts (no kernel, no TensorFlow)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from autograder.kernel import checks, specs
from autograder.kernel.reference import load


@pytest.fixture(scope="module")
def reference():
    return load()


def _softmax_facts(reference, check, fn):
    """Build facts as probes would report them, from a plain NumPy function."""
    found = {}
    for case in reference["softmax"]["checks"][check]:
        z = np.asarray(case["z"], dtype=case["dtype"])
        with np.errstate(all="ignore"):
            values = np.asarray(fn(z), dtype=float).reshape(-1)
        found[case["id"]] = {
            "n": z.size,
            "dtype": case["dtype"],
            "error": None,
            "not_implemented": False,
            "type": "ndarray",
            "values": [v if np.isfinite(v) else "nan" for v in values.tolist()],
            "shape": [values.size],
            "problem": None,
        }
    return {"callable": True, "type": "function", "cases": found}


def _stable(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def _naive(z):
    e = np.exp(z)
    return e / e.sum()


SOFTMAX_CHECKS = specs.names("softmax")


@pytest.mark.parametrize("check", SOFTMAX_CHECKS)
def test_stable_softmax_passes_every_softmax_check(reference, check):
    result = specs.BY_NAME[check].judge(_softmax_facts(reference, check, _stable), reference)
    assert result.passed, result.message


def test_naive_softmax_loses_only_the_visible_and_the_hidden_large_logit_checks(reference):
    failed = [
        check
        for check in SOFTMAX_CHECKS
        if not specs.BY_NAME[check]
        .judge(_softmax_facts(reference, check, _naive), reference)
        .passed
    ]
    assert failed == ["softmax_large_logits", "softmax_large_inputs"]
    assert not specs.BY_NAME["softmax_large_logits"].hidden
    assert specs.BY_NAME["softmax_large_inputs"].hidden


def test_large_input_failure_explains_overflow_and_the_fix(reference):
    facts = _softmax_facts(reference, "softmax_large_inputs", _naive)
    message = checks.softmax_large_inputs(facts, reference).message
    assert "nan or inf" in message and "subtract max(z)" in message


def test_visible_large_logit_check_tells_a_naive_softmax_what_the_hidden_one_does(reference):
    def lesson(check):
        result = specs.BY_NAME[check].judge(_softmax_facts(reference, check, _naive), reference)
        assert not result.passed
        # "For a float64 input of length n with entries as large as ... in size" differs.
        return result.message.split(" in size ", 1)[1]

    assert lesson("softmax_large_logits") == lesson("softmax_large_inputs")
    assert "subtract max(z)" in lesson("softmax_large_logits")


def test_visible_large_logits_overflow_and_underflow_a_naive_softmax(reference):
    for case in reference["softmax"]["checks"]["softmax_large_logits"]:
        z = np.asarray(case["z"], dtype=case["dtype"])
        with np.errstate(all="ignore"):
            assert not np.all(np.isfinite(_naive(z))), case["id"]
        np.testing.assert_allclose(_stable(z), case["expected"], rtol=1e-12)


def test_unnormalised_softmax_is_told_it_does_not_sum_to_one(reference):
    facts = _softmax_facts(reference, "softmax_random_vectors", lambda z: np.exp(z - z.max()))
    result = checks.softmax_random_vectors(facts, reference)
    assert not result.passed
    assert "sum to" in result.message and "not 1" in result.message


def test_wrong_values_report_a_distance_but_never_the_expected_numbers(reference):
    # sums to 1 but is the wrong distribution: uniform
    facts = _softmax_facts(
        reference, "softmax_random_vectors", lambda z: np.full(z.shape, 1 / z.size)
    )
    result = checks.softmax_random_vectors(facts, reference)
    assert not result.passed
    assert "differs from softmax by up to" in result.message
    for case in reference["softmax"]["checks"]["softmax_random_vectors"]:
        for value in case["expected"]:
            assert f"{value:.3g}" not in result.message.split("by up to")[0]
            assert repr(value) not in result.message


def test_list_output_is_accepted_as_values(reference):
    facts = _softmax_facts(reference, "softmax_accepts_list_output", _stable)
    for entry in facts["cases"].values():
        entry["type"] = "list"
    assert checks.softmax_accepts_list_output(facts, reference).passed


def test_none_output_asks_for_a_return_statement(reference):
    facts = _softmax_facts(reference, "softmax_accepts_list_output", _stable)
    for entry in facts["cases"].values():
        entry.update(values=None, type="NoneType", problem="returned None", shape=None)
    message = checks.softmax_accepts_list_output(facts, reference).message
    assert "return a" in message


def test_wrong_length_output_names_both_lengths(reference):
    facts = _softmax_facts(reference, "softmax_accepts_list_output", _stable)
    for entry in facts["cases"].values():
        entry.update(values=[1.0], shape=[1])
    message = checks.softmax_accepts_list_output(facts, reference).message
    assert "returned 1 values" in message and "expected 3" in message


def test_not_implemented_points_to_exercise_1(reference):
    facts = _softmax_facts(reference, "softmax_dtypes", _stable)
    for entry in facts["cases"].values():
        entry.update(error="NotImplementedError: x", not_implemented=True)
    message = checks.softmax_dtypes(facts, reference).message
    assert "not implemented yet" in message and "Exercise 1" in message


def test_softmax_that_is_not_a_function_fails_clearly(reference):
    result = checks.softmax_original_cases({"callable": False, "type": "int"}, reference)
    assert not result.passed and "found a int" in result.message


# ----------------------------------------------------------------------------- model


def _layer(units, behaviour, reference, name=None):
    return {
        "kind": "Dense",
        "name": name,
        "units": units,
        "activation_name": behaviour,
        "activation_values": reference["model"]["activation_outputs"][behaviour],
        "activation_error": None,
    }


def _model_facts(reference, activations=("relu", "relu", "linear"), units=(25, 15, 10)):
    return {
        "type": "Sequential",
        "unanswered": False,
        "error": None,
        "layers": [_layer(u, a, reference) for u, a in zip(units, activations, strict=True)],
        "declared_input_features": 400,
        "built": True,
        "param_count": 10575,
        "param_count_error": None,
        "compiled": False,
        "loss": None,
    }


MODEL_CHECKS = specs.names("model")


@pytest.mark.parametrize("check", MODEL_CHECKS)
def test_reference_model_facts_pass_every_model_check(reference, check):
    result = specs.BY_NAME[check].judge(_model_facts(reference), reference)
    assert result.passed, result.message


@pytest.mark.parametrize("check", MODEL_CHECKS)
def test_unanswered_model_fails_every_check_pointing_to_exercise_2(reference, check):
    facts = {"type": "Unanswered", "unanswered": True, "error": None}
    result = specs.BY_NAME[check].judge(facts, reference)
    assert not result.passed and "Exercise 2" in result.message


def test_softmax_output_layer_fails_with_the_from_logits_lesson(reference):
    facts = _model_facts(reference, activations=("relu", "relu", "softmax"))
    result = checks.model_activations(facts, reference)
    assert not result.passed
    assert "from_logits=True" in result.message and "linear" in result.message


def test_softmax_output_layer_fails_the_visible_output_check_with_the_hidden_checks_message(
    reference,
):
    facts = _model_facts(reference, activations=("relu", "relu", "softmax"))
    failed = [
        check for check in MODEL_CHECKS if not specs.BY_NAME[check].judge(facts, reference).passed
    ]
    assert failed == ["model_output_linear", "model_activations"]
    assert not specs.BY_NAME["model_output_linear"].hidden
    visible = checks.model_output_linear(facts, reference)
    assert visible.message == checks.model_activations(facts, reference).message


def test_sigmoid_hidden_layers_pass_the_output_check_and_fail_only_the_activations(reference):
    facts = _model_facts(reference, activations=("sigmoid", "sigmoid", "linear"))
    failed = [
        check for check in MODEL_CHECKS if not specs.BY_NAME[check].judge(facts, reference).passed
    ]
    assert failed == ["model_activations"]


@pytest.mark.parametrize("behaviour", ["relu", "sigmoid", "tanh"])
def test_other_output_activations_are_named_and_told_to_be_linear(reference, behaviour):
    facts = _model_facts(reference, activations=("relu", "relu", behaviour))
    result = checks.model_output_linear(facts, reference)
    assert not result.passed
    assert f"acts as {behaviour}" in result.message and "activation='linear'" in result.message


def test_output_check_judges_the_last_dense_layer_whatever_the_layer_count(reference):
    facts = _model_facts(reference, activations=("relu", "linear"), units=(25, 10))
    assert checks.model_output_linear(facts, reference).passed
    facts["layers"] = [{"kind": "ReLU", "units": None}]
    result = checks.model_output_linear(facts, reference)
    assert not result.passed and "no Dense layers" in result.message


def test_sigmoid_hidden_layers_are_named_by_behaviour(reference):
    facts = _model_facts(reference, activations=("sigmoid", "sigmoid", "linear"))
    message = checks.model_activations(facts, reference).message
    assert "layer 1: expected relu, found sigmoid" in message
    assert "layer 2: expected relu, found sigmoid" in message


def test_unknown_activation_is_reported_with_its_name(reference):
    facts = _model_facts(reference)
    facts["layers"][0]["activation_values"] = [7.0] * 7
    facts["layers"][0]["activation_name"] = "my_act"
    assert "unknown (my_act)" in checks.model_activations(facts, reference).message


def test_one_output_unit_fails_units_but_not_the_layer_count(reference):
    facts = _model_facts(reference, units=(25, 15, 1))
    facts["param_count"] = 10025 + 390 + 16
    assert checks.model_three_dense_layers(facts, reference).passed
    message = checks.model_units(facts, reference).message
    assert "found 25, 15, 1" in message
    assert "10,431" in checks.model_parameter_count(facts, reference).message


def test_separate_activation_layers_do_not_count_as_three_dense_layers(reference):
    facts = _model_facts(reference)
    facts["layers"].insert(1, {"kind": "ReLU", "units": None})
    message = checks.model_three_dense_layers(facts, reference).message
    assert "found 4 layer(s): Dense(25), ReLU, Dense(15), Dense(10)" in message


def test_no_declared_input_passes_and_a_wrong_one_fails(reference):
    facts = _model_facts(reference)
    facts["declared_input_features"] = None
    assert checks.model_input_features(facts, reference).passed
    facts["declared_input_features"] = 784
    message = checks.model_input_features(facts, reference).message
    assert "found 784" in message and "Input(shape=(400,))" in message


@pytest.mark.parametrize(
    ("loss", "passed"),
    [
        ({"kind": "object", "name": "sparse_categorical_crossentropy", "from_logits": True}, True),
        (
            {"kind": "object", "name": "sparse_categorical_crossentropy", "from_logits": False},
            False,
        ),
        ({"kind": "string", "name": "sparse_categorical_crossentropy", "from_logits": None}, False),
    ],
)
def test_loss_must_take_logits_only_when_the_cell_compiles(reference, loss, passed):
    facts = _model_facts(reference)
    assert checks.model_loss_from_logits(facts, reference).passed  # not compiled
    facts = copy.deepcopy(facts)
    facts.update(compiled=True, loss=loss)
    result = checks.model_loss_from_logits(facts, reference)
    assert result.passed is passed
    if not passed:
        assert "from_logits=True" in result.message


def test_messages_keep_the_student_facing_name_my_softmax_lowercase(reference):
    facts = _softmax_facts(reference, "softmax_dtypes", _stable)
    for entry in facts["cases"].values():
        entry.update(error="NotImplementedError: x", not_implemented=True)
    assert checks.softmax_dtypes(facts, reference).message.startswith("my_softmax is")
