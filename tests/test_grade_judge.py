"""Unit tests for autograder.grading.judge: outside verdicts from the facts a kernel reported."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest

from autograder.grading import judge
from autograder.grading.make_reference import reference_softmax
from autograder.kernel import FACTS_MIME, cases, model_probe, probes, specs
from autograder.kernel.protocol import Verdict
from autograder.kernel.reference import load

HIDDEN = '''"""Is my_softmax right on large inputs?"""
### BEGIN HIDDEN TESTS
# SECRET-CANARY
np.allclose(1, 1)
kernel.check_softmax_large_inputs(my_softmax)
autograder.kernel.check_softmax_length_one(my_softmax)
kernel.check_softmax_dtypes(lambda z: z)
### END HIDDEN TESTS
'''


def _report(check: str, facts) -> dict:
    return {"output_type": "display_data", "data": {FACTS_MIME: {"check": check, "facts": facts}}}


def _softmax_facts(fn, check: str, extra=None) -> dict:
    return probes.softmax_facts(fn, list(specs.BY_NAME[check].cases) + (extra or {}).get(check, []))


def _naive(z):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / e.sum()


def test_expected_checks_finds_kernel_calls_with_plain_name_arguments_only():
    calls = judge.expected_checks(HIDDEN)
    assert calls == [
        judge.CheckCall("softmax_large_inputs", ("my_softmax",)),
        judge.CheckCall("softmax_length_one", ("my_softmax",)),
    ]
    assert judge.expected_checks("def broken(:") == []


def test_probe_source_runs_only_reports_and_hides_the_hidden_test_text():
    extra = judge.extra_softmax_cases(b"key", "sha")
    source = judge.probe_source(judge.expected_checks(HIDDEN), extra)
    ast.parse(source)
    assert "SECRET-CANARY" not in source and "allclose" not in source
    assert "graded_0" in source  # the per-submission probes travel with the report


def test_extra_cases_are_fixed_per_submission_and_unknown_without_the_key():
    first = judge.extra_softmax_cases(b"key", "sha-1")
    assert first == judge.extra_softmax_cases(b"key", "sha-1")
    assert first != judge.extra_softmax_cases(b"other key", "sha-1")
    assert first != judge.extra_softmax_cases(b"key", "sha-2")
    for case in first["softmax_large_inputs"]:
        # np.exp overflows float64 beyond about 709.78: a naive softmax cannot pass these.
        assert np.max(np.abs(case["z"])) > 709.8


def test_correct_facts_pass_and_naive_facts_fail_the_extra_large_probes():
    extra = judge.extra_softmax_cases(b"key", "sha")
    reference = judge.reference_with(load(), extra)
    calls = [judge.CheckCall("softmax_large_inputs", ("my_softmax",))]
    good = [
        _report(
            "softmax_large_inputs", _softmax_facts(reference_softmax, "softmax_large_inputs", extra)
        )
    ]
    verdict = judge.judge_cell("t", calls, good, reference, ran=True)
    assert (verdict.passed, verdict.reason) == (True, Verdict.PASSED)
    # Precomputed answers for the public cases only: the per-submission cases still fail.
    forged = _softmax_facts(_naive, "softmax_large_inputs", extra)
    public = _softmax_facts(reference_softmax, "softmax_large_inputs")
    forged["cases"].update(public["cases"])
    verdict = judge.judge_cell(
        "t", calls, [_report("softmax_large_inputs", forged)], reference, ran=True
    )
    assert (verdict.passed, verdict.reason) == (False, Verdict.FAILED)


@pytest.mark.parametrize(
    ("outputs", "reason"),
    [
        ([], Verdict.MISSING_REPORT),
        ("twice", Verdict.DUPLICATE_REPORT),
        (
            [{"output_type": "display_data", "data": {FACTS_MIME: "not a dict"}}],
            Verdict.MALFORMED_REPORT,
        ),
        (
            [_report("softmax_length_one", {"callable": True, "cases": "x"})],
            Verdict.UNEXPECTED_REPORT,
        ),
        (
            [_report("softmax_large_inputs", {"callable": True, "cases": "x"})],
            Verdict.MALFORMED_REPORT,
        ),
    ],
)
def test_missing_duplicated_malformed_or_unexpected_reports_earn_nothing(outputs, reason):
    reference = load()
    calls = [judge.CheckCall("softmax_large_inputs", ("my_softmax",))]
    if outputs == "twice":
        report = _report(
            "softmax_large_inputs", _softmax_facts(reference_softmax, "softmax_large_inputs")
        )
        outputs = [report, report]
    verdict = judge.judge_cell("t", calls, outputs, reference, ran=True)
    assert (verdict.passed, verdict.reason) == (False, reason)


def test_a_test_that_did_not_run_earns_nothing_even_with_a_good_report():
    reference = load()
    calls = [judge.CheckCall("softmax_length_one", ("my_softmax",))]
    good = [_report("softmax_length_one", _softmax_facts(reference_softmax, "softmax_length_one"))]
    verdict = judge.judge_cell("t", calls, good, reference, ran=False)
    assert (verdict.passed, verdict.reason) == (False, Verdict.NOT_RUN)


def test_verdict_outputs_are_clean_when_passed_and_an_error_when_failed():
    passed = judge.CellVerdict("t", True, Verdict.PASSED, ["fine"]).outputs()
    assert [o["output_type"] for o in passed] == ["stream"] and passed[0]["name"] == "stdout"
    failed = judge.CellVerdict("t", False, Verdict.FAILED, ["wrong"]).outputs()
    assert failed[0]["output_type"] == "error" and "wrong" in failed[0]["evalue"]


def _dense_model(*activations: str, units=(25, 15, 10)):
    import keras

    layers = [keras.layers.Dense(n, activation=a) for n, a in zip(units, activations, strict=True)]
    return keras.Sequential([keras.Input(shape=(400,)), *layers])


def _model_calls() -> list[judge.CheckCall]:
    return [judge.CheckCall(name, ("model",)) for name in judge.MODEL_CHECKS]


def _relu_forgery(facts: dict) -> dict:
    """Return ``facts`` rewritten, as a student who read probes.py could, to claim relu layers."""
    forged = json.loads(json.dumps(facts))
    for layer in forged["layers"][:2]:
        layer["activation_name"] = "relu"
        layer["activation_values"] = [max(0.0, v) for v in cases.ACTIVATION_PROBE]
    return forged


SEED = 20261130


def _kernel_report(model) -> dict:
    """Return what a model check reports in the kernel under the grading command."""
    outputs = probes.model_outputs(model, SEED)
    return {**probes.model_facts(model), "outputs": outputs, "model_file": {"saved": True}}


def _file_facts(model, tmp_path) -> dict:
    """Return the grader's description of ``model`` saved to a file."""
    path = tmp_path / "model.keras"
    model.save(path)
    return model_probe.facts_from_file(path, SEED)


