"""Record one graded submission (the driver only): verdicts, autograded notebook, gradebook, record.

:func:`verdicts` judges each graded test cell's report outside the kernel; the course's
``Autograde`` converter then writes ``autograded/<student>/...`` and the gradebook, with the
sandboxed run standing in for its ``Execute`` step (:mod:`autograder.grading.autograde`); a
submission that could not run gets a placeholder notebook and zeros. Scores come back from the
gradebook, and the grading command's own record (:mod:`autograder.grading.state`) says which
file was graded and how the grading ended.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry
from nbgrader.coursedir import CourseDirectory
from sqlalchemy.exc import SAWarning

from autograder.grading import execute, judge, state
from autograder.grading.autograde import GradedRun, SandboxedAutograde
from autograder.grading.planning import Plan, course_directory, open_gradebook
from autograder.grading.preparation import Prepared, graded_id
from autograder.grading.submitted import read_secret
from autograder.kernel.protocol import Status, Verdict


@dataclasses.dataclass
class Outcome:
    """One row of the final table."""

    student: str
    score: float
    max_score: float
    seconds: float
    status: Status
    reason: str = ""
    sandbox: bool = True
    tests: dict[str, float] = dataclasses.field(default_factory=dict)
    sha256: str = ""
    worker: str = ""


def verdicts(
    plan: Plan, prepared: Prepared, result: execute.JobResult
) -> dict[str, judge.CellVerdict]:
    """Judge each graded test cell of an executed submission outside the kernel."""
    nb = nbformat.reads(result.notebook, as_version=4)
    job = prepared.job
    assert job is not None, "only a submission that ran has verdicts"
    reference = judge.reference_with(
        plan.reference, judge.extra_softmax_cases(plan.key, prepared.submission.sha256)
    )
    completed = set(result.completed)
    found = {}
    for index, cell in enumerate(nb.cells):
        grade_id = graded_id(cell)
        if grade_id not in prepared.calls or grade_id in found:
            continue
        calls = prepared.calls[grade_id]
        ran = index in completed
        if not calls:
            found[grade_id] = _verdict_without_checks(grade_id, cell, ran=ran)
            continue
        found[grade_id] = judge.judge_cell(
            grade_id,
            calls,
            cell.get("outputs", []),
            reference,
            ran=ran,
            model_file=result.model_facts,
            verify_model_file=job.options.verify_model_file,
        )
    return found


def _verdict_without_checks(
    grade_id: str, cell: nbformat.NotebookNode, *, ran: bool
) -> judge.CellVerdict:
    """Judge a test with no kernel checks: it can only be judged by whether it raised."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    passed = ran and not errors
    return judge.CellVerdict(
        grade_id,
        passed,
        Verdict.NO_CHECKS if passed else Verdict.FAILED,
        ["Judged in the kernel (this test reports no facts)."],
    )


def _autograded_folder(plan: Plan, student: str) -> Path:
    coursedir = course_directory(plan.config, plan.assignment, student)
    path = Path(coursedir.format_path(coursedir.autograded_directory, student, plan.assignment))
    return path if path.is_absolute() else plan.course_root / path


def _write_with_nbgrader(plan: Plan, prepared: Prepared, run: GradedRun) -> None:
    """Run the course's Autograde for one student, with ``run`` standing in for its Execute.

    nbgrader copies every file of the submission folder into ``autograded/`` and reads its
    ``timestamp.txt``. It is given a private copy of the folder instead, holding only the
    notebook bytes that were graded, the validated timestamp and submission secret (which
    ``release_feedback`` needs), so nothing else a student puts there reaches the autograded
    folder, the gradebook or this process.
    """
    sub = prepared.submission
    with tempfile.TemporaryDirectory(prefix="nn-grade-") as staging:
        folder = Path(staging) / sub.student / plan.assignment
        folder.mkdir(parents=True)
        (folder / f"{plan.notebook}.ipynb").write_bytes(prepared.data)
        if sub.timestamp is not None:
            (folder / "timestamp.txt").write_text(sub.timestamp)
        if (secret := read_secret(sub.path.parent)) is not None:
            (folder / "submission_secret.txt").write_text(secret)
        config = copy.deepcopy(plan.config)
        config.CourseDirectory.assignment_id = plan.assignment
        config.CourseDirectory.student_id = sub.student
        config.CourseDirectory.submitted_directory = staging
        config.Autograde.force = True
        coursedir = CourseDirectory(config=config)
        SandboxedAutograde(run=run, coursedir=coursedir, config=config).start()


