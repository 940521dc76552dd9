"""Judge facts reported by :mod:`autograder.kernel.probes` against the reference data.

Every check is a pure function ``check(facts, reference) -> CheckResult``, one per concern.
Failure messages say what was expected, what was found and how to fix it, and never
print hidden reference values (only distances, sums and sizes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from autograder.kernel.facts import CaseFacts, JsonFloat, LayerFacts, ModelFacts, SoftmaxFacts
from autograder.kernel.reference import ModelReference, Reference, ReferenceCase, Tolerance


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """Hold one check's verdict and the message a student reads."""

    name: str
    passed: bool
    message: str


def _ok(name: str, message: str) -> CheckResult:
    return CheckResult(name, True, message)


def _fail(name: str, message: str) -> CheckResult:
    return CheckResult(name, False, message)


def _floats(values: Iterable[JsonFloat]) -> npt.NDArray[np.float64]:
    return np.array([float(v) for v in values], dtype=np.float64)


# ----------------------------------------------------------------------------- softmax

_NOT_CALLABLE = (
    "Expected my_softmax to be a function; found a {type}. "
    "Fix: define it with `def my_softmax(z):` and run that cell."
)
_NOT_IMPLEMENTED = (
    "my_softmax is not implemented yet (it raised NotImplementedError). "
    "Fix: replace the `raise NotImplementedError` line in Exercise 1 with your code and run it."
)


def _describe_input(case: ReferenceCase, n: int) -> str:
    return f"a {case['dtype']} input of length {n}"


def _judge_softmax_case(
    case: ReferenceCase, found: CaseFacts | None, tolerance: Tolerance
) -> str | None:
    """Return a problem description for one probe case, or None if it is right."""
    n = len(case["z"])
    what = _describe_input(case, n)
    if found is None:
        return f"no output was recorded for {what}; run the cell again"
    if found.get("not_implemented"):
        return _NOT_IMPLEMENTED
    if found.get("error"):
        return (
            f"for {what} my_softmax raised {found['error']}. "
            "Fix: make it work on any 1-D NumPy array z (use np.exp, np.max, np.sum)."
        )
    reported = found.get("values")
    if reported is None:
        problem = found.get("problem") or "returned something that is not numbers"
        hint = "add `return a` at the end" if problem == "returned None" else "return an array"
        return (
            f"for {what} my_softmax {problem} (type {found.get('type')}); expected "
            f"{n} probabilities. Fix: {hint}."
        )
    values = _floats(reported)
    if values.size != n:
        return (
            f"for {what} my_softmax returned {values.size} values (shape {found.get('shape')}); "
            f"expected {n}, one probability per entry of z. Fix: compute e^(z_j) for every j "
            "and divide each by their sum."
        )
    if not np.all(np.isfinite(values)):
        largest = max(abs(v) for v in case["z"])
        return (
            f"for {what} with entries as large as {largest:g} in size my_softmax returned nan "
            "or inf: np.exp overflows (or every term underflows to 0). Fix: subtract max(z) "
            "from z before taking np.exp; the result is unchanged but stays finite."
        )
    total = values.sum()
    if not np.isclose(total, 1.0, atol=1e-6):
        return (
            f"for {what} the outputs sum to {total:.6g}, not 1. Fix: divide every e^(z_j) by "
            "the sum of all of them."
        )
    expected = _floats(case["expected"])
    if not np.allclose(values, expected, **tolerance):
        gap = float(np.max(np.abs(values - expected)))
        return (
            f"for {what} your output differs from softmax by up to {gap:.3g} although it "
            "sums to 1. Fix: a_j = e^(z_j - max z) / sum_k e^(z_k - max z) for every j."
        )
    return None


def _judge_softmax(
    name: str, facts: SoftmaxFacts, reference: Reference, success: str
) -> CheckResult:
    if not facts.get("callable", False):
        return _fail(name, _NOT_CALLABLE.format(type=facts.get("type")))
    softmax = reference["softmax"]
    tolerance = softmax["tolerance"]
    for case in softmax["checks"][name]:
        problem = _judge_softmax_case(case, facts["cases"].get(case["id"]), tolerance)
        if problem is not None:
            if not problem.startswith("my_softmax"):  # keep the Python name as written
                problem = problem[0].upper() + problem[1:]
            return _fail(name, problem)
    return _ok(name, success)


def softmax_original_cases(facts: SoftmaxFacts, reference: Reference) -> CheckResult:
    """Judge the two cases of the original lab: z = [1, 2, 3, 4] and ten equal entries."""
    return _judge_softmax(
        "softmax_original_cases", facts, reference, "my_softmax matches the lab's two examples."
    )


def softmax_random_vectors(facts: SoftmaxFacts, reference: Reference) -> CheckResult:
    """Judge random vectors of several lengths and signs."""
    return _judge_softmax(
        "softmax_random_vectors", facts, reference, "my_softmax is right on random vectors."
    )