def test_model_checks_pass_when_the_report_matches_the_saved_model(tmp_path):
    model = _dense_model("relu", "relu", "linear")
    saved = _file_facts(model, tmp_path)
    outputs = [_report(call.name, _kernel_report(model)) for call in _model_calls()]
    verdict = judge.judge_cell("t", _model_calls(), outputs, load(), ran=True, model_file=saved)
    assert (verdict.passed, verdict.reason) == (True, Verdict.PASSED)


def test_a_saved_model_that_computes_other_outputs_earns_nothing(tmp_path):
    """Is a right model saved in place of the one the notebook built caught by its outputs?"""
    saved = _file_facts(_dense_model("relu", "relu", "linear"), tmp_path)
    twin = _dense_model("relu", "relu", "linear")  # same layers, other weights
    report = _report("model_units", _kernel_report(twin))
    calls = [judge.CheckCall("model_units", ("model",))]
    verdict = judge.judge_cell("t", calls, [report], load(), ran=True, model_file=saved)
    assert (verdict.passed, verdict.reason) == (False, Verdict.CONTRADICTORY_REPORT)
    without_outputs = _report("model_units", {**_kernel_report(twin), "outputs": None})
    verdict = judge.judge_cell("t", calls, [without_outputs], load(), ran=True, model_file=saved)
    assert (verdict.passed, verdict.reason) == (False, Verdict.CONTRADICTORY_REPORT)


def test_a_saved_model_without_usable_weights_earns_nothing(tmp_path):
    model = _dense_model("relu", "relu", "linear")
    saved = {**_file_facts(model, tmp_path), "outputs": {"values": None, "error": "no weights"}}
    calls = [judge.CheckCall("model_units", ("model",))]
    report = _report("model_units", _kernel_report(model))
    verdict = judge.judge_cell("t", calls, [report], load(), ran=True, model_file=saved)
    assert (verdict.passed, verdict.reason) == (False, Verdict.MODEL_UNVERIFIED)


