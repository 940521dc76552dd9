"""The shape of the facts a check judges, built in one place for both of their sources.

Facts are JSON: the kernel reports them (:mod:`autograder.kernel.probes`, from the live
objects) and the grader's describer rebuilds the model's from the saved file
(:mod:`autograder.kernel.model_probe`). Both build them with the functions here, so the two
agree key for key; :mod:`autograder.kernel.checks` reads them. Floats that are not finite are
the strings ``"nan"``, ``"inf"`` and ``"-inf"``.
"""

from __future__ import annotations

from typing import TypedDict

JsonFloat = float | str


class OutputFacts(TypedDict):
    """What one call of the student's softmax returned."""

    type: str
    dtype: str | None
    values: list[JsonFloat] | None
    shape: list[int] | None
    problem: str | None


class CaseFacts(TypedDict, total=False):
    """One softmax probe: its input, and the output (:class:`OutputFacts` keys) or the error."""

    n: int
    dtype: str | None
    error: str | None
    not_implemented: bool
    type: str
    values: list[JsonFloat] | None
    shape: list[int] | None
    problem: str | None


class SoftmaxFacts(TypedDict):
    """The student's softmax on every probe case, by case id."""

    callable: bool
    type: str
    cases: dict[str, CaseFacts]


class LayerFacts(TypedDict):
    """One layer: its kind, units and activation, judged by its values on the probe."""

    kind: str
    name: str | None
    units: int | None
    activation_name: str | None
    activation_values: list[JsonFloat] | None
    activation_error: str | None


class LossFacts(TypedDict):
    """The compiled loss: ``kind`` is "string", "object", "function" or "none"."""

    kind: str
    name: str | None
    from_logits: bool | None


class ModelOutputs(TypedDict):
    """A model's outputs on the probe inputs (one row each), or why it could not compute them."""

    values: list[list[JsonFloat]] | None
    error: str | None


class ModelFileState(TypedDict):
    """How the kernel's one save of the student's model went."""

    saved: bool
    error: str | None


class ModelFacts(TypedDict, total=False):
    """A model; only ``type``, ``unanswered`` and ``error`` when it is not a usable model.

    The kernel adds ``outputs`` (on the probe inputs) and ``model_file`` (how its save went).
    """

    type: str
    unanswered: bool
    error: str | None
    layers: list[LayerFacts]
    declared_input_features: int | None
    built: bool
    param_count: int | None
    param_count_error: str | None
    compiled: bool
    loss: LossFacts | None
    outputs: ModelOutputs
    model_file: ModelFileState


class LoadError(TypedDict):
    """The describer's report of a saved model file it could not load safely."""

    load_error: str


#: What the describer reports about a saved model file.
FileFacts = ModelFacts | LoadError


def layer(
    kind: str,
    name: str | None,
    units: int | None,
    activation_name: str | None,
    activation_values: list[JsonFloat] | None = None,
    activation_error: str | None = None,
) -> LayerFacts:
    """Return the facts of one layer."""
    return LayerFacts(
        kind=kind,
        name=name,
        units=units,
        activation_name=activation_name,
        activation_values=activation_values,
        activation_error=activation_error,
    )


def loss(kind: str, name: str | None = None, from_logits: bool | None = None) -> LossFacts:
    """Return the facts of a compiled loss."""
    return LossFacts(kind=kind, name=name, from_logits=from_logits)


def not_a_model(
    type_name: str, *, unanswered: bool = False, error: str | None = None
) -> ModelFacts:
    """Return the facts of something that is not a usable model (or not written yet)."""
    return ModelFacts(type=type_name, unanswered=unanswered, error=error)


def model(
    type_name: str,
    *,
    layers: list[LayerFacts],
    declared_input_features: int | None,
    built: bool,
    param_count: int | None,
    param_count_error: str | None,
    compiled: bool,
    loss: LossFacts | None,
) -> ModelFacts:
    """Return the facts of a model."""
    return ModelFacts(
        type=type_name,
        unanswered=False,
        error=None,
        layers=layers,
        declared_input_features=declared_input_features,
        built=built,
        param_count=param_count,
        param_count_error=param_count_error,
        compiled=compiled,
        loss=loss,
    )
