"""Functions the assignment's test cells call, inside the student's kernel.

Each ``check_*`` collects facts with :mod:`autograder.kernel.probes`, records them as a display
output of MIME type :data:`FACTS_MIME` (while nbgrader autogrades), and then, if the
reference data is readable, judges them with :mod:`autograder.kernel.checks`: a failure raises
:class:`CheckFailed` (an ``AssertionError``), which makes nbgrader score the cell zero.
Where the reference is hidden (a grading sandbox), the check only reports.

Under the grading command (:data:`MODEL_FILE_ENV` set), the first model check of a kernel
also saves the student's model to that file, so the grader can describe the model itself
(:mod:`autograder.kernel.model_probe`) instead of trusting what this kernel reports.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import NoReturn

from autograder.kernel import checks, probes, specs
from autograder.kernel.facts import ModelFacts, ModelFileState, SoftmaxFacts
from autograder.kernel.protocol import FACTS_MIME, MODEL_FILE, MODEL_FILE_ENV
from autograder.kernel.reference import ReferenceUnavailable, load

__all__ = ["FACTS_MIME", "MODEL_FILE", "MODEL_FILE_ENV"]  # re-exported for notebooks and tools

#: Environment variable nbgrader sets while it autogrades; facts are recorded only then.
_AUTOGRADE_ENV = "NBGRADER_EXECUTION"

#: How this kernel's one save of the student's model went (None until a model is saved).
_model_file: dict[str, ModelFileState | None] = {"state": None}


class _ShortTraceback:
    """Show only ``Name: message`` in Jupyter, without the frames of the grading code."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class CheckFailed(_ShortTraceback, AssertionError):
    """Raise when a check fails; the message says what was expected, found, and the fix."""


class ExerciseNotDone(_ShortTraceback, RuntimeError):
    """Raise when a cell needs an exercise the student has not answered yet."""


class Unanswered:
    """Stand in for an exercise's answer until the student writes it.

    Any use other than printing raises :class:`ExerciseNotDone` naming the exercise,
    so later cells fail with one clear line instead of a chain of NameErrors.
    """

    _nn_course_unanswered = True

    def __init__(self, name: str, exercise: str) -> None:
        self._name = name
        self._exercise = exercise

    def _not_done(self) -> ExerciseNotDone:
        return ExerciseNotDone(
            f"`{self._name}` is not ready: finish {self._exercise} and run its cell, "
            "then run this cell again."
        )

    def __getattr__(self, attr: str) -> NoReturn:
        if attr.startswith("_"):
            raise AttributeError(attr)
        raise self._not_done()

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        raise self._not_done()

    def __repr__(self) -> str:
        return f"<{self._name}: not written yet ({self._exercise})>"


def unanswered(name: str, exercise: str) -> Unanswered:
    """Return a placeholder for ``name`` that explains which exercise to finish first."""
    return Unanswered(name, exercise)


def _record(check: str, facts: SoftmaxFacts | ModelFacts) -> None:
    """Display the facts for nbgrader's autograded notebook; invisible to students."""
    if not os.environ.get(_AUTOGRADE_ENV):
        return
    from IPython.display import display

    display({FACTS_MIME: {"check": check, "facts": facts}}, raw=True)  # type: ignore[no-untyped-call]  # IPython leaves display unannotated


def _judge(check: str, facts: SoftmaxFacts | ModelFacts) -> checks.CheckResult | None:
    try:
        reference = load()
    except ReferenceUnavailable:
        return None
    result = specs.judge(specs.BY_NAME[check], facts, reference)
    if not result.passed:
        raise CheckFailed(result.message)
    print(f"Passed: {result.message}")
    return result


def run_check(check: str, facts: SoftmaxFacts | ModelFacts) -> None:
    """Record ``facts`` for ``check`` and judge them; raise :class:`CheckFailed` on failure."""
    if check not in specs.BY_NAME:
        raise KeyError(f"unknown check {check!r}; known: {', '.join(specs.BY_NAME)}")
    _record(check, facts)
    _judge(check, facts)


def _save_model(model: probes.StudentModel, facts: ModelFacts) -> ModelFileState | None:
    """Save ``model`` once per kernel for the grading command; return how the save went."""
    path = os.environ.get(MODEL_FILE_ENV)
    if not path or facts["unanswered"] or facts.get("error") or "layers" not in facts:
        return None
    if _model_file["state"] is None:
        try:
            with warnings.catch_warnings():
                # Saving an unbuilt model warns; the grader builds its copy itself.
                warnings.simplefilter("ignore")
                model.save(path)
        except Exception as err:  # the grader then finds no file: a fact, not a crash
            _model_file["state"] = ModelFileState(saved=False, error=probes.error_text(err))
        else:
            _model_file["state"] = ModelFileState(saved=True, error=None)
    return _model_file["state"]


def report_model(check: str, model: probes.StudentModel, seed: int | None = None) -> None:
    """Record (and judge) ``check`` on ``model``; with ``seed``, with its outputs on probes.

    The grading command passes a per-submission ``seed``: the outputs on those inputs tie the
    model file saved here to this ``model`` (the grader recomputes them from the file).
    """
    outputs = None
    if seed is not None and not probes.is_unanswered(model) and model is not None:
        outputs = probes.model_outputs(model, seed)  # first: calling builds an unbuilt model
    facts = probes.model_facts(model)
    if outputs is not None:
        facts["outputs"] = outputs
    saved = _save_model(model, facts)
    if saved is not None:
        facts["model_file"] = saved
    run_check(check, facts)


def _check_function(spec: specs.Spec) -> Callable[[object], None]:
    """Return ``check_<name>``, the function a test cell calls for ``spec``."""
    check: Callable[[object], None]
    if isinstance(spec, specs.SoftmaxSpec):

        def check_softmax(my_softmax: object) -> None:
            run_check(spec.name, probes.softmax_facts(my_softmax, list(spec.cases)))

        check = check_softmax
    else:

        def check_model(model: object) -> None:
            report_model(spec.name, model)

        check = check_model

    check.__name__ = check.__qualname__ = f"check_{spec.name}"
    check.__doc__ = spec.question
    return check


# kernel.check_softmax_original_cases(my_softmax), ..., kernel.check_model_units(model), ...
for _spec in specs.SPECS:
    globals()[f"check_{_spec.name}"] = _check_function(_spec)
del _spec


def require_model(model: object) -> None:
    """Raise :class:`ExerciseNotDone` unless ``model`` is a model (not the placeholder)."""
    if probes.is_unanswered(model) or model is None:
        raise ExerciseNotDone(
            "`model` is not ready: finish Exercise 2 and run its cell, then run this cell again."
        )
