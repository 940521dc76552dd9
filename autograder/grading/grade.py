"""Grade every submission of an assignment: in parallel, sandboxed, judged outside the kernel.

The driver (this process) is the only writer of the gradebook and of ``autograded/``:

1. For each submission it reads the notebook, hashes it (unchanged ones are skipped unless
   ``force``), applies nbgrader's own sanitising preprocessors (graded cells restored from the
   gradebook) and rewrites each graded test cell so the kernel only *reports* facts.
2. A Dask worker runs the notebook in a sandboxed kernel (:func:`autograder.grading.execute.run_job`).
3. Back in the driver, :mod:`autograder.grading.judge` turns each test cell's report into a verdict
   (model checks from the facts of the model file the worker described, not the kernel's),
   and the course's ``Autograde`` converter writes ``autograded/<student>/...`` and the
   gradebook, with the sandboxed run standing in for its ``Execute`` step
   (:mod:`autograder.grading.autograde`).

:func:`grade` runs these steps for one :class:`~autograder.grading.options.GradingOptions`
(the command's, :mod:`autograder.grading.app`); :func:`grade_assignment` is the same with
keyword arguments, for the watcher and scripts.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder.grading import execute, judge, report, sandbox, state
from autograder.grading.autograde import GradedRun, SandboxedAutograde
from autograder.grading.options import GradingOptions, default_workers
from autograder.grading.sandbox import GradingLimits as GradingLimits
from autograder.grading.submitted import MAX_NOTEBOOK_BYTES as MAX_NOTEBOOK_BYTES
from autograder.grading.submitted import SubmittedFileError as SubmittedFileError
from autograder.grading.submitted import TooLarge as TooLarge
from autograder.grading.submitted import read_secret as read_secret
from autograder.grading.submitted import read_submitted as read_submitted
from autograder.grading.submitted import read_submitted_at as read_submitted_at
from autograder.grading.submitted import read_timestamp as read_timestamp
from autograder.kernel.protocol import Status, Verdict

if TYPE_CHECKING:
    from distributed import Client

    from autograder.kernel.reference import Reference


class GradingSetupError(ValueError):
    """Raise when the course is not ready to grade (no assignment, no such submission)."""


@dataclasses.dataclass
class Submission:
    """One student's submitted notebook and its submission time as nbgrader recorded it."""

    student: str
    path: Path
    sha256: str
    timestamp: str | None = None
    timestamp_problem: str = ""


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


@dataclasses.dataclass
class Plan:
    """What the driver needs to know about the assignment, read once."""

    course_root: Path
    assignment: str
    notebook: str
    config: Config
    reference: Reference
    key: bytes
    points: dict[str, float]
    max_score: float

    @property
    def test_ids(self) -> list[str]:
        """Return the grade_ids of the graded tests, in notebook order."""
        return list(self.points)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_config(course_root: Path) -> Config:
    """Return the course's nbgrader configuration, rooted at ``course_root``.

    Read where nbgrader reads it (:func:`autograder.grading.app.course_config`).
    """
    from autograder.grading.app import course_config

    return course_config(course_root)


def course_directory(plan_config: Config, assignment: str, student: str = "*") -> CourseDirectory:
    """Return nbgrader's view of the course for ``assignment`` (and ``student``; * is all)."""
    config = copy.deepcopy(plan_config)
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    return CourseDirectory(config=config)


def open_gradebook(coursedir: CourseDirectory) -> Gradebook:
    """Return the course's gradebook, opened for its course id (never nbgrader's default one)."""
    return Gradebook(coursedir.db_url, coursedir.course_id)


def make_plan(
    *,
    course_root: Path,
    assignment: str,
    overrides: Config | None = None,
    config: Config | None = None,
) -> Plan:
    """Read the assignment's graded cells from the gradebook and the reference data.

    ``config`` is the configuration already loaded (the command's); without it the course's
    is loaded, with ``overrides`` (e.g. flags) taking precedence over ``nbgrader_config.py``.
    """
    from autograder.kernel.reference import load

    if not (course_root / "nbgrader_config.py").is_file():
        raise GradingSetupError(
            f"{course_root} is not an nbgrader course root (it has no nbgrader_config.py): run "
            "the command from the course root (autograder/course) or pass --course-root"
        )
    if config is None:
        config = load_config(course_root)
    if overrides is not None:
        config = copy.deepcopy(config)
        config.merge(overrides)
    coursedir = course_directory(config, assignment)
    db_url = coursedir.db_url
    with open_gradebook(coursedir) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry as err:
            raise GradingSetupError(
                f"assignment {assignment!r} is not in the gradebook {db_url}: run "
                f"`nbgrader generate_assignment {assignment}` in {course_root} first"
            ) from err
        if len(found.notebooks) != 1:
            raise GradingSetupError(f"{assignment} must have exactly one notebook to grade")
        notebook = found.notebooks[0]
        solutions = {s.name for s in notebook.solution_cells}
        points = {
            c.name: float(c.max_score) for c in notebook.grade_cells if c.name not in solutions
        }
        max_score = float(notebook.max_score)
        notebook_name = notebook.name
    return Plan(
        course_root=course_root,
        assignment=assignment,
        notebook=notebook_name,
        config=config,
        reference=load(),
        key=state.probe_key(course_root),
        points=points,
        max_score=max_score,
    )


