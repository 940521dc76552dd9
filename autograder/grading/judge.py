"""Judge graded test cells outside the student's kernel, from the facts the kernel reported.

A hidden test cell calls ``kernel.check_<name>(obj)``; inside the sandbox that call can only
*report* facts (a display output of MIME type :data:`autograder.kernel.FACTS_MIME`), because
the reference data is not there. This module, in the grading process:

1. finds the checks each test cell calls in the trusted source (:func:`expected_checks`),
2. rewrites the cell sent to the kernel so it runs only those reports, with extra softmax
   probes drawn per submission from a grader-held key (:func:`probe_source`), so hidden test
   code never reaches the kernel and precomputed answers do not help,
3. reads each report from that cell's own outputs only and judges it with
   :mod:`autograder.kernel.checks` against the reference (:func:`judge_cell`); a report that is
   missing, malformed, duplicated or unexpected earns nothing.

The model checks' facts (layers, activations) are the same for everyone, so they are not
taken from the kernel: the worker describes the model file the kernel saved without running
student code (:mod:`autograder.kernel.model_probe`), and the judge uses those facts. The file is tied
to the live ``model`` by its outputs on inputs drawn from a per-submission seed
(:func:`model_seed`): the kernel reports ``model``'s outputs, the worker recomputes them from
the file's weights. A kernel report that disagrees with the file (facts beyond float rounding,
:func:`facts_agree`; outputs beyond :data:`OUTPUT_RTOL`) is contradictory; without a loadable
file a model check earns nothing.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from autograder.kernel import cases, specs
from autograder.kernel.cases import ProbeCase
from autograder.kernel.protocol import FACTS_MIME, Verdict
from autograder.kernel.reference import Reference

#: A cell output, a kernel's report or a model file's facts: JSON from an untrusted kernel or
#: file, so of any shape until a judge reads it.
Json = dict[str, Any]

#: Why a check cannot pass: the verdict and the message the student reads.
Problem = tuple[Verdict, str]

#: Checks whose probes take softmax cases; extra per-submission cases are added to these.
SOFTMAX_CHECKS = specs.names("softmax")


#: Checks judged from the facts of the model file, not from what the kernel reports.
MODEL_CHECKS = specs.names("model")

#: Keys of a kernel's model report compared apart from the facts (how the save went, and
#: the outputs on the probe inputs).
_KERNEL_ONLY_KEYS = ("model_file", "outputs")

#: How far the outputs the kernel reports (TensorFlow, float32; on a GPU its matrix products
#: may use TF32, about 3 decimal digits) may lie from the outputs the grader computes from the
#: saved weights (NumPy, float64): relative, and absolute per unit of the outputs' largest
#: magnitude. Another model's outputs differ in the first digit.
OUTPUT_RTOL = 1e-2

#: Relative difference two reports of one float may show (activation outputs computed by
#: TensorFlow in the kernel and by NumPy in the grader differ in the last float32 digit).
FACT_RTOL = 1e-6


@dataclasses.dataclass(frozen=True)
class CheckCall:
    """One ``kernel.check_<name>(args)`` call found in a test cell."""

    name: str
    args: tuple[str, ...]


@dataclasses.dataclass
class CellVerdict:
    """The outside verdict for one graded test cell."""

    grade_id: str
    passed: bool
    reason: Verdict
    messages: list[str]

    def outputs(self) -> list[Json]:
        """Return the cell outputs that carry this verdict into nbgrader and the feedback."""
        if self.passed:
            text = "".join(f"Passed: {m}\n" for m in self.messages)
            return [{"output_type": "stream", "name": "stdout", "text": text}]
        text = " ".join(self.messages)
        return [
            {
                "output_type": "error",
                "ename": "CheckFailed",
                "evalue": text,
                "traceback": [f"CheckFailed [{self.reason}]: {text}"],
            }
        ]


def _call_name(func: ast.expr) -> str | None:
    """Return ``name`` for ``kernel.check_name`` / ``autograder.kernel.check_name``."""
    if isinstance(func, ast.Attribute) and func.attr.startswith("check_"):
        owner = func.value
        if (isinstance(owner, ast.Name) and owner.id == "kernel") or (
            isinstance(owner, ast.Attribute) and owner.attr == "kernel"
        ):
            return func.attr.removeprefix("check_")
    return None


def expected_checks(source: str) -> list[CheckCall]:
    """Return the kernel checks a (trusted) test cell's source calls, in order.

    Only calls whose arguments are plain names are kept (``kernel.check_x(my_softmax)``):
    those are the student's objects the probes describe.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[CheckCall] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node.func)
        if name is None or name not in specs.BY_NAME:
            continue
        if node.keywords or not all(isinstance(a, ast.Name) for a in node.args):
            continue
        found.append(CheckCall(name, tuple(a.id for a in node.args if isinstance(a, ast.Name))))
    found.sort(key=lambda call: list(specs.BY_NAME).index(call.name))
    return list(dict.fromkeys(found))


