"""The graded checks, one spec each: the one place to edit to add or change a check.

Everything else derives from :data:`SPECS`: the ``kernel.check_<name>`` functions the test
cells call, the public probe cases, the reference data (``python -m
autograder.grading.make_reference``), the grader's per-submission probes and its judge, and
``tests/device_check.py``. ``tests/test_autograder_specs.py`` checks that the assignment's
graded cells (one per spec: ``grade_id`` = name, its points, the call, hidden or not), the
specs and the reference data agree.

To add a check: write its judge in :mod:`autograder.kernel.checks`, add a :class:`SoftmaxSpec`
or a :class:`ModelSpec` here (the judge's facts fix which), add its test cell to the
assignment, and regenerate the reference data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import ClassVar, Literal, cast

from autograder.kernel import cases, checks
from autograder.kernel.cases import ProbeCase
from autograder.kernel.facts import ModelFacts, SoftmaxFacts
from autograder.kernel.reference import Reference


@dataclasses.dataclass(frozen=True)
class ProbePlan:
    """Extra softmax inputs the grader draws per submission, unknown to the student.

    One vector per entry of ``dtypes``, of a length in ``[lengths[0], lengths[1])``, with
    entries in [-9, 9]; ``far`` shifts each vector by ±720 to ±1000, where a naive softmax
    overflows or underflows.
    """

    lengths: tuple[int, int]
    dtypes: tuple[str, ...]
    far: bool = False


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What every graded check has: its test cell and what it asks."""

    #: ``kernel.check_<name>`` and the ``grade_id`` of its test cell.
    name: str
    #: What the check asks, in one line (the kernel function's docstring).
    question: str
    #: The points of its test cell.
    points: int
    #: Whether the test cell hides the call (``### BEGIN HIDDEN TESTS``).
    hidden: bool


@dataclasses.dataclass(frozen=True)
class SoftmaxSpec(_Spec):
    """A check that probes ``my_softmax`` and judges what it returned."""

    #: Probes ``my_softmax``.
    subject: ClassVar[Literal["softmax"]] = "softmax"
    #: Judges the facts against the reference data.
    judge: Callable[[SoftmaxFacts, Reference], checks.CheckResult]
    #: Public softmax inputs.
    cases: tuple[ProbeCase, ...]
    #: The grader's extra per-submission softmax inputs.
    probe_plan: ProbePlan


@dataclasses.dataclass(frozen=True)
class ModelSpec(_Spec):
    """A check that describes ``model`` and judges its facts."""

    #: Describes ``model``.
    subject: ClassVar[Literal["model"]] = "model"
    #: Judges the facts against the reference data.
    judge: Callable[[ModelFacts, Reference], checks.CheckResult]
    #: No softmax inputs and no extra probes: the model is probed on its own inputs.
    cases: ClassVar[tuple[ProbeCase, ...]] = ()
    probe_plan: ClassVar[None] = None


#: One graded check: its test cell, what it probes (``subject``) and how it is judged.
Spec = SoftmaxSpec | ModelSpec


