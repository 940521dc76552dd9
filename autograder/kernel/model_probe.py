"""Describe a student's model from the file their kernel saved, without running student code.

Under the grading command the first model check in the student's kernel saves the model
(:data:`autograder.kernel.MODEL_FILE`), and every model check reports ``model``'s outputs on
inputs drawn from a per-submission seed the kernel only learns in the test cell. After the
kernel has stopped, the worker (:mod:`autograder.grading.model_file`) describes that file in a fresh
sandbox holding only the file, by running this module (``python -m autograder.kernel.model_probe
FILE SEED``), which gives the facts
:func:`autograder.kernel.probes.model_facts` gives for the live model, plus the outputs on the same
inputs computed from the file's own weights:

* :func:`describe_archive` reads the archive's ``config.json`` with nothing but ``zipfile``,
  ``json`` and NumPy when the model is a ``Sequential`` stack of Keras ``Dense`` layers with
  built-in activations and a built-in loss (every right answer and most wrong ones), and
  :func:`archive_outputs` runs the forward pass in NumPy on the weights read with ``h5py``:
  no TensorFlow import.
* Anything else is loaded by Keras with ``safe_mode=True`` (no Python code from the file,
  e.g. lambdas, is run) and described by the same probes as the live model.

The judge uses these facts for the model checks and requires the kernel's outputs to match
the file's: a file written by hand, or a model saved in place of the one the notebook built,
earns nothing.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from autograder.kernel import cases, facts, probes
from autograder.kernel.protocol import DESCRIBER_MARK

#: Largest ``config.json`` the archive reader accepts (the assignment's takes about 4 kB).
MAX_CONFIG_BYTES = 1024**2

#: Largest ``model.weights.h5`` the forward pass reads, and most weights in one array.
MAX_WEIGHTS_BYTES = 16 * 1024**2
MAX_ARRAY_VALUES = 4 * 1024**2

#: Parsed JSON from the archive: untrusted, of any shape (every reader below runs inside try).
Json = dict[str, Any]
Floats = npt.NDArray[np.float64]


def _sigmoid(z: Floats) -> Floats:
    found: Floats = 1.0 / (1.0 + np.exp(-z))
    return found


def _softmax(z: Floats) -> Floats:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    found: Floats = e / e.sum(axis=-1, keepdims=True)
    return found


#: Keras's built-in activations the archive reader computes itself, by their saved names.
ACTIVATIONS: dict[str, Callable[[Floats], Floats]] = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": _softmax,
}

#: Built-in losses the archive reader recognises: saved as a name, a function or an object.
LOSS_NAMES = frozenset(
    {"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
     "mean_squared_error"}
)  # fmt: skip
LOSS_CLASSES = frozenset(
    {"SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
     "MeanSquaredError"}
)  # fmt: skip


class _Unknown(Exception):
    """Raise when the archive holds something only Keras itself can describe."""


def _require(condition: bool) -> None:
    if not condition:
        raise _Unknown


def _only_builtin_objects(node: object) -> None:
    """Require every serialized object in ``node`` to be one of Keras's own (no custom code)."""
    if isinstance(node, dict):
        if "class_name" in node:
            module = node.get("module")
            _require(isinstance(module, str) and (module == "keras" or module.startswith("keras.")))
            _require(node.get("registered_name") is None)
        for value in node.values():
            _only_builtin_objects(value)
    elif isinstance(node, list):
        for value in node:
            _only_builtin_objects(value)


def _dense_facts(layer: Json) -> facts.LayerFacts:
    config = layer["config"]
    activation = config.get("activation")
    _require(activation in ACTIVATIONS)
    _require(isinstance(config.get("units"), int) and config["units"] > 0)
    z = np.asarray([cases.ACTIVATION_PROBE], dtype=np.float32).astype(np.float64)
    values = ACTIVATIONS[activation](z).astype(np.float32).reshape(-1)
    return facts.layer(
        "Dense",
        config.get("name"),
        config["units"],
        activation,
        [probes.json_float(v) for v in values],
    )


