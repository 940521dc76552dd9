"""Report facts about a student's objects, inside the student's kernel.

Every function here only *describes* what the student's code does, as JSON-able dicts;
none of them reads the reference data or decides pass/fail (that is :mod:`autograder.kernel.checks`).
Non-finite floats are written as the strings ``"nan"``, ``"inf"`` and ``"-inf"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, SupportsFloat

import numpy as np

from autograder.kernel import cases as _cases
from autograder.kernel import facts as _facts

_MAX_ERROR_CHARS = 300

#: A Keras model from the student's notebook, or anything else they assigned: duck-typed
#: behind ``getattr`` and ``try``, as Keras itself ships no type hints.
StudentModel = Any


def error_text(err: BaseException) -> str:
    """Return ``"Name: message"`` for ``err``, cut to a length fit for feedback."""
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def json_float(value: SupportsFloat) -> float | str:
    """Return ``value`` as a float, or as "nan"/"inf"/"-inf" so it survives strict JSON."""
    number = float(value)
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return number


def _dtype_name(result: object) -> str | None:
    dtype = getattr(result, "dtype", None)
    if dtype is None:
        return None
    return str(getattr(dtype, "name", dtype))


def _output_facts(result: object) -> _facts.OutputFacts:
    """Describe one value returned by the student's function."""
    kind, dtype = type(result).__name__, _dtype_name(result)
    if result is None:
        return _facts.OutputFacts(
            type=kind, dtype=dtype, values=None, shape=None, problem="returned None"
        )
    try:
        array = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError) as err:
        return _facts.OutputFacts(
            type=kind, dtype=dtype, values=None, shape=None, problem=error_text(err)
        )
    return _facts.OutputFacts(
        type=kind,
        dtype=dtype,
        values=[json_float(v) for v in array.reshape(-1)],
        shape=list(array.shape),
        problem=None,
    )


def softmax_facts(fn: object, cases: list[_cases.ProbeCase]) -> _facts.SoftmaxFacts:
    """Call ``fn`` on each probe case and report what it returned or raised.

    Returns ``{"callable": bool, "cases": {case_id: {...}}}``; each case holds ``n``,
    ``dtype``, ``error`` (``"Name: message"`` or None), ``not_implemented`` and the
    output's ``type``, ``dtype``, ``shape``, ``values`` and ``problem``.
    """
    if not callable(fn):
        return _facts.SoftmaxFacts(callable=False, type=type(fn).__name__, cases={})
    found: dict[str, _facts.CaseFacts] = {}
    for case in cases:
        z = _cases.as_array(case)
        entry = _facts.CaseFacts(
            n=int(z.size), dtype=case["dtype"], error=None, not_implemented=False
        )
        try:
            result = fn(z.copy())
        except Exception as err:  # the student's error is a fact to report, not to raise
            entry["error"] = error_text(err)
            entry["not_implemented"] = isinstance(err, NotImplementedError)
        else:
            output = _output_facts(result)
            entry["type"], entry["dtype"] = output["type"], output["dtype"]
            entry["values"], entry["shape"] = output["values"], output["shape"]
            entry["problem"] = output["problem"]
        found[case["id"]] = entry
    return _facts.SoftmaxFacts(callable=True, type=type(fn).__name__, cases=found)


def is_unanswered(obj: object) -> bool:
    """Return True for the placeholder a released exercise cell leaves in place of an answer."""
    return bool(getattr(type(obj), "_nn_course_unanswered", False))


def _layer_facts(layer: object, probe: Sequence[float]) -> _facts.LayerFacts:
    import keras

    units = getattr(layer, "units", None)
    activation = getattr(layer, "activation", None)
    found = _facts.layer(
        type(layer).__name__,
        getattr(layer, "name", None),
        int(units) if isinstance(units, int | np.integer) else None,
        getattr(activation, "__name__", None) or type(activation).__name__,
    )
    if activation is None:
        return found
    try:
        z = keras.ops.convert_to_tensor(np.asarray([probe], dtype="float32"))
        a = keras.ops.convert_to_numpy(activation(z)).reshape(-1)
        found["activation_values"] = [json_float(v) for v in a]
    except Exception as err:  # an exotic activation is reported, not fatal
        found["activation_error"] = error_text(err)
    return found


def _declared_input_features(model: StudentModel) -> int | None:
    """Return the last dimension of the model's declared input, or None if not declared."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    last = inputs[0].shape[-1]
    return None if last is None else int(last)


def _declared_input_shape(model: StudentModel) -> tuple[int, ...]:
    """Return the shape of one input the model declares, or (400,) if it declares none."""
    try:
        shape = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return (_cases.INPUT_FEATURES,)
    if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
        return (_cases.INPUT_FEATURES,)
    return shape


def _loss_facts(model: object) -> _facts.LossFacts | None:
    if not getattr(model, "compiled", False):
        return None
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return _facts.loss("string", loss)
    if loss is None:
        return _facts.loss("none")
    get_config = getattr(loss, "get_config", None)
    if callable(get_config):
        try:
            config = get_config()
        except Exception:  # a custom Loss without a config still has a name
            config = {}
        from_logits = config.get("from_logits")
        return _facts.loss(
            "object",
            config.get("name") or type(loss).__name__,
            None if from_logits is None else bool(from_logits),
        )
    return _facts.loss("function", getattr(loss, "__name__", type(loss).__name__))


def model_outputs(model: StudentModel, seed: int) -> _facts.ModelOutputs:
    """Evaluate ``model`` on the probe inputs drawn from ``seed``; report outputs or the error.

    The inputs have the shape the model declares (400 features when it declares none; an
    unbuilt model is built by this call, as training would build it).
    """
    import keras

    try:
        x = _cases.model_probe_inputs(seed, _declared_input_shape(model))
        y = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float64)
        values = [[json_float(v) for v in row] for row in y.reshape(len(x), -1)]
    except Exception as err:  # a model that cannot be called is a fact, not a crash
        return _facts.ModelOutputs(values=None, error=error_text(err))
    return _facts.ModelOutputs(values=values, error=None)


def model_facts(
    model: StudentModel,
    *,
    input_features: int = _cases.INPUT_FEATURES,
    probe: Sequence[float] = _cases.ACTIVATION_PROBE,
) -> _facts.ModelFacts:
    """Report the layers, input, parameter count and loss of a Keras model.

    Works for a model declared with ``Input``, ``InputLayer``, ``input_shape=`` or with no
    input at all: an unbuilt model is cloned and the copy built with ``(None, input_features)``
    so the student's own model is left as it was.
    """
    type_name = type(model).__name__
    if is_unanswered(model) or model is None:
        return _facts.not_a_model(type_name, unanswered=is_unanswered(model))
    layers = getattr(model, "layers", None)
    if layers is None or not callable(getattr(model, "count_params", None)):
        return _facts.not_a_model(type_name, error=f"{type_name} is not a Keras model")
    built = bool(getattr(model, "built", False))
    param_count, param_count_error = None, None
    try:
        if built:
            param_count = int(model.count_params())
        else:
            import keras

            copy = keras.models.clone_model(model)
            copy.build((None, input_features))
            param_count = int(copy.count_params())
    except Exception as err:  # e.g. layers that cannot take this input
        param_count_error = error_text(err)
    return _facts.model(
        type_name,
        layers=[
            _layer_facts(layer, probe) for layer in layers if type(layer).__name__ != "InputLayer"
        ],
        declared_input_features=_declared_input_features(model),
        built=built,
        param_count=param_count,
        param_count_error=param_count_error,
        compiled=bool(getattr(model, "compiled", False)),
        loss=_loss_facts(model),
    )
