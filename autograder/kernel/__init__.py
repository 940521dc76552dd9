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

from autograder.kernel import cases, checks, probes
from autograder.kernel.protocol import FACTS_MIME, MODEL_FILE, MODEL_FILE_ENV
from autograder.kernel.reference import ReferenceUnavailable, load

__all__ = ["FACTS_MIME", "MODEL_FILE", "MODEL_FILE_ENV"]  # re-exported for notebooks and tools

#: Environment variable nbgrader sets while it autogrades; facts are recorded only then.
_AUTOGRADE_ENV = "NBGRADER_EXECUTION"

#: How this kernel's one save of the student's model went (None until a model is saved).
_model_file: dict = {"state": None}


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

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        raise self._not_done()

    def __call__(self, *args, **kwargs):
        raise self._not_done()

    def __repr__(self) -> str:
        return f"<{self._name}: not written yet ({self._exercise})>"


def unanswered(name: str, exercise: str) -> Unanswered:
    """Return a placeholder for ``name`` that explains which exercise to finish first."""
    return Unanswered(name, exercise)


def _record(check: str, facts: dict) -> None:
    """Display the facts for nbgrader's autograded notebook; invisible to students."""
    if not os.environ.get(_AUTOGRADE_ENV):
        return
    from IPython.display import display

    display({FACTS_MIME: {"check": check, "facts": facts}}, raw=True)


def _judge(check: str, facts: dict) -> checks.CheckResult | None:
    try:
        reference = load()
    except ReferenceUnavailable:
        return None
    result = checks.ALL[check](facts, reference)
    if not result.passed:
        raise CheckFailed(result.message)
    print(f"Passed: {result.message}")
    return result


def run_check(check: str, facts: dict) -> None:
    """Record ``facts`` for ``check`` and judge them; raise :class:`CheckFailed` on failure."""
    if check not in checks.ALL:
        raise KeyError(f"unknown check {check!r}; known: {', '.join(checks.ALL)}")
    _record(check, facts)
    _judge(check, facts)


def _softmax(check: str, my_softmax) -> None:
    run_check(check, probes.softmax_facts(my_softmax, cases.softmax_cases()[check]))


def check_softmax_original_cases(my_softmax) -> None:
    """Check ``my_softmax`` on z = [1, 2, 3, 4] and on ten equal entries."""
    _softmax("softmax_original_cases", my_softmax)


def check_softmax_random_vectors(my_softmax) -> None:
    """Check ``my_softmax`` on random vectors of several lengths and signs."""
    _softmax("softmax_random_vectors", my_softmax)


def check_softmax_large_inputs(my_softmax) -> None:
    """Check that ``my_softmax`` stays finite and right on large inputs."""
    _softmax("softmax_large_inputs", my_softmax)


def check_softmax_length_one(my_softmax) -> None:
    """Check ``my_softmax`` on a vector with one entry."""
    _softmax("softmax_length_one", my_softmax)


def check_softmax_dtypes(my_softmax) -> None:
    """Check ``my_softmax`` on float32 and float64 inputs."""
    _softmax("softmax_dtypes", my_softmax)


def check_softmax_accepts_list_output(my_softmax) -> None:
    """Check that ``my_softmax`` returns one probability per entry, in any array-like."""
    _softmax("softmax_accepts_list_output", my_softmax)


def _save_model(model, facts: dict) -> dict | None:
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
            _model_file["state"] = {"saved": False, "error": probes.error_text(err)}
        else:
            _model_file["state"] = {"saved": True, "error": None}
    return _model_file["state"]


def report_model(check: str, model, seed: int | None = None) -> None:
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


def _model(check: str, model) -> None:
    report_model(check, model)


def check_model_three_dense_layers(model) -> None:
    """Check that ``model`` is three Dense layers."""
    _model("model_three_dense_layers", model)


def check_model_units(model) -> None:
    """Check the units of the Dense layers (25, 15, 10)."""
    _model("model_units", model)


def check_model_input_features(model) -> None:
    """Check the declared input size (400 features, or none declared)."""
    _model("model_input_features", model)


def check_model_activations(model) -> None:
    """Check the activations by behaviour (relu, relu, linear)."""
    _model("model_activations", model)


def check_model_parameter_count(model) -> None:
    """Check the number of parameters (10,575)."""
    _model("model_parameter_count", model)


def check_model_loss_from_logits(model) -> None:
    """Check the loss takes logits, if the exercise cell compiled the model."""
    _model("model_loss_from_logits", model)


def require_model(model) -> None:
    """Raise :class:`ExerciseNotDone` unless ``model`` is a model (not the placeholder)."""
    if probes.is_unanswered(model) or model is None:
        raise ExerciseNotDone(
            "`model` is not ready: finish Exercise 2 and run its cell, then run this cell again."
        )