def _last_dim(shape: object) -> int:
    last = shape[-1] if isinstance(shape, list) and shape else None
    if not isinstance(last, int) or last <= 0:
        raise _Unknown
    return last


def _loss_facts(compile_config: Json) -> facts.LossFacts | None:
    """Return the loss facts of a saved compile config (None: not compiled)."""
    if not compile_config:
        return None
    loss = compile_config.get("loss")
    if loss is None:
        return facts.loss("none")
    if isinstance(loss, str):
        _require(loss in LOSS_NAMES)
        return facts.loss("string", loss)
    _require(isinstance(loss, dict))
    if loss.get("module") == "builtins" and loss.get("class_name") == "function":
        _require(loss.get("config") in LOSS_NAMES and loss.get("registered_name") == "function")
        return facts.loss("function", loss["config"])
    _only_builtin_objects(loss)
    _require(loss.get("class_name") in LOSS_CLASSES and isinstance(loss.get("config"), dict))
    from_logits = loss["config"].get("from_logits")
    _require(from_logits is None or isinstance(from_logits, bool))
    return facts.loss("object", loss["config"].get("name") or loss["class_name"], from_logits)


def _describe_config(config: Json) -> facts.ModelFacts:
    """Return :func:`autograder.kernel.probes.model_facts` of a saved ``Sequential`` of Dense layers."""
    _require(isinstance(config, dict) and config.get("class_name") == "Sequential")
    compile_config = config.get("compile_config") or {}
    _require(isinstance(compile_config, dict))
    _only_builtin_objects({k: v for k, v in config.items() if k != "compile_config"})
    _only_builtin_objects({k: v for k, v in compile_config.items() if k != "loss"})
    metrics = [compile_config.get(k) for k in ("metrics", "weighted_metrics")]
    _require(all(m is None or all(isinstance(n, str) for n in m) for m in metrics))
    layers = config["config"]["layers"]
    _require(isinstance(layers, list))
    built = "build_config" in config
    declared = None
    features = _last_dim(config["build_config"]["input_shape"]) if built else cases.INPUT_FEATURES
    described: list[facts.LayerFacts] = []
    params = 0
    for index, layer in enumerate(layers):
        kind = layer.get("class_name")
        if kind == "InputLayer" and index == 0:
            declared = _last_dim(layer["config"]["batch_shape"])
            _require(declared == features)
            continue
        _require(kind == "Dense")
        layer_build = layer.get("build_config")
        if layer_build is not None:
            _require(_last_dim(layer_build["input_shape"]) == features)
        dense = _dense_facts(layer)
        units: int = layer["config"]["units"]  # a positive int: _dense_facts checked it
        use_bias = layer["config"].get("use_bias", True)
        _require(isinstance(use_bias, bool))
        params += features * units + (units if use_bias else 0)
        features = units
        described.append(dense)
    return facts.model(
        "Sequential",
        layers=described,
        declared_input_features=declared,
        built=built,
        param_count=params,
        param_count_error=None,
        compiled=bool(compile_config),
        loss=_loss_facts(compile_config),
    )


def _member(data: bytes, name: str, limit: int) -> bytes:
    """Return archive member ``name`` of at most ``limit`` bytes (raise otherwise)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
        _require(info.file_size <= limit)
        with archive.open(info) as handle:
            content = handle.read(limit + 1)
    _require(len(content) <= limit)
    return content


def _config(data: bytes) -> Json:
    config: Json = json.loads(_member(data, "config.json", MAX_CONFIG_BYTES))
    return config


def describe_archive(data: bytes) -> facts.ModelFacts | None:
    """Describe a saved ``.keras`` archive from its ``config.json``, without TensorFlow.

    Returns the facts :func:`autograder.kernel.probes.model_facts` gives for the same model, or None
    when the archive is not a ``Sequential`` of ``Dense`` layers with built-in activations
    (:data:`ACTIVATIONS`) and loss, or cannot be read: then only Keras can describe it.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _require("model.weights.h5" in archive.namelist())
        return _describe_config(_config(data))
    except Exception:  # the archive is untrusted: whatever breaks the reader, Keras decides
        return None