SPECS: tuple[Spec, ...] = (
    SoftmaxSpec(
        "softmax_original_cases",
        "Check ``my_softmax`` on z = [1, 2, 3, 4] and on ten equal entries.",
        1,
        False,
        checks.softmax_original_cases,
        cases=(
            cases.case("one_to_four", [1.0, 2.0, 3.0, 4.0]),
            cases.case("ten_equal", [math.log(0.1)] * 10),
        ),
        probe_plan=ProbePlan((2, 12), ("float64",) * 3),
    ),
    SoftmaxSpec(
        "softmax_large_logits",
        "Check that ``my_softmax`` stays finite and right on large logits (public cases).",
        1,
        False,
        checks.softmax_large_logits,
        cases=(
            cases.case("logits_near_800", [800.0, 801.0, 799.0, 800.5]),
            cases.case("logits_near_minus_750", [-750.0, -748.5, -751.25]),
        ),
        probe_plan=ProbePlan((2, 12), ("float64",) * 2, far=True),
    ),
    SoftmaxSpec(
        "softmax_random_vectors",
        "Check ``my_softmax`` on random vectors of several lengths and signs.",
        2,
        True,
        checks.softmax_random_vectors,
        cases=cases.random_cases(),
        probe_plan=ProbePlan((2, 12), ("float64",) * 3),
    ),
    SoftmaxSpec(
        "softmax_large_inputs",
        "Check that ``my_softmax`` stays finite and right on large inputs.",
        1,
        True,
        checks.softmax_large_inputs,
        cases=(
            cases.case("large_positive", [1000.0, 1001.0, 1002.0]),
            cases.case("large_negative", [-1000.0, -1001.0, -1002.0]),
            cases.case("large_float32", [100.0, 101.0, 102.0, 103.0], "float32"),
        ),
        probe_plan=ProbePlan((2, 12), ("float64",) * 3, far=True),
    ),
    SoftmaxSpec(
        "softmax_length_one",
        "Check ``my_softmax`` on a vector with one entry.",
        1,
        True,
        checks.softmax_length_one,
        cases=(cases.case("single_zero", [0.0]), cases.case("single_positive", [3.5])),
        probe_plan=ProbePlan((1, 2), ("float64", "float32")),
    ),
    SoftmaxSpec(
        "softmax_dtypes",
        "Check ``my_softmax`` on float32 and float64 inputs.",
        1,
        True,
        checks.softmax_dtypes,
        cases=(
            cases.case("float32_mixed", [0.5, -1.25, 2.0, 0.0], "float32"),
            cases.case("float64_mixed", [0.5, -1.25, 2.0, 0.0], "float64"),
        ),
        probe_plan=ProbePlan((2, 8), ("float32", "float64")),
    ),
    SoftmaxSpec(
        "softmax_accepts_list_output",
        "Check that ``my_softmax`` returns one probability per entry, in any array-like.",
        1,
        True,
        checks.softmax_accepts_list_output,
        cases=(cases.case("short_float64", [2.0, 1.0, 0.1]),),
        probe_plan=ProbePlan((2, 6), ("float64",)),
    ),
    ModelSpec(
        "model_three_dense_layers",
        "Check that ``model`` is three Dense layers.",
        1,
        False,
        checks.model_three_dense_layers,
    ),
    ModelSpec(
        "model_units",
        "Check the units of the Dense layers (25, 15, 10).",
        2,
        False,
        checks.model_units,
    ),
    ModelSpec(
        "model_output_linear",
        "Check that the output layer is linear (logits; the loss applies softmax).",
        1,
        False,
        checks.model_output_linear,
    ),
    ModelSpec(
        "model_input_features",
        "Check the declared input size (400 features, or none declared).",
        1,
        True,
        checks.model_input_features,
    ),
    ModelSpec(
        "model_activations",
        "Check the activations by behaviour (relu, relu, linear).",
        1,
        True,
        checks.model_activations,
    ),
    ModelSpec(
        "model_parameter_count",
        "Check the number of parameters (10,575).",
        1,
        True,
        checks.model_parameter_count,
    ),
    ModelSpec(
        "model_loss_from_logits",
        "Check the loss takes logits, if the exercise cell compiled the model.",
        1,
        True,
        checks.model_loss_from_logits,
    ),
)

#: Every spec by name, in notebook order.
BY_NAME: dict[str, Spec] = {spec.name: spec for spec in SPECS}


def names(subject: str | None = None) -> tuple[str, ...]:
    """Return the checks' names in notebook order, of one ``subject`` if given."""
    return tuple(spec.name for spec in SPECS if subject in (None, spec.subject))


def softmax_cases() -> dict[str, list[ProbeCase]]:
    """Return the public probe inputs of every softmax check, keyed by check name."""
    return {spec.name: list(spec.cases) for spec in SPECS if isinstance(spec, SoftmaxSpec)}


def judge(spec: Spec, facts: Mapping[str, object], reference: Reference) -> checks.CheckResult:
    """Judge ``facts`` reported for ``spec`` with its judge.

    The facts are not validated here: the kernel builds them with :mod:`autograder.kernel.facts`
    for the check they are reported for, and the grader passes what a kernel reported, turning
    the error a judge raises on malformed facts into a verdict.
    """
    if isinstance(spec, SoftmaxSpec):
        return spec.judge(cast(SoftmaxFacts, facts), reference)
    return spec.judge(cast(ModelFacts, facts), reference)