def softmax_large_inputs(facts: SoftmaxFacts, reference: Reference) -> CheckResult:
    """Judge inputs large enough to overflow a softmax that skips subtracting max(z)."""
    return _judge_softmax(
        "softmax_large_inputs", facts, reference, "my_softmax stays finite on large inputs."
    )


def softmax_large_logits(facts: SoftmaxFacts, reference: Reference) -> CheckResult:
    """Judge the public large logits: the visible twin of :func:`softmax_large_inputs`."""
    return _judge_softmax(
        "softmax_large_logits", facts, reference, "my_softmax stays finite on large logits."
    )


def softmax_length_one(facts: SoftmaxFacts, reference: Reference) -> CheckResult:
    """Judge a vector with a single entry (its softmax is [1.0])."""
    return _judge_softmax(
        "softmax_length_one", facts, reference, "my_softmax handles a single entry."
    )


def softmax_dtypes(facts: SoftmaxFacts, reference: Reference) -> CheckResult:
    """Judge float32 and float64 inputs."""
    return _judge_softmax(
        "softmax_dtypes", facts, reference, "my_softmax works for float32 and float64 inputs."
    )


def softmax_accepts_list_output(facts: SoftmaxFacts, reference: Reference) -> CheckResult:
    """Judge that the output holds one probability per entry (list, tuple, array, tensor)."""
    return _judge_softmax(
        "softmax_accepts_list_output",
        facts,
        reference,
        "my_softmax returns one probability per entry of z.",
    )


# ----------------------------------------------------------------------------- model

_UNANSWERED = (
    "`model` is not built yet. Fix: replace the `raise NotImplementedError` line in "
    'Exercise 2 with `model = Sequential([...], name="my_model")` and run that cell.'
)


def _model_problem(facts: ModelFacts) -> str | None:
    """Return why the facts describe no usable model, or None."""
    if facts.get("unanswered"):
        return _UNANSWERED
    if facts.get("type") == "NoneType":
        return "`model` is None. Fix: assign your Sequential model to `model` in Exercise 2."
    if facts.get("error"):
        return (
            f"`model` is not a Keras model ({facts['error']}). "
            "Fix: assign `model = Sequential([...])` in Exercise 2."
        )
    return None


def _layer_summary(layers: list[LayerFacts]) -> str:
    if not layers:
        return "no layers"
    parts: list[str] = []
    for layer in layers:
        units = f"({layer['units']})" if layer.get("units") is not None else ""
        parts.append(f"{layer['kind']}{units}")
    return ", ".join(parts)


def _dense(facts: ModelFacts) -> list[LayerFacts]:
    return [layer for layer in facts.get("layers", []) if layer["kind"] == "Dense"]


def _model_guard(name: str, facts: ModelFacts) -> CheckResult | None:
    problem = _model_problem(facts)
    return None if problem is None else _fail(name, problem)


def model_three_dense_layers(facts: ModelFacts, reference: Reference) -> CheckResult:
    """Judge that the model is exactly three Dense layers (the input is not a layer)."""
    name = "model_three_dense_layers"
    if (guard := _model_guard(name, facts)) is not None:
        return guard
    expected = len(reference["model"]["dense_units"])
    layers = facts["layers"]
    if len(layers) == expected and len(_dense(facts)) == expected:
        return _ok(name, "The model has three Dense layers.")
    return _fail(
        name,
        f"Expected exactly {expected} Dense layers after the input; found {len(layers)} "
        f"layer(s): {_layer_summary(layers)}. Fix: list tf.keras.Input(shape=(400,)) and then "
        "three Dense layers in Sequential([...]), with the activation as an argument of each "
        "Dense layer rather than a separate layer.",
    )


def model_units(facts: ModelFacts, reference: Reference) -> CheckResult:
    """Judge the units of the Dense layers: 25, 15, 10."""
    name = "model_units"
    if (guard := _model_guard(name, facts)) is not None:
        return guard
    expected = reference["model"]["dense_units"]
    found = [layer["units"] for layer in _dense(facts)]
    if found == expected:
        return _ok(name, "The Dense layers have 25, 15 and 10 units.")
    return _fail(
        name,
        f"Expected Dense layers with {', '.join(map(str, expected))} units; found "
        f"{', '.join(map(str, found)) or 'no Dense layers'}. Fix: Dense(25, ...), Dense(15, ...), "
        "Dense(10, ...): the last layer needs one unit per digit class.",
    )


def model_input_features(facts: ModelFacts, reference: Reference) -> CheckResult:
    """Judge the declared input: 400 features, or none declared (taken from the data)."""
    name = "model_input_features"
    if (guard := _model_guard(name, facts)) is not None:
        return guard
    expected = reference["model"]["input_features"]
    found = facts.get("declared_input_features")
    if found is None:
        return _ok(name, f"No input declared; the model takes its {expected} features from X.")
    if found == expected:
        return _ok(name, f"The model takes {expected} input features.")
    return _fail(
        name,
        f"Expected an input of {expected} features (one per pixel of a 20x20 image); found "
        f"{found}. Fix: start the model with tf.keras.Input(shape=({expected},)).",
    )