def extra_softmax_cases(key: bytes, submission_sha: str) -> dict[str, list[ProbeCase]]:
    """Return extra random softmax probes per check, fixed by ``key`` and the submission.

    The same submission gets the same probes on every worker and every run (so its score
    is reproducible); a student cannot know them without the grader's key.
    """
    digest = hashlib.sha256(key + submission_sha.encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    extra: dict[str, list[ProbeCase]] = {}
    for spec in specs.SPECS:
        if spec.probe_plan is None:
            continue
        (low, high), rows = spec.probe_plan.lengths, list[ProbeCase]()
        for k, dtype in enumerate(spec.probe_plan.dtypes):
            z = rng.uniform(-9.0, 9.0, size=int(rng.integers(low, high)))
            if spec.probe_plan.far:
                z += rng.choice([-1.0, 1.0]) * rng.uniform(720.0, 1000.0)
            z = np.round(z, 6)
            rows.append(cases.case(f"graded_{k}", z, dtype))
        extra[spec.name] = rows
    return extra


def model_seed(key: bytes, submission_sha: str) -> int:
    """Return the seed of the model probe inputs, fixed by ``key`` and the submission."""
    digest = hashlib.sha256(b"model-outputs:" + key + submission_sha.encode()).digest()
    return int.from_bytes(digest[:8], "little")


def reference_with(reference: Reference, extra: Mapping[str, list[ProbeCase]]) -> Reference:
    """Return ``reference`` with the expected outputs of the ``extra`` softmax probes added."""
    from autograder.grading.make_reference import reference_softmax

    merged = copy.deepcopy(reference)
    for name, rows in extra.items():
        for case in rows:
            expected = reference_softmax(cases.as_array(case))
            merged["softmax"]["checks"][name].append(
                {**case, "expected": [float(v) for v in expected]}
            )
    return merged


def probe_source(
    calls: list[CheckCall], extra: Mapping[str, list[ProbeCase]], seed: int | None = None
) -> str:
    """Return the code the kernel runs in place of a graded test cell: reports only.

    Model checks report the model's outputs on the probe inputs of ``seed`` (if given).
    """
    lines = [
        '"""Report facts for the grader (judged outside this kernel)."""',
        "from autograder import kernel as _nn_kernel",
        "from autograder.kernel import probes as _nn_probes",
    ]
    for call in calls:
        args = ", ".join(call.args)
        if call.name in SOFTMAX_CHECKS:
            probe_cases = list(specs.BY_NAME[call.name].cases) + extra.get(call.name, [])
            lines.append(
                f"_nn_kernel.run_check({call.name!r}, _nn_probes.softmax_facts({args}, "
                f"{json.dumps(probe_cases)}))"
            )
        elif call.name in MODEL_CHECKS and len(call.args) == 1:
            lines.append(f"_nn_kernel.report_model({call.name!r}, {args}, {seed!r})")
        else:
            lines.append(f"_nn_kernel.check_{call.name}({args})")
    return "\n".join(lines) + "\n"


def _reports(outputs: list[Json]) -> list[object]:
    found = []
    for output in outputs:
        data = output.get("data") or {}
        if FACTS_MIME in data:
            found.append(data[FACTS_MIME])
    return found


def facts_agree(a: object, b: object) -> bool:
    """Return True when two fact reports are equal, floats to :data:`FACT_RTOL`."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(facts_agree(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(facts_agree(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is float and type(b) is float:
        return math.isclose(a, b, rel_tol=FACT_RTOL, abs_tol=1e-9)
    return type(a) is type(b) and a == b


def outputs_agree(reported: object, computed: object) -> bool:
    """Return True when two lists of output rows are equal within :data:`OUTPUT_RTOL`."""
    try:
        a = np.asarray(reported, dtype=np.float64)
        b = np.asarray(computed, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        return False
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    scale = max(1.0, float(np.abs(b).max()))
    return bool(np.allclose(a, b, rtol=OUTPUT_RTOL, atol=OUTPUT_RTOL * scale))


def _file_ties_to_model(reported: Json, model_file: Json) -> Problem | None:
    """Return why the file's outputs do not tie it to the reported model, or None."""
    computed = model_file.get("outputs") or {}
    if not isinstance(computed, dict) or computed.get("values") is None:
        error = computed.get("error") if isinstance(computed, dict) else None
        return (
            Verdict.MODEL_UNVERIFIED,
            f"The grader could not evaluate the saved copy of your model ({error}). Fix: build "
            "the model from Keras's own layers and train it in the notebook.",
        )
    outputs = reported.get("outputs")
    if not isinstance(outputs, dict) or not outputs_agree(
        outputs.get("values"), computed["values"]
    ):
        return (
            Verdict.CONTRADICTORY_REPORT,
            "The saved copy of your model does not compute what your `model` computes, so the "
            "model tests earn nothing. Keep one `model`: build it in Exercise 2 and do not "
            "replace it or the saved file.",
        )
    return None


def verified_model_facts(
    reported: Json, model_file: Json | None
) -> tuple[Json | None, Problem | None]:
    """Return ``(facts, problem)``: the facts to judge a model check by, and why it cannot pass.

    ``reported`` is what the kernel reported, ``model_file`` the facts of the model file it
    saved (None: no file). ``problem`` is ``(reason, message)`` or None. Without a file the
    reported facts are still judged, so a model that is plainly missing or wrong gets the
    usual message, but they can never pass.
    """
    if model_file is None:
        error = (reported.get("model_file") or {}).get("error")
        why = f" (saving it failed: {error})" if error else ""
        return reported, (
            Verdict.MODEL_UNVERIFIED,
            f"The grader found no saved copy of your model to check{why}. Fix: make sure "
            "`model` is a Keras model built in Exercise 2 and that the notebook runs to the "
            "model tests without errors.",
        )
    if "load_error" in model_file:
        return None, (
            Verdict.MODEL_UNVERIFIED,
            f"The grader could not load the saved copy of your model ({model_file['load_error']})."
            " Fix: build the model from Keras's own layers and activations (no lambda or "
            "custom functions).",
        )
    kernel_facts = {k: v for k, v in reported.items() if k not in _KERNEL_ONLY_KEYS}
    file_facts = {k: v for k, v in model_file.items() if k not in _KERNEL_ONLY_KEYS}
    if not facts_agree(kernel_facts, file_facts):
        return None, (
            Verdict.CONTRADICTORY_REPORT,
            "This test's report does not describe the model your notebook saved, so it "
            "earns nothing. Run the notebook as released, without changing how cells run.",
        )
    problem = _file_ties_to_model(reported, model_file)
    if problem is not None:
        return None, problem
    return file_facts, None


class _Rejected(Exception):
    """A check's report earns nothing: the verdict and the message the student reads."""

    def __init__(self, verdict: Verdict, message: str) -> None:
        super().__init__(message)
        self.verdict, self.message = verdict, message


_MALFORMED = (Verdict.MALFORMED_REPORT, "The test's report was malformed.")


def _reports_by_check(outputs: list[Json], expected: list[str]) -> dict[str, list[Json]]:
    """Return the facts reported in ``outputs``, by check; reject malformed or unexpected ones."""
    by_check: dict[str, list[Json]] = {}
    for report in _reports(outputs):
        if (
            not isinstance(report, dict)
            or not isinstance(report.get("check"), str)
            or not isinstance(report.get("facts"), dict)
        ):
            raise _Rejected(*_MALFORMED)
        by_check.setdefault(report["check"], []).append(report["facts"])
    if set(by_check) - set(expected):
        raise _Rejected(Verdict.UNEXPECTED_REPORT, "This test reported results it does not check.")
    return by_check


def _judge_check(
    name: str,
    found: list[Json],
    reference: Reference,
    *,
    model_file: Json | None,
    verify_model_file: bool,
) -> str:
    """Return the passing message of check ``name`` on its one report; else reject it."""
    if not found:
        raise _Rejected(
            Verdict.MISSING_REPORT,
            "No result was reported for this test (did a cell stop it from running?).",
        )
    if len(found) > 1:
        raise _Rejected(Verdict.DUPLICATE_REPORT, "This test reported more than one result.")
    facts: Json | None = found[0]
    problem: Problem | None = None
    if name in MODEL_CHECKS and verify_model_file:
        facts, problem = verified_model_facts(found[0], model_file)
    if facts is None:
        assert problem is not None, "verified_model_facts gives facts or a problem"
        raise _Rejected(*problem)
    try:
        result = specs.judge(specs.BY_NAME[name], facts, reference)
    except Exception:  # malformed facts crash a judge: they earn nothing
        raise _Rejected(*_MALFORMED) from None
    if not result.passed:
        raise _Rejected(Verdict.FAILED, result.message)
    if problem is not None:
        raise _Rejected(*problem)
    return result.message


def judge_cell(
    grade_id: str,
    calls: list[CheckCall],
    outputs: list[Json],
    reference: Reference,
    *,
    ran: bool,
    model_file: Json | None = None,
    verify_model_file: bool = True,
) -> CellVerdict:
    """Judge one graded test cell from its own outputs against ``reference``.

    Model checks are judged from ``model_file``, the facts of the model file the kernel
    saved (see :func:`verified_model_facts`); with ``verify_model_file=False`` they are judged
    from the kernel's own report.
    """
    if not ran:
        return CellVerdict(
            grade_id, False, Verdict.NOT_RUN, ["This test did not run (see the grading status)."]
        )
    expected = [call.name for call in calls]
    try:
        by_check = _reports_by_check(outputs, expected)
        messages = [
            _judge_check(
                name,
                by_check.get(name, []),
                reference,
                model_file=model_file,
                verify_model_file=verify_model_file,
            )
            for name in expected
        ]
    except _Rejected as rejected:
        return CellVerdict(grade_id, False, rejected.verdict, [rejected.message])
    return CellVerdict(grade_id, True, Verdict.PASSED, messages)
