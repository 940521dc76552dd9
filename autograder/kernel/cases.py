"""Probe inputs for the softmax and model checks (public: they reveal no expected values).

Each softmax check's cases are listed in its spec (:mod:`autograder.kernel.specs`); the
reference data in ``reference/`` repeats them next to the expected outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

import numpy as np
import numpy.typing as npt

#: Number of input features and units per Dense layer the assignment asks for.
INPUT_FEATURES = 400

#: Values fed to each Dense layer's activation to tell relu, linear, sigmoid, ... apart.
ACTIVATION_PROBE: tuple[float, ...] = (-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0)

_RANDOM_SEED = 2024


class ProbeCase(TypedDict):
    """One softmax probe input: its id, the entries of ``z`` and their dtype."""

    id: str
    z: list[float]
    dtype: str


def case(case_id: str, z: Iterable[float], dtype: str = "float64") -> ProbeCase:
    """Return a softmax probe case: an id, the entries of ``z`` and their dtype."""
    return ProbeCase(id=case_id, z=[float(v) for v in z], dtype=dtype)


def random_cases() -> tuple[ProbeCase, ...]:
    """Return vectors of several lengths and signs, the same on every run."""
    rng = np.random.default_rng(_RANDOM_SEED)
    found: list[ProbeCase] = []
    # Several lengths and sign patterns: all positive, all negative, mixed, wide spread.
    for n, low, high in [(2, 0, 3), (3, -3, 0), (5, -2, 2), (7, -5, 5), (10, -8, 8), (4, 5, 9)]:
        z = np.round(rng.uniform(low, high, size=n), 6)
        found.append(case(f"random_len{n}", z))
    return tuple(found)


#: Rows of the secret inputs a model is evaluated on, per submission.
MODEL_PROBE_ROWS = 4


def model_probe_inputs(
    seed: int, shape: tuple[int, ...] = (INPUT_FEATURES,)
) -> npt.NDArray[np.float32]:
    """Return the inputs, fixed by ``seed``, that tie a saved model to the live ``model``.

    The grader draws ``seed`` per submission from a key the kernel never sees; the kernel
    evaluates ``model`` on these rows (each of ``shape``, the model's input shape) and the
    grader recomputes the outputs from the saved file's weights. Values lie in [0, 1), like
    the assignment's pixels.
    """
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, size=(MODEL_PROBE_ROWS, *shape)).astype(np.float32)


def as_array(case: ProbeCase) -> npt.NDArray[np.floating]:
    """Return a probe case's ``z`` as a NumPy array of the case's dtype."""
    return np.asarray(case["z"], dtype=case["dtype"])