def _behaviour(values: list[JsonFloat], outputs: dict[str, list[float]], atol: float) -> str | None:
    """Return the name of the known activation whose outputs match ``values``."""
    found = _floats(values)
    for known, expected in outputs.items():
        if np.allclose(found, _floats(expected), atol=atol):
            return known
    return None


_SOFTMAX_OUTPUT_LESSON = (
    "The output layer uses softmax. Keep the output layer linear and let the loss apply "
    "softmax: SparseCategoricalCrossentropy(from_logits=True) computes softmax and the loss "
    "together in one numerically stable step, on every Keras backend. "
    "Fix: Dense(10, activation='linear') and use tf.nn.softmax on the logits when you want "
    "probabilities."
)


def _activations_found(dense: list[LayerFacts], model_ref: ModelReference) -> list[str]:
    """Return what each Dense layer's activation does on the probe: a known name, or why not."""
    found: list[str] = []
    for layer in dense:
        values = layer.get("activation_values")
        if values is None:
            found.append(f"unusable ({layer.get('activation_error') or layer['activation_name']})")
            continue
        known = _behaviour(values, model_ref["activation_outputs"], model_ref["activation_atol"])
        found.append(known or f"unknown ({layer['activation_name']})")
    return found


def model_output_linear(facts: ModelFacts, reference: Reference) -> CheckResult:
    """Judge the output layer alone: it must be linear (the loss applies softmax)."""
    name = "model_output_linear"
    if (guard := _model_guard(name, facts)) is not None:
        return guard
    model_ref = reference["model"]
    dense = _dense(facts)
    if not dense:
        return _fail(
            name,
            "Expected the model to end in a Dense output layer; found no Dense layers. Fix the "
            "layers first (see the layer check).",
        )
    (found,) = _activations_found(dense[-1:], model_ref)
    expected = model_ref["activations"][-1]
    if found == expected:
        return _ok(name, "The output layer is linear: it outputs logits.")
    if found == "softmax":
        return _fail(name, _SOFTMAX_OUTPUT_LESSON)
    return _fail(
        name,
        f"Expected a {expected} output layer that outputs logits; its activation acts as "
        f"{found}. Fix: activation='linear' (or none) on the last Dense layer; the loss "
        "applies softmax.",
    )


def model_activations(facts: ModelFacts, reference: Reference) -> CheckResult:
    """Judge each Dense layer's activation by what it does: relu, relu, linear."""
    name = "model_activations"
    if (guard := _model_guard(name, facts)) is not None:
        return guard
    model_ref = reference["model"]
    expected = model_ref["activations"]
    dense = _dense(facts)
    if len(dense) != len(expected):
        return _fail(
            name,
            f"Expected {len(expected)} Dense layers with activations {', '.join(expected)}; found "
            f"{len(dense)} Dense layer(s). Fix the layers first (see the layer check).",
        )
    found = _activations_found(dense, model_ref)
    if found == expected:
        return _ok(name, "The activations are relu, relu, linear.")
    if found[-1] == "softmax":
        return _fail(name, _SOFTMAX_OUTPUT_LESSON)
    wrong = [
        f"layer {i + 1}: expected {want}, found {got}"
        for i, (want, got) in enumerate(zip(expected, found, strict=True))
        if want != got
    ]
    return _fail(
        name,
        f"Expected activations {', '.join(expected)}; {'; '.join(wrong)}. Fix: "
        "activation='relu' on the two hidden layers and activation='linear' (or none) on the "
        "output layer.",
    )


def model_parameter_count(facts: ModelFacts, reference: Reference) -> CheckResult:
    """Judge the number of trainable parameters: 10,575."""
    name = "model_parameter_count"
    if (guard := _model_guard(name, facts)) is not None:
        return guard
    expected = reference["model"]["param_count"]
    found = facts.get("param_count")
    if found == expected:
        return _ok(name, f"The model has {expected:,} parameters.")
    if found is None:
        return _fail(
            name,
            f"Could not count the parameters ({facts.get('param_count_error')}). Fix: build the "
            "model from an Input of 400 features and three Dense layers.",
        )
    return _fail(
        name,
        f"Expected {expected:,} parameters (400*25+25 + 25*15+15 + 15*10+10); found {found:,}. "
        "Fix: check the input size and the units of each layer.",
    )


def model_loss_from_logits(facts: ModelFacts, reference: Reference) -> CheckResult:
    """Judge the loss if the student's cell compiled the model: it must take logits."""
    name = "model_loss_from_logits"
    if (guard := _model_guard(name, facts)) is not None:
        return guard
    loss = facts.get("loss")
    if not facts.get("compiled") or loss is None:
        return _ok(name, "Not compiled in your cell; the notebook compiles it below.")
    if loss.get("from_logits") is True:
        return _ok(name, "The loss takes logits (from_logits=True).")
    return _fail(
        name,
        f"Your cell compiles the model with loss {loss.get('name')!r} which expects "
        "probabilities, but the output layer is linear and produces logits. Fix: "
        "loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True).",
    )