def _zero_missing_and_comment(plan: Plan, student: str, status: Status, reason: str) -> None:
    """Score graded tests nbgrader left unscored as zero, and record the reason code."""
    coursedir = course_directory(plan.config, plan.assignment, student)
    with open_gradebook(coursedir) as gb:
        try:
            submission = gb.find_submission_notebook(plan.notebook, plan.assignment, student)
        except MissingEntry:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(plan.assignment, student)
            submission = gb.find_submission_notebook(plan.notebook, plan.assignment, student)
        for grade in submission.grades:
            if grade.name in plan.test_ids and grade.auto_score is None:
                grade.auto_score = 0.0
                grade.needs_manual_grade = False
        if status != Status.OK:
            for comment in submission.comments:
                comment.auto_comment = f"[{status}] {reason}"
        gb.db.commit()


def gradebook_scores(
    plan: Plan, students: Iterable[str]
) -> dict[str, tuple[float, dict[str, float]]]:
    """Return the total and per-test scores of those of ``students`` the gradebook has graded.

    One gradebook session for all of them: opening one costs nbgrader half a second.
    """
    found = {}
    coursedir = course_directory(plan.config, plan.assignment)
    with warnings.catch_warnings(), open_gradebook(coursedir) as gb:
        warnings.simplefilter("ignore", SAWarning)
        for student in students:
            try:
                submission = gb.find_submission_notebook(plan.notebook, plan.assignment, student)
            except MissingEntry:
                continue
            tests = {g.name: float(g.score or 0.0) for g in submission.grades}
            found[student] = (
                float(submission.score),
                {g: tests.get(g, 0.0) for g in plan.test_ids},
            )
    return found


def _placeholder_notebook(plan: Plan, status: Status, reason: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# {plan.notebook}: not graded\n\nYour submission could not be graded "
            f"(`{status}`): {reason}. Every test scored 0. Submit the notebook file itself "
            "(File > Save, then submit the `.ipynb`)."
        )
    ]
    return nb  # type: ignore[no-any-return]  # nbformat builds NotebookNodes untyped


def record(
    plan: Plan, prepared: Prepared, result: execute.JobResult | None, *, sandboxed: bool
) -> Outcome:
    """Write one submission's grades (driver only): autograded notebook, gradebook, record."""
    sub = prepared.submission
    status, reason = _final_status(prepared, result)
    if result is not None:
        test_reasons = _write_graded(plan, prepared, result)
    else:
        test_reasons = _write_placeholder(plan, sub.student, status, reason)
    _zero_missing_and_comment(plan, sub.student, status, reason)
    score, tests = gradebook_scores(plan, [sub.student])[sub.student]
    outcome = Outcome(
        student=sub.student,
        score=score,
        max_score=plan.max_score,
        seconds=result.seconds if result is not None else 0.0,
        status=status,
        reason=reason,
        sandbox=sandboxed,
        tests=tests,
        sha256=sub.sha256,
        worker=result.worker if result is not None else "",
    )
    state.write(
        plan.course_root,
        plan.assignment,
        state.Record(
            **dataclasses.asdict(outcome),
            timestamp=sub.timestamp,
            test_reasons=test_reasons,
            graded_at=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        ),
    )
    return outcome


def _final_status(prepared: Prepared, result: execute.JobResult | None) -> tuple[Status, str]:
    """Return how the grading ended: the run's failure first, else what preparing found."""
    status, reason = prepared.status, prepared.reason
    if result is None:
        return status, reason
    if result.status != Status.OK:
        return result.status, result.reason
    if status == Status.OK:
        reason = result.reason  # e.g. how many malformed kernel messages were dropped
    return status, reason


def _write_graded(plan: Plan, prepared: Prepared, result: execute.JobResult) -> dict[str, Verdict]:
    """Judge a submission that ran and write it with nbgrader; return each test's verdict."""
    found = verdicts(plan, prepared, result)
    executed = nbformat.reads(result.notebook, as_version=4)
    run = GradedRun(
        executed={
            i: c.get("outputs", []) for i, c in enumerate(executed.cells) if c.cell_type == "code"
        },
        verdicts={g: v.outputs() for g, v in found.items()},
    )
    _write_with_nbgrader(plan, prepared, run)
    return {g: v.reason for g, v in found.items()}


def _write_placeholder(plan: Plan, student: str, status: Status, reason: str) -> dict[str, Verdict]:
    """Write the notebook of a submission that could not run; return each test's verdict."""
    folder = _autograded_folder(plan, student)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{plan.notebook}.ipynb"
    if target.exists():
        target.chmod(0o644)
    nbformat.write(_placeholder_notebook(plan, status, reason), target)
    return {g: Verdict.NOT_RUN for g in plan.test_ids}


def recorded_outcomes(plan: Plan, records: dict[str, state.Record]) -> dict[str, Outcome]:
    """Return the table rows of earlier gradings, scores from the gradebook.

    ``records`` maps students to their valid records; a student the gradebook holds no grades
    for has no row.
    """
    found: dict[str, Outcome] = {}
    if not records:
        return found
    for student, (score, tests) in gradebook_scores(plan, records).items():
        kept = {f.name: getattr(records[student], f.name) for f in dataclasses.fields(Outcome)}
        found[student] = Outcome(**{**kept, "score": score, "tests": tests})
    return found
