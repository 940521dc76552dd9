"""Read the reference data in ``autograder/reference/`` (package data; a sandbox lacks it)."""

from __future__ import annotations

import json
from importlib import resources
from typing import TypedDict, cast

from autograder.kernel.cases import ProbeCase


class Tolerance(TypedDict):
    """How close a softmax output must be to the expected one (``np.allclose`` arguments)."""

    atol: float
    rtol: float


class ReferenceCase(ProbeCase):
    """A softmax probe case with its expected output."""

    expected: list[float]


class SoftmaxReference(TypedDict):
    """The softmax checks' cases with expected outputs, by check name."""

    tolerance: Tolerance
    checks: dict[str, list[ReferenceCase]]


class ModelReference(TypedDict):
    """What the model checks expect; activations are known by their outputs on the probe."""

    input_features: int
    dense_units: list[int]
    activations: list[str]
    param_count: int
    activation_probe: list[float]
    activation_outputs: dict[str, list[float]]
    activation_atol: float
    loss_from_logits: bool


class Reference(TypedDict):
    """The reference data every judge reads."""

    softmax: SoftmaxReference
    model: ModelReference


class ReferenceUnavailable(RuntimeError):
    """Raise when the reference data cannot be read (e.g. hidden by a grading sandbox)."""


def load() -> Reference:
    """Return ``{"softmax": {...}, "model": {...}}`` read from this package's JSON files."""
    data: dict[str, object] = {}
    try:
        for key in ("softmax", "model"):
            text = (
                resources.files("autograder")
                .joinpath(f"reference/{key}.json")
                .read_text(encoding="utf-8")
            )
            data[key] = json.loads(text)
    except (OSError, ValueError) as err:
        raise ReferenceUnavailable(f"reference data not readable: {err}") from err
    # Package data written by ``make_reference`` (``--check`` keeps it in step with the specs).
    return cast(Reference, data)