def test_outputs_agree_within_reduced_precision_rounding_only():
    computed = [[0.5, -2.0, 10.0], [0.0, 1.0, 3.0]]
    assert judge.outputs_agree([[0.5000001, -2.000001, 10.00001], [0.0, 1.0, 3.0]], computed)
    assert judge.outputs_agree([[0.501, -2.002, 10.01], [0.0, 1.001, 3.0]], computed)  # TF32
    assert not judge.outputs_agree([[0.7, -2.0, 10.0], [0.0, 1.0, 3.0]], computed)
    assert not judge.outputs_agree([[0.5, -2.0, 10.0]], computed)
    assert not judge.outputs_agree([["nan", -2.0, 10.0], [0.0, 1.0, 3.0]], computed)
    assert not judge.outputs_agree(None, computed)


def test_forged_model_facts_that_contradict_the_saved_model_earn_nothing(tmp_path):
    model = _dense_model("sigmoid", "sigmoid", "linear")
    saved = _file_facts(model, tmp_path)
    forged = _relu_forgery(_kernel_report(model))
    # The forgery alone would pass: only the saved model's facts give it away.
    calls = [judge.CheckCall("model_activations", ("model",))]
    alone = judge.judge_cell(
        "t", calls, [_report("model_activations", forged)], load(), ran=True, model_file=forged
    )
    assert alone.passed
    verdict = judge.judge_cell(
        "t", calls, [_report("model_activations", forged)], load(), ran=True, model_file=saved
    )
    assert (verdict.passed, verdict.reason) == (False, Verdict.CONTRADICTORY_REPORT)


def test_perfect_model_facts_without_a_saved_model_earn_nothing():
    facts = probes.model_facts(_dense_model("relu", "relu", "linear"))
    calls = [judge.CheckCall("model_units", ("model",))]
    verdict = judge.judge_cell("t", calls, [_report("model_units", facts)], load(), ran=True)
    assert (verdict.passed, verdict.reason) == (False, Verdict.MODEL_UNVERIFIED)
    unloadable = {"load_error": "TypeError: could not be deserialized"}
    verdict = judge.judge_cell(
        "t", calls, [_report("model_units", facts)], load(), ran=True, model_file=unloadable
    )
    assert (verdict.passed, verdict.reason) == (False, Verdict.MODEL_UNVERIFIED)
    assert "could not load" in verdict.messages[0]


def test_a_missing_model_without_a_file_still_gets_the_usual_message():
    facts = probes.model_facts(None)
    calls = [judge.CheckCall("model_units", ("model",))]
    verdict = judge.judge_cell("t", calls, [_report("model_units", facts)], load(), ran=True)
    assert (verdict.passed, verdict.reason) == (False, Verdict.FAILED)
    assert "`model` is None" in verdict.messages[0]


def test_trusting_the_kernel_judges_model_checks_from_its_report_alone():
    facts = probes.model_facts(_dense_model("relu", "relu", "linear"))
    calls = [judge.CheckCall("model_units", ("model",))]
    outputs = [_report("model_units", facts)]
    verdict = judge.judge_cell("t", calls, outputs, load(), ran=True, verify_model_file=False)
    assert (verdict.passed, verdict.reason) == (True, Verdict.PASSED)
    wrong = probes.model_facts(_dense_model("relu", "relu", "linear", units=(25, 15, 1)))
    verdict = judge.judge_cell(
        "t", calls, [_report("model_units", wrong)], load(), ran=True, verify_model_file=False
    )
    assert (verdict.passed, verdict.reason) == (False, Verdict.FAILED)


def test_facts_agree_up_to_float_rounding_but_not_beyond():
    facts = {"layers": [{"units": 25, "activation_values": [0.46211713552474976, 0.0]}]}
    last_digit = {"layers": [{"units": 25, "activation_values": [0.46211716532707214, 0.0]}]}
    assert judge.facts_agree(facts, last_digit)
    other_value = {"layers": [{"units": 25, "activation_values": [0.4622, 0.0]}]}
    assert not judge.facts_agree(facts, other_value)
    assert not judge.facts_agree(facts, {"layers": [{"units": 25.0, "activation_values": [0.46]}]})
    assert not judge.facts_agree(facts, {**facts, "built": True})
    assert not judge.facts_agree({"from_logits": True}, {"from_logits": 1})
