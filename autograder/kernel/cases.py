"""Probe inputs for the softmax and model checks (public: they reveal no expected values).

The reference data in ``reference/`` repeats these inputs next to the expected outputs;
``python -m autograder.grading.make_reference`` regenerates both from this module.
"""

from __future__ import annotations

import math

import numpy as np

#: Number of input features and units per Dense layer the assignment asks for.
INPUT_FEATURES = 400

#: Values fed to each Dense layer's activation to tell relu, linear, sigmoid, ... apart.
ACTIVATION_PROBE: tuple[float, ...] = (-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0)

_RANDOM_SEED = 2024


def _case(case_id: str, z, dtype: str = "float64") -> dict:
    return {"id": case_id, "z": [float(v) for v in z], "dtype": dtype}


def _random_cases() -> list[dict]:
    rng = np.random.default_rng(_RANDOM_SEED)
    found = []
    # Several lengths and sign patterns: all positive, all negative, mixed, wide spread.
    for n, low, high in [(2, 0, 3), (3, -3, 0), (5, -2, 2), (7, -5, 5), (10, -8, 8), (4, 5, 9)]:
        z = np.round(rng.uniform(low, high, size=n), 6)
        found.append(_case(f"random_len{n}", z))
    return found


def softmax_cases() -> dict[str, list[dict]]:
    """Return the probe inputs of every softmax check, keyed by check name."""
    return {
        "softmax_original_cases": [
            _case("one_to_four", [1.0, 2.0, 3.0, 4.0]),
            _case("ten_equal", [math.log(0.1)] * 10),
        ],
        "softmax_random_vectors": _random_cases(),
        "softmax_large_inputs": [
            _case("large_positive", [1000.0, 1001.0, 1002.0]),
            _case("large_negative", [-1000.0, -1001.0, -1002.0]),
            _case("large_float32", [100.0, 101.0, 102.0, 103.0], "float32"),
        ],
        "softmax_length_one": [
            _case("single_zero", [0.0]),
            _case("single_positive", [3.5]),
        ],
        "softmax_dtypes": [
            _case("float32_mixed", [0.5, -1.25, 2.0, 0.0], "float32"),
            _case("float64_mixed", [0.5, -1.25, 2.0, 0.0], "float64"),
        ],
        "softmax_accepts_list_output": [
            _case("short_float64", [2.0, 1.0, 0.1]),
        ],
    }


#: Rows of the secret inputs a model is evaluated on, per submission.
MODEL_PROBE_ROWS = 4


def model_probe_inputs(seed: int, shape: tuple[int, ...] = (INPUT_FEATURES,)) -> np.ndarray:
    """Return the inputs, fixed by ``seed``, that tie a saved model to the live ``model``.

    The grader draws ``seed`` per submission from a key the kernel never sees; the kernel
    evaluates ``model`` on these rows (each of ``shape``, the model's input shape) and the
    grader recomputes the outputs from the saved file's weights. Values lie in [0, 1), like
    the assignment's pixels.
    """
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, size=(MODEL_PROBE_ROWS, *shape)).astype(np.float32)


def as_array(case: dict) -> np.ndarray:
    """Return a probe case's ``z`` as a NumPy array of the case's dtype."""
    return np.asarray(case["z"], dtype=case["dtype"])
