"""Write the reference data in ``autograder/reference/`` from the reference solution.

Run ``python -m autograder.grading.make_reference`` after changing :mod:`autograder.kernel.cases`;
``--check`` only compares with the committed files (exit status 1 if they differ).
Softmax outputs come from the stable NumPy solution and are cross-checked against
``tf.nn.softmax``; activation behaviours come from ``keras.activations``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing

from autograder.kernel import cases, specs

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
SOFTMAX_FILE = "softmax.json"
MODEL_FILE = "model.json"

#: Agreement required between a student's softmax and the reference.
SOFTMAX_TOLERANCE = {"atol": 1e-6, "rtol": 1e-5}

DENSE_UNITS = (25, 15, 10)
ACTIVATIONS = ("relu", "relu", "linear")


def reference_softmax(z: np.typing.ArrayLike) -> np.ndarray:
    """Return the numerically stable softmax of a 1-D array (the model answer)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - np.max(z))
    result: np.ndarray = e / e.sum()
    return result


def _cross_check(z: np.ndarray, expected: np.ndarray) -> None:
    import tensorflow as tf

    from_tf = tf.nn.softmax(np.asarray(z, dtype=np.float64)).numpy()
    if not np.allclose(expected, from_tf, rtol=1e-12, atol=1e-15):
        raise RuntimeError(f"reference softmax disagrees with tf.nn.softmax for z={z.tolist()}")


def softmax_reference() -> dict[str, Any]:
    """Return the softmax probe cases with their expected outputs."""
    checks = {}
    for name, probe_cases in specs.softmax_cases().items():
        rows = []
        for case in probe_cases:
            z = cases.as_array(case)
            expected = reference_softmax(z)
            _cross_check(z, expected)
            rows.append({**case, "expected": [float(v) for v in expected]})
        checks[name] = rows
    return {"tolerance": SOFTMAX_TOLERANCE, "checks": checks}


def _dense_params(features: int, units: tuple[int, ...]) -> int:
    sizes = (features, *units)
    return sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(sizes))


def model_reference() -> dict[str, Any]:
    """Return the expected architecture and the behaviour of known activations."""
    import keras

    probe = np.asarray([cases.ACTIVATION_PROBE], dtype="float32")
    behaviours = {}
    for name in ("relu", "linear", "sigmoid", "softmax", "tanh"):
        fn = keras.activations.get(name)
        out = keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(probe))).reshape(-1)
        behaviours[name] = [float(v) for v in out]
    return {
        "input_features": cases.INPUT_FEATURES,
        "dense_units": list(DENSE_UNITS),
        "activations": list(ACTIVATIONS),
        "param_count": _dense_params(cases.INPUT_FEATURES, DENSE_UNITS),
        "activation_probe": list(cases.ACTIVATION_PROBE),
        "activation_outputs": behaviours,
        "activation_atol": 1e-5,
        "loss_from_logits": True,
    }


def render() -> dict[str, str]:
    """Return the reference files' text, keyed by file name."""
    return {
        SOFTMAX_FILE: json.dumps(softmax_reference(), indent=1) + "\n",
        MODEL_FILE: json.dumps(model_reference(), indent=1) + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the reference files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR, help="output folder")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m autograder.grading.make_reference")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
