"""Make one submission ready to run: read once, sanitised as nbgrader does, tests made probes.

:func:`prepare` reads the submitted notebook (the bytes judged are the bytes hashed and
recorded), refuses one that cannot be graded with the reason why, applies the course's
nbgrader sanitising preprocessors (graded cells restored from the gradebook) and rewrites each
graded test cell so the kernel only *reports* facts (:mod:`autograder.grading.judge`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import nbformat
from nbgrader.converters import Autograde

from autograder.grading import execute, judge
from autograder.grading.options import GradingOptions
from autograder.grading.planning import Plan, Submission, course_directory, sha256_hex
from autograder.grading.submitted import (
    MAX_NOTEBOOK_BYTES,
    SubmittedFileError,
    TooLarge,
    read_submitted,
)
from autograder.kernel.protocol import Status


@dataclasses.dataclass
class Prepared:
    """A submission ready to run, or the reason it cannot run."""

    submission: Submission
    job: execute.Job | None
    calls: dict[str, list[judge.CheckCall]]
    status: Status = Status.OK
    reason: str = ""
    data: bytes = b""


class _Ungradable(Exception):
    """Raise when a submitted notebook cannot run: the status and reason it is recorded with."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _resources(plan: Plan, student: str) -> dict[str, Any]:
    coursedir = course_directory(plan.config, plan.assignment, student)
    return {
        "unique_key": plan.notebook,
        "nbgrader": {
            "student": student,
            "assignment": plan.assignment,
            "notebook": plan.notebook,
            "db_url": coursedir.db_url,
        },
    }


def sanitize(plan: Plan, student: str, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Apply the course's nbgrader sanitising preprocessors (graded cells restored)."""
    converter = Autograde(
        coursedir=course_directory(plan.config, plan.assignment), config=plan.config
    )
    resources = _resources(plan, student)
    for cls in converter.sanitize_preprocessors:
        preprocessor = cls(config=plan.config)
        nb, resources = preprocessor.preprocess(nb, resources)
    return nb


def graded_id(cell: nbformat.NotebookNode) -> str | None:
    """Return the grade_id of a cell nbgrader grades, or None for any other cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if meta.get("grade") else None


def last_graded_index(nb: nbformat.NotebookNode) -> int | None:
    """Return the index of the last cell nbgrader grades or marks as a task, or None."""
    last = None
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") or meta.get("task") or meta.get("solution"):
            last = index
    return last


def prepare(plan: Plan, submission: Submission, options: GradingOptions) -> Prepared:
    """Sanitise a submission and rewrite its graded test cells into report-only probes.

    The notebook is read once, here: the bytes judged are the bytes hashed and recorded.
    """
    try:
        raw = read_submitted(submission.path, MAX_NOTEBOOK_BYTES)
    except (OSError, SubmittedFileError) as err:
        status = (
            Status.SUBMISSION_TOO_LARGE if isinstance(err, TooLarge) else Status.CORRUPT_NOTEBOOK
        )
        return Prepared(submission, None, {}, status, f"the notebook cannot be graded: {err}")
    submission = dataclasses.replace(submission, sha256=sha256_hex(raw))
    try:
        nb = _gradable_notebook(plan, submission.student, raw)
    except _Ungradable as refused:
        return Prepared(submission, None, {}, refused.status, refused.reason, raw)
    seed = judge.model_seed(plan.key, submission.sha256)
    calls = _rewrite_tests(plan, nb, submission.sha256, seed)
    status, reason = _problems(plan, submission, calls)
    job = execute.Job(
        student=submission.student,
        sha256=submission.sha256,
        notebook=nbformat.writes(nb),
        options=options,
        stop_after=last_graded_index(nb) if options.skip_after_last_graded else None,
        model_seed=seed,
        preload=plan.preload,
    )
    return Prepared(submission, job, calls, status, reason, raw)


def _gradable_notebook(plan: Plan, student: str, raw: bytes) -> nbformat.NotebookNode:
    """Return the submitted bytes as a sanitised notebook; raise :class:`_Ungradable` if none."""
    if not raw.strip():
        raise _Ungradable(Status.EMPTY_SUBMISSION, "the submitted file is empty")
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # any unreadable file is the student's problem, not ours
        text = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise _Ungradable(Status.CORRUPT_NOTEBOOK, f"not a readable notebook: {text}") from err
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in nb.cells):
        raise _Ungradable(Status.EMPTY_SUBMISSION, "the notebook has no code")
    try:
        return sanitize(plan, student, nb)
    except Exception as err:  # e.g. nbgrader metadata the student corrupted
        reason = f"nbgrader could not read it: {err}"[:300]
        raise _Ungradable(Status.INVALID_NOTEBOOK, reason) from err


def _rewrite_tests(
    plan: Plan, nb: nbformat.NotebookNode, sha256: str, seed: int
) -> dict[str, list[judge.CheckCall]]:
    """Rewrite each graded test cell of ``nb`` to its checks' probes; return each one's checks."""
    extra = judge.extra_softmax_cases(plan.key, sha256)
    calls = {}
    for cell in nb.cells:
        grade_id = graded_id(cell)
        if grade_id not in plan.test_ids or cell.cell_type != "code":
            continue
        calls[grade_id] = judge.expected_checks(cell.source)
        if calls[grade_id]:
            cell.source = judge.probe_source(calls[grade_id], extra, seed)
    return calls


def _problems(
    plan: Plan, submission: Submission, calls: dict[str, list[judge.CheckCall]]
) -> tuple[Status, str]:
    """Return the status a runnable submission is recorded with: a bad timestamp, missing tests."""
    status, reason = Status.OK, ""
    if submission.timestamp_problem:
        status, reason = Status.INVALID_TIMESTAMP, submission.timestamp_problem
    missing = [g for g in plan.test_ids if g not in calls]
    if missing:
        status = Status.GRADED_CELLS_MISSING
        reason = f"graded cells missing from the notebook: {', '.join(missing)}"
    return status, reason