def find_submissions(plan: Plan, student: str | None = None) -> list[Submission]:
    """Return the submissions under ``submitted/``, one per student, sorted by student."""
    coursedir = course_directory(plan.config, plan.assignment)
    root = Path(coursedir.submitted_directory)
    if not root.is_absolute():
        root = plan.course_root / root
    found = []
    for folder in sorted(root.glob("*")):
        if student is not None and folder.name != student:
            continue
        path = folder / plan.assignment / f"{plan.notebook}.ipynb"
        try:
            digest = _sha256(read_submitted(path, MAX_NOTEBOOK_BYTES))
        except FileNotFoundError:
            continue
        except SubmittedFileError:
            digest = _sha256(b"")  # prepare() says what is wrong with it
        timestamp, problem = read_timestamp(path.parent)
        found.append(Submission(folder.name, path, digest, timestamp, problem))
    if student is not None and not found:
        raise GradingSetupError(f"no submission for student {student!r} under {root}")
    return found


def _autograded_folder(plan: Plan, student: str) -> Path:
    coursedir = course_directory(plan.config, plan.assignment, student)
    path = Path(coursedir.format_path(coursedir.autograded_directory, student, plan.assignment))
    return path if path.is_absolute() else plan.course_root / path


def read_state(plan: Plan, student: str) -> state.Record | None:
    """Return the valid record of ``student``'s last grading, or None."""
    return state.read(plan.course_root, plan.assignment, student, plan.points)


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


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
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