def _dense_weights(
    weights: Any, index: int, rows: int, units: int, use_bias: bool
) -> tuple[Floats, Floats]:
    """Return the kernel and bias of the ``index``-th Dense layer in a Keras weights file."""
    # Keras names the groups by class and position (dense, dense_1, ...), not by layer name.
    group = weights["layers"]["dense" if index == 0 else f"dense_{index}"]["vars"]
    arrays: list[Floats] = []
    for key, shape in (("0", (rows, units)), ("1", (units,))):
        if key == "1" and not use_bias:
            break
        dataset = group[key]
        _require(tuple(dataset.shape) == shape and int(np.prod(shape)) <= MAX_ARRAY_VALUES)
        arrays.append(np.asarray(dataset[()], dtype=np.float64))
    return arrays[0], (arrays[1] if use_bias else np.zeros(units))


def archive_outputs(
    data: bytes, described_facts: facts.ModelFacts, seed: int
) -> facts.ModelOutputs:
    """Return the outputs of the archived Dense stack on the probe inputs of ``seed``.

    ``described_facts`` is :func:`describe_archive` of the same archive. The weights are read with
    ``h5py`` and the forward pass computed with NumPy; any problem is reported as the error.
    """
    import h5py  # type: ignore[import-untyped]  # h5py ships no type hints

    try:
        layers = [
            layer
            for layer in _config(data)["config"]["layers"]
            if layer.get("class_name") == "Dense"
        ]
        features = described_facts["declared_input_features"] or cases.INPUT_FEATURES
        a = cases.model_probe_inputs(seed, (features,)).astype(np.float64)
        raw = _member(data, "model.weights.h5", MAX_WEIGHTS_BYTES)
        with h5py.File(io.BytesIO(raw), "r") as weights:
            for index, (layer, described) in enumerate(
                zip(layers, described_facts["layers"], strict=True)
            ):
                units, activation = described["units"], described["activation_name"]
                if units is None or activation is None:  # describe_archive sets both
                    raise ValueError("a Dense layer without units or activation")
                use_bias = layer["config"].get("use_bias", True)
                kernel, bias = _dense_weights(weights, index, a.shape[1], units, use_bias)
                a = ACTIVATIONS[activation](a @ kernel + bias)
    except Exception as err:  # a file without usable weights cannot be tied to the model
        return facts.ModelOutputs(
            values=None, error=f"the saved weights could not be used: {err}"[:300]
        )
    return facts.ModelOutputs(values=[[probes.json_float(v) for v in row] for row in a], error=None)


def facts_from_file(path: str | Path, seed: int) -> facts.FileFacts:
    """Describe the saved model at ``path``: its facts and its outputs for ``seed``.

    A ``Sequential`` of Dense layers is read without TensorFlow (:func:`describe_archive`,
    :func:`archive_outputs`); anything else is loaded by Keras with ``safe_mode=True``, with
    the compile settings saved with it (its loss). Returns ``{"load_error": "Name: message"}``
    if the file cannot be loaded safely.
    """
    data = Path(path).read_bytes()
    described_facts = describe_archive(data)
    if described_facts is not None:
        described_facts["outputs"] = archive_outputs(data, described_facts, seed)
        return described_facts
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import warnings

        import keras

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(str(path), safe_mode=True, compile=True)
    except Exception as err:  # the file is untrusted: any failure is a fact to report
        return facts.LoadError(load_error=probes.error_text(err))
    outputs = probes.model_outputs(model, seed)  # first: calling builds an unbuilt model
    described = probes.model_facts(model)
    described["outputs"] = outputs
    return described


def main(argv: list[str] | None = None) -> int:
    """Print the facts of the model saved at ``argv[0]`` as one marked JSON line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m autograder.kernel.model_probe MODEL.keras SEED", file=sys.stderr)
        return 2
    print(DESCRIBER_MARK + json.dumps(facts_from_file(args[0], int(args[1]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
