"""Report facts about a student's objects, inside the student's kernel.

Every function here only *describes* what the student's code does, as JSON-able dicts;
none of them reads the reference data or decides pass/fail (that is :mod:`autograder.kernel.checks`).
Non-finite floats are written as the strings ``"nan"``, ``"inf"`` and ``"-inf"``.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.kernel import cases as _cases

_MAX_ERROR_CHARS = 300


def error_text(err: BaseException) -> str:
    """Return ``"Name: message"`` for ``err``, cut to a length fit for feedback."""
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def json_float(value: float) -> float | str:
    """Return ``value`` as a float, or as "nan"/"inf"/"-inf" so it survives strict JSON."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _dtype_name(result) -> str | None:
    dtype = getattr(result, "dtype", None)
    if dtype is None:
        return None
    return str(getattr(dtype, "name", dtype))


def _output_facts(result) -> dict:
    """Describe one value returned by the student's function."""
    facts = {"type": type(result).__name__, "dtype": _dtype_name(result)}
    if result is None:
        return {**facts, "values": None, "shape": None, "problem": "returned None"}
    try:
        array = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError) as err:
        return {**facts, "values": None, "shape": None, "problem": error_text(err)}
    return {
        **facts,
        "values": [json_float(v) for v in array.reshape(-1)],
        "shape": list(array.shape),
        "problem": None,
    }


def softmax_facts(fn, cases: list[dict]) -> dict:
    """Call ``fn`` on each probe case and report what it returned or raised.

    Returns ``{"callable": bool, "cases": {case_id: {...}}}``; each case holds ``n``,
    ``dtype``, ``error`` (``"Name: message"`` or None), ``not_implemented`` and the
    output's ``type``, ``dtype``, ``shape``, ``values`` and ``problem``.
    """
    if not callable(fn):
        return {"callable": False, "type": type(fn).__name__, "cases": {}}
    found = {}
    for case in cases:
        z = _cases.as_array(case)
        entry = {"n": int(z.size), "dtype": case["dtype"], "error": None, "not_implemented": False}
        try:
            result = fn(z.copy())
        except Exception as err:  # the student's error is a fact to report, not to raise
            entry["error"] = error_text(err)
            entry["not_implemented"] = isinstance(err, NotImplementedError)
        else:
            entry.update(_output_facts(result))
        found[case["id"]] = entry
    return {"callable": True, "type": type(fn).__name__, "cases": found}


def is_unanswered(obj) -> bool:
    """Return True for the placeholder a released exercise cell leaves in place of an answer."""
    return bool(getattr(type(obj), "_nn_course_unanswered", False))


def _activation_facts(layer, probe) -> dict:
    import keras

    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None) or type(activation).__name__
    facts = {"activation_name": name, "activation_values": None, "activation_error": None}
    if activation is None:
        return facts
    try:
        z = keras.ops.convert_to_tensor(np.asarray([probe], dtype="float32"))
        a = keras.ops.convert_to_numpy(activation(z)).reshape(-1)
        facts["activation_values"] = [json_float(v) for v in a]
    except Exception as err:  # an exotic activation is reported, not fatal
        facts["activation_error"] = error_text(err)
    return facts


def _layer_facts(layer, probe) -> dict:
    facts = {"kind": type(layer).__name__, "name": getattr(layer, "name", None)}
    units = getattr(layer, "units", None)
    facts["units"] = int(units) if isinstance(units, int | np.integer) else None
    facts.update(_activation_facts(layer, probe))
    return facts


def _declared_input_features(model) -> int | None:
    """Return the last dimension of the model's declared input, or None if not declared."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    last = inputs[0].shape[-1]
    return None if last is None else int(last)


def _declared_input_shape(model) -> tuple[int, ...]:
    """Return the shape of one input the model declares, or (400,) if it declares none."""
    try:
        shape = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return (_cases.INPUT_FEATURES,)
    if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
        return (_cases.INPUT_FEATURES,)
    return shape


def _loss_facts(model) -> dict | None:
    if not getattr(model, "compiled", False):
        return None
    loss = getattr(model, "loss", None)
    facts = {"kind": None, "name": None, "from_logits": None}
    if isinstance(loss, str):
        return {**facts, "kind": "string", "name": loss}
    if loss is None:
        return {**facts, "kind": "none"}
    get_config = getattr(loss, "get_config", None)
    if callable(get_config):
        try:
            config = get_config()
        except Exception:  # a custom Loss without a config still has a name
            config = {}
        from_logits = config.get("from_logits")
        return {
            **facts,
            "kind": "object",
            "name": config.get("name") or type(loss).__name__,
            "from_logits": None if from_logits is None else bool(from_logits),
        }
    return {**facts, "kind": "function", "name": getattr(loss, "__name__", type(loss).__name__)}


def model_outputs(model, seed: int) -> dict:
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
        return {"values": None, "error": error_text(err)}
    return {"values": values, "error": None}


def model_facts(
    model,
    *,
    input_features: int = _cases.INPUT_FEATURES,
    probe=_cases.ACTIVATION_PROBE,
) -> dict:
    """Report the layers, input, parameter count and loss of a Keras model.

    Works for a model declared with ``Input``, ``InputLayer``, ``input_shape=`` or with no
    input at all: an unbuilt model is cloned and the copy built with ``(None, input_features)``
    so the student's own model is left as it was.
    """
    facts = {"type": type(model).__name__, "unanswered": is_unanswered(model), "error": None}
    if facts["unanswered"] or model is None:
        return facts
    layers = getattr(model, "layers", None)
    if layers is None or not callable(getattr(model, "count_params", None)):
        facts["error"] = f"{type(model).__name__} is not a Keras model"
        return facts
    facts["layers"] = [
        _layer_facts(layer, probe) for layer in layers if type(layer).__name__ != "InputLayer"
    ]
    facts["declared_input_features"] = _declared_input_features(model)
    facts["built"] = bool(getattr(model, "built", False))
    facts["param_count"] = None
    facts["param_count_error"] = None
    try:
        if facts["built"]:
            facts["param_count"] = int(model.count_params())
        else:
            import keras

            copy = keras.models.clone_model(model)
            copy.build((None, input_features))
            facts["param_count"] = int(copy.count_params())
    except Exception as err:  # e.g. layers that cannot take this input
        facts["param_count_error"] = error_text(err)
    facts["compiled"] = bool(getattr(model, "compiled", False))
    facts["loss"] = _loss_facts(model)
    return facts