@dataclasses.dataclass
class Prepared:
    """A submission ready to run, or the reason it cannot run."""

    submission: Submission
    job: execute.Job | None
    calls: dict[str, list[judge.CheckCall]]
    status: Status = Status.OK
    reason: str = ""
    data: bytes = b""


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
    submission = dataclasses.replace(submission, sha256=_sha256(raw))
    if not raw.strip():
        return Prepared(
            submission, None, {}, Status.EMPTY_SUBMISSION, "the submitted file is empty", raw
        )
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # any unreadable file is the student's problem, not ours
        text = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        return Prepared(
            submission, None, {}, Status.CORRUPT_NOTEBOOK, f"not a readable notebook: {text}", raw
        )
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in nb.cells):
        return Prepared(
            submission, None, {}, Status.EMPTY_SUBMISSION, "the notebook has no code", raw
        )
    try:
        nb = sanitize(plan, submission.student, nb)
    except Exception as err:  # e.g. nbgrader metadata the student corrupted
        reason = f"nbgrader could not read it: {err}"[:300]
        return Prepared(submission, None, {}, Status.INVALID_NOTEBOOK, reason, raw)
    extra = judge.extra_softmax_cases(plan.key, submission.sha256)
    seed = judge.model_seed(plan.key, submission.sha256)
    calls = {}
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        if grade_id not in plan.test_ids or cell.cell_type != "code":
            continue
        calls[grade_id] = judge.expected_checks(cell.source)
        if calls[grade_id]:
            cell.source = judge.probe_source(calls[grade_id], extra, seed)
    status, reason = Status.OK, ""
    if submission.timestamp_problem:
        status, reason = Status.INVALID_TIMESTAMP, submission.timestamp_problem
    missing = [g for g in plan.test_ids if g not in calls]
    if missing:
        status = Status.GRADED_CELLS_MISSING
        reason = f"graded cells missing from the notebook: {', '.join(missing)}"
    job = execute.Job(
        student=submission.student,
        sha256=submission.sha256,
        notebook=nbformat.writes(nb),
        options=options,
        stop_after=last_graded_index(nb) if options.skip_after_last_graded else None,
        model_seed=seed,
    )
    return Prepared(submission, job, calls, status, reason, raw)


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
        grade_id = _grade_id(cell)
        if grade_id not in prepared.calls or grade_id in found:
            continue
        calls = prepared.calls[grade_id]
        ran = index in completed
        if calls:
            found[grade_id] = judge.judge_cell(
                grade_id,
                calls,
                cell.get("outputs", []),
                reference,
                ran=ran,
                model_file=result.model_facts,
                verify_model_file=job.options.verify_model_file,
            )
        else:
            # A test with no kernel checks can only be judged by whether it raised.
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            passed = ran and not errors
            found[grade_id] = judge.CellVerdict(
                grade_id,
                passed,
                Verdict.NO_CHECKS if passed else Verdict.FAILED,
                ["Judged in the kernel (this test reports no facts)."],
            )
    return found


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
    status, reason = prepared.status, prepared.reason
    seconds = 0.0
    if result is not None:
        if result.status != Status.OK:
            status, reason = result.status, result.reason
        elif status == Status.OK:
            reason = result.reason  # e.g. how many malformed kernel messages were dropped
        seconds = result.seconds
        found = verdicts(plan, prepared, result)
        executed = nbformat.reads(result.notebook, as_version=4)
        run = GradedRun(
            executed={
                i: c.get("outputs", [])
                for i, c in enumerate(executed.cells)
                if c.cell_type == "code"
            },
            verdicts={g: v.outputs() for g, v in found.items()},
        )
        _write_with_nbgrader(plan, prepared, run)
        tests_reason = {g: v.reason for g, v in found.items()}
    else:
        folder = _autograded_folder(plan, sub.student)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{plan.notebook}.ipynb"
        if target.exists():
            target.chmod(0o644)
        nbformat.write(_placeholder_notebook(plan, status, reason), target)
        tests_reason = {g: Verdict.NOT_RUN for g in plan.test_ids}
    _zero_missing_and_comment(plan, sub.student, status, reason)
    score, tests = gradebook_scores(plan, [sub.student])[sub.student]
    outcome = Outcome(
        student=sub.student,
        score=score,
        max_score=plan.max_score,
        seconds=seconds,
        status=status,
        reason=reason,
        sandbox=sandboxed,
        tests=tests,
        sha256=sub.sha256,
        worker=result.worker if result is not None else "",
    )
    record = state.Record(
        **dataclasses.asdict(outcome),
        timestamp=sub.timestamp,
        test_reasons=tests_reason,
        graded_at=datetime.datetime.now(datetime.timezone.utc).isoformat(),
    )
    state.write(plan.course_root, plan.assignment, record)
    return outcome


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


def select_submissions(
    plan: Plan, *, student: str | None = None, force: bool = False
) -> tuple[list[Submission], dict[str, Outcome]]:
    """Return the submissions to grade, and the recorded outcomes of those unchanged since.

    A submission is unchanged when its notebook's hash and its timestamp equal those of its
    last grading; ``force`` grades every submission.
    """
    submissions = find_submissions(plan, student)
    unchanged = {}
    for sub in [] if force else submissions:
        last = read_state(plan, sub.student)
        if last and (last.sha256, last.timestamp) == (sub.sha256, sub.timestamp):
            unchanged[sub.student] = last
    kept = {
        name: dataclasses.replace(row, status=Status.UNCHANGED)
        for name, row in recorded_outcomes(plan, unchanged).items()
    }
    return [sub for sub in submissions if sub.student not in kept], kept


@dataclasses.dataclass
class Batch:
    """The submissions of one grading run: their outcomes as the jobs come back."""

    plan: Plan
    sandboxed: bool
    progress: report.Progress
    on_result: Callable[[Outcome], None] | None = None
    outcomes: dict[str, Outcome] = dataclasses.field(default_factory=dict)

    def _add(self, outcome: Outcome) -> None:
        self.outcomes[outcome.student] = outcome
        self.progress.update(outcome)
        if self.on_result is not None:
            self.on_result(outcome)

    def _grading_error(self, prepared: Prepared, reason: str) -> Outcome:
        return Outcome(
            prepared.submission.student,
            0.0,
            self.plan.max_score,
            0.0,
            Status.GRADING_ERROR,
            reason[:300],
            self.sandboxed,
            sha256=prepared.submission.sha256,
        )

    def finish(self, prepared: Prepared, result: execute.JobResult | None) -> None:
        """Record one submission's result; a failure to record is that submission's outcome."""
        try:
            with warnings.catch_warnings():
                # nbgrader's gradebook API trips SQLAlchemy autoflush warnings; not ours to fix.
                warnings.simplefilter("ignore", SAWarning)
                outcome = record(self.plan, prepared, result, sandboxed=self.sandboxed)
        except Exception as err:  # one submission's failure must not stop the batch
            outcome = self._grading_error(prepared, f"{type(err).__name__}: {err}")
        self._add(outcome)

    def lost(self, prepared: Prepared, err: BaseException) -> None:
        """Record a job no worker could finish (retried on the next run)."""
        self._add(self._grading_error(prepared, f"not graded (will be retried next run): {err}"))


def run_submissions(
    batch: Batch,
    todo: list[Submission],
    options: GradingOptions,
    *,
    client: Client | None = None,
) -> None:
    """Prepare each submission, run its job on the cluster and record it in ``batch``.

    ``client`` is a connected Dask client (the watcher's); without one the cluster is
    ``options.scheduler``, or a local one started for this call.
    """
    from autograder.grading import cluster

    def jobs() -> Iterator[Prepared]:
        for sub in todo:
            prepared = prepare(batch.plan, sub, options)
            if prepared.job is None:  # nothing to run: recorded from what prepare found
                batch.finish(prepared, None)
            else:
                yield prepared

    cluster.run_jobs(
        jobs(),
        on_done=batch.finish,
        on_lost=batch.lost,
        workers=options.workers,
        scheduler=client or options.scheduler,
    )


def write_class_report(
    plan: Plan, outcomes: dict[str, Outcome], *, partial: bool, folder: Path
) -> Path:
    """Write the CSV of the whole class; with ``partial``, others keep their last record."""
    everyone = dict(outcomes)
    if partial:
        others = {sub.student for sub in find_submissions(plan)} - set(everyone)
        records = {name: r for name in others if (r := read_state(plan, name)) is not None}
        everyone.update(recorded_outcomes(plan, records))
    return report.write_csv([everyone[s] for s in sorted(everyone)], plan, folder)


def grade(
    options: GradingOptions,
    *,
    config: Config | None = None,
    client: Client | None = None,
    on_result: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Grade the submissions of ``options.assignment``; return one :class:`Outcome` per student.

    The steps: :func:`select_submissions` (new or changed ones), :func:`run_submissions`
    (prepare, run on the cluster, record each into a :class:`Batch`) and
    :func:`write_class_report`. ``config`` is the course's configuration already loaded (the
    command's; default: loaded from the course root), ``client`` a connected Dask client to
    use instead of ``options.scheduler``, ``on_result`` called with each outcome as it comes.

    Raises :class:`~autograder.grading.sandbox.SandboxUnavailable` when kernels cannot be
    confined as ``options`` ask, :class:`GradingSetupError` when the course is not ready.
    """
    sandbox.check_available(options.limits, sandboxed=options.sandboxed)
    if options.scheduler:
        from autograder.grading import cluster

        cluster.check_scheduler(options.scheduler)
    plan = make_plan(course_root=options.course_root, assignment=options.assignment, config=config)
    todo, unchanged = select_submissions(plan, student=options.student, force=options.force)
    progress = report.Progress(
        total=len(todo), json_path=options.progress_json, bar=options.show_progress
    )
    batch = Batch(plan, options.sandboxed, progress, on_result, outcomes=dict(unchanged))
    try:
        run_submissions(batch, todo, options, client=client)
    finally:
        progress.close()
    write_class_report(
        plan, batch.outcomes, partial=options.student is not None, folder=options.reports
    )
    return [batch.outcomes[s] for s in sorted(batch.outcomes)]


def grade_assignment(
    *,
    assignment: str,
    course_root: str | Path = ".",
    workers: int | None = None,
    scheduler: str | Client | None = None,
    config: Config | None = None,
    limits: sandbox.Limits | None = None,
    on_result: Callable[[Outcome], None] | None = None,
    **options: Any,
) -> list[Outcome]:
    """Grade as :func:`grade` does, from keyword arguments (the watcher's and scripts' entry).

    ``options`` are :class:`GradingOptions` fields (``force``, ``student``, ``sandboxed``,
    ...). ``config`` overrides the course's configuration (as flags do); ``limits`` default
    to ``c.GradingLimits`` as configured; ``scheduler`` may be a connected Dask client.
    """
    course_root = Path(course_root).resolve()
    workers = workers or default_workers()
    loaded = load_config(course_root)
    if config is not None:
        loaded.merge(config)
    limits = limits or GradingLimits(config=loaded).limits(workers=workers)
    client = None if scheduler is None or isinstance(scheduler, str) else scheduler
    settings = GradingOptions(
        assignment=assignment,
        course_root=course_root,
        limits=limits,
        workers=workers,
        scheduler=scheduler if isinstance(scheduler, str) else None,
        **options,
    )
    return grade(settings, config=loaded, client=client, on_result=on_result)
