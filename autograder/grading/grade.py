"""Grade every submission of an assignment: in parallel, sandboxed, judged outside the kernel.

The driver (this process) is the only writer of the gradebook and of ``autograded/``:

1. For each submission it reads the notebook, hashes it (unchanged ones are skipped unless
   ``force``), applies nbgrader's own sanitising preprocessors (graded cells restored from the
   gradebook) and rewrites each graded test cell so the kernel only *reports* facts.
2. A Dask worker runs the notebook in a sandboxed kernel (:func:`autograder.grading.execute.run_job`).
3. Back in the driver, :mod:`autograder.grading.judge` turns each test cell's report into a verdict
   (model checks from the facts of the model file the worker described, not the kernel's),
   and nbgrader's stock ``Autograde`` converter writes ``autograded/<student>/...`` and the
   gradebook, with :class:`InjectExecution` standing in for its ``Execute`` step.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import parse_utc
from sqlalchemy.exc import SAWarning
from traitlets import Dict, Float, Int
from traitlets.config import Config, Configurable, PyFileConfigLoader

from autograder.grading import execute, judge, report, sandbox, state
from autograder.kernel.protocol import Status, Verdict

if TYPE_CHECKING:
    from distributed import Client

#: Largest submitted notebook the grader reads.
MAX_NOTEBOOK_BYTES = 64 * 1024**2
#: Largest ``timestamp.txt`` the grader reads (nbgrader writes about 30 bytes).
_MAX_TIMESTAMP_BYTES = 256


class GradingSetupError(ValueError):
    """Raise when the course is not ready to grade (no assignment, no such submission)."""


class SubmittedFileError(ValueError):
    """Raise when a submitted file is not a regular file the grader may read."""


class TooLarge(SubmittedFileError):
    """Raise when a submitted file is larger than the grader reads."""


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
    status: str
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
    reference: dict
    key: bytes
    points: dict[str, float]
    max_score: float

    @property
    def test_ids(self) -> list[str]:
        """Return the grade_ids of the graded tests, in notebook order."""
        return list(self.points)


class InjectExecution(NbGraderPreprocessor):
    """Put the sandboxed run's outputs and the outside verdicts into the notebook.

    Stands in for nbgrader's ``Execute`` in the ``Autograde`` pipeline: the notebook is not
    run again; each graded test cell gets the verdict's output (clean if passed, an error
    otherwise), every other cell the outputs its sandboxed run produced.
    """

    executed = Dict(help="Code-cell outputs of the sandboxed run, by cell index.").tag(config=True)
    verdicts = Dict(help="Outputs of each graded test cell, by grade_id.").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in self.verdicts:
            cell.outputs = [nbformat.from_dict(o) for o in self.verdicts[grade_id]]
        else:
            cell.outputs = [nbformat.from_dict(o) for o in self.executed.get(str(index), [])]
        return cell, resources


_GIB, _MIB = 1024**3, 1024**2


class GradingLimits(Configurable):
    """The grading command's limits per submission, settable in ``nbgrader_config.py``.

    For example ``c.GradingLimits.cell_timeout = 600``; the command's flags override the
    configuration. Defaults are :class:`autograder.grading.sandbox.Limits`'s.
    """

    cell_timeout = Float(sandbox.Limits.cell_timeout, help="Seconds one cell may run.").tag(
        config=True
    )
    total_timeout = Float(
        sandbox.Limits.total_timeout, help="Seconds all cells of a submission may run together."
    ).tag(config=True)
    memory_gib = Float(
        sandbox.Limits.memory / _GIB, help="Address space per kernel process, in GiB."
    ).tag(config=True)
    disk_gib = Float(
        sandbox.Limits.disk / _GIB,
        help="Files a kernel may keep in /tmp (its working folder) and /dev/shm, in GiB.",
    ).tag(config=True)
    max_processes = Int(
        sandbox.Limits.processes,
        help="Processes and threads per kernel, counted together, the sandbox's own included.",
    ).tag(config=True)
    output_mib = Float(
        sandbox.Limits.output_size / _MIB, help="Bytes a kernel may send, in MiB."
    ).tag(config=True)
    threads = Int(sandbox.Limits.threads, help="Threads per kernel (0: cores / workers).").tag(
        config=True
    )

    def limits(self, *, workers: int) -> sandbox.Limits:
        """Return these settings as :class:`autograder.grading.sandbox.Limits` for ``workers`` jobs."""
        return sandbox.Limits(
            cell_timeout=self.cell_timeout,
            total_timeout=self.total_timeout,
            memory=int(self.memory_gib * _GIB),
            disk=int(self.disk_gib * _GIB),
            processes=self.max_processes,
            output_size=int(self.output_mib * _MIB),
            threads=self.threads or max(1, (os.cpu_count() or 1) // workers),
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_config(course_root: Path) -> Config:
    """Return the course's nbgrader configuration, rooted at ``course_root``."""
    config = Config()
    if (course_root / "nbgrader_config.py").is_file():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    config.CourseDirectory.root = str(course_root)
    return config


def course_directory(plan_config: Config, assignment: str, student: str = "*") -> CourseDirectory:
    """Return nbgrader's view of the course for ``assignment`` (and ``student``; * is all)."""
    config = copy.deepcopy(plan_config)
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    return CourseDirectory(config=config)


def make_plan(*, course_root: Path, assignment: str, overrides: Config | None = None) -> Plan:
    """Read the assignment's graded cells from the gradebook and the reference data.

    ``overrides`` (e.g. the command's flags) take precedence over ``nbgrader_config.py``.
    """
    from autograder.kernel.reference import load

    if not (course_root / "nbgrader_config.py").is_file():
        raise GradingSetupError(
            f"{course_root} is not an nbgrader course root (it has no nbgrader_config.py): run "
            "the command from the course root (autograder/course) or pass --course-root"
        )
    config = load_config(course_root)
    if overrides is not None:
        config.merge(overrides)
    coursedir = course_directory(config, assignment)
    db_url = coursedir.db_url
    with Gradebook(db_url) as gb:
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


def read_submitted(path: Path | str, limit: int, *, dir_fd: int | None = None) -> bytes:
    """Return the bytes of the submitted file ``path``, read without following links.

    With ``dir_fd``, ``path`` is a name in the folder open as that descriptor (see
    :func:`read_submitted_at`). Raises :class:`SubmittedFileError` for a link, a folder, a FIFO
    or a file over ``limit`` bytes, and FileNotFoundError when there is no file.
    """
    return read_submitted_at(path, limit, dir_fd=dir_fd)[0]


def read_submitted_at(
    path: Path | str, limit: int, *, dir_fd: int | None = None
) -> tuple[bytes, os.stat_result]:
    """Return the bytes of the submitted file ``path`` and its ``fstat``, from one descriptor.

    ``path`` is opened once (relative to ``dir_fd`` when given: the folder a caller checked),
    without following a link and without blocking on a FIFO; the file's type, size and change
    time are those of that descriptor, so nothing swapped in by path afterwards is read.
    Raises as :func:`read_submitted`.
    """
    name = Path(path).name
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise SubmittedFileError(f"{name} cannot be read: {err.strerror}") from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # os.fdopen refuses a folder: check before it
            raise SubmittedFileError(f"{name} is not a regular file")
        if info.st_size > limit:
            raise TooLarge(f"{name} is larger than {limit} bytes")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{name} is larger than {limit} bytes")
    return data, info


def read_timestamp(folder: Path) -> tuple[str | None, str]:
    """Return the submission time in ``folder/timestamp.txt`` (ISO format) and any problem.

    A missing or empty file is no timestamp, as in nbgrader; anything that is not a date gives
    ``(None, reason)``: the submission is then graded as if it had no timestamp.
    """
    try:
        text = read_submitted(folder / "timestamp.txt", _MAX_TIMESTAMP_BYTES)
    except FileNotFoundError:
        return None, ""
    except SubmittedFileError as err:
        return None, f"timestamp.txt ignored: {err}"
    try:
        value = text.decode("utf-8").strip()
        return (parse_utc(value).isoformat() if value else None), ""
    except (UnicodeDecodeError, ValueError, OverflowError, TypeError):
        return None, "timestamp.txt ignored: it is not a date"


#: What ``nbgrader submit`` writes to ``submission_secret.txt``: hex digits (a few dozen).
_SECRET = re.compile(r"[0-9a-f]{1,256}")


def read_secret(
    folder: Path | None = None, *, dir_fd: int | None = None, strict: bool = False
) -> str | None:
    """Return the submission's ``submission_secret.txt`` if it is hex digits, else None.

    ``nbgrader submit`` writes it; ``release_feedback`` names a student's feedback file by it,
    so it must reach ``autograded/``. Anything else a student puts there is ignored. With
    ``dir_fd`` the file is read from the folder open as that descriptor (``folder`` unused).
    ``strict`` raises :class:`SubmittedFileError` for a link, a FIFO, a folder or a large
    file in its place, which ``nbgrader submit`` never writes, instead of ignoring it.
    """
    name = "submission_secret.txt"
    try:
        data = read_submitted(name if dir_fd is not None else folder / name, 1024, dir_fd=dir_fd)
        text = data.decode("ascii").strip()
    except SubmittedFileError:
        if strict:
            raise
        return None
    except (OSError, UnicodeDecodeError):
        return None
    return text if _SECRET.fullmatch(text) else None


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


def _resources(plan: Plan, student: str) -> dict:
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


def _grade_id(cell) -> str | None:
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


def prepare(
    plan: Plan,
    submission: Submission,
    *,
    limits: sandbox.Limits,
    sandboxed: bool,
    skip_after_last_graded: bool,
    verify_model_file: bool = True,
) -> Prepared:
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
        limits=limits,
        sandboxed=sandboxed,
        stop_after=last_graded_index(nb) if skip_after_last_graded else None,
        verify_model_file=verify_model_file,
        model_seed=seed,
    )
    return Prepared(submission, job, calls, status, reason, raw)


def verdicts(
    plan: Plan, prepared: Prepared, result: execute.JobResult
) -> dict[str, judge.CellVerdict]:
    """Judge each graded test cell of an executed submission outside the kernel."""
    nb = nbformat.reads(result.notebook, as_version=4)
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
                verify_model_file=prepared.job.verify_model_file,
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


def _write_with_nbgrader(plan: Plan, prepared: Prepared, config_update: dict) -> None:
    """Run nbgrader's Autograde for one student with our Execute stand-in.

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
        config.InjectExecution.executed = config_update["executed"]
        config.InjectExecution.verdicts = config_update["verdicts"]
        coursedir = CourseDirectory(config=config)
        converter = Autograde(coursedir=coursedir, config=config)
        pipeline = [
            InjectExecution if isinstance(pp, type) and issubclass(pp, ExecutePreprocessor) else pp
            for pp in converter.autograde_preprocessors
        ]
        config.Autograde.autograde_preprocessors = pipeline
        converter = Autograde(coursedir=coursedir, config=config)
        converter.start()


def _zero_missing_and_comment(plan: Plan, student: str, status: str, reason: str) -> None:
    """Score graded tests nbgrader left unscored as zero, and record the reason code."""
    coursedir = course_directory(plan.config, plan.assignment, student)
    with Gradebook(coursedir.db_url) as gb:
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


def gradebook_scores(plan: Plan, students) -> dict[str, tuple[float, dict[str, float]]]:
    """Return the total and per-test scores of those of ``students`` the gradebook has graded.

    One gradebook session for all of them: opening one costs nbgrader half a second.
    """
    found = {}
    coursedir = course_directory(plan.config, plan.assignment)
    with warnings.catch_warnings(), Gradebook(coursedir.db_url) as gb:
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


def _placeholder_notebook(plan: Plan, status: str, reason: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# {plan.notebook}: not graded\n\nYour submission could not be graded "
            f"(`{status}`): {reason}. Every test scored 0. Submit the notebook file itself "
            "(File > Save, then submit the `.ipynb`)."
        )
    ]
    return nb


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
        _write_with_nbgrader(
            plan,
            prepared,
            {
                "executed": {
                    str(i): c.get("outputs", [])
                    for i, c in enumerate(executed.cells)
                    if c.cell_type == "code"
                },
                "verdicts": {g: v.outputs() for g, v in found.items()},
            },
        )
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
    found = {}
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
    *,
    limits: sandbox.Limits,
    skip_after_last_graded: bool,
    verify_model_file: bool,
    workers: int,
    scheduler: str | Client | None,
) -> None:
    """Prepare each submission, run its job on the cluster and record it in ``batch``."""
    from autograder.grading import cluster

    def jobs():
        for sub in todo:
            prepared = prepare(
                batch.plan,
                sub,
                limits=limits,
                sandboxed=batch.sandboxed,
                skip_after_last_graded=skip_after_last_graded,
                verify_model_file=verify_model_file,
            )
            if prepared.job is None:  # nothing to run: recorded from what prepare found
                batch.finish(prepared, None)
            else:
                yield prepared

    cluster.run_jobs(
        jobs(), on_done=batch.finish, on_lost=batch.lost, workers=workers, scheduler=scheduler
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


def grade_assignment(
    *,
    assignment: str,
    course_root: str | Path = ".",
    workers: int | None = None,
    scheduler: str | Client | None = None,
    force: bool = False,
    student: str | None = None,
    sandboxed: bool = True,
    limits: sandbox.Limits | None = None,
    config: Config | None = None,
    skip_after_last_graded: bool = True,
    verify_model_file: bool = True,
    progress_json: str | None = None,
    show_progress: bool = True,
    report_dir: str | Path | None = None,
    on_result: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Grade the submissions of ``assignment``; return one :class:`Outcome` per student.

    The steps: :func:`select_submissions` (new or changed ones), :func:`run_submissions`
    (prepare, run on the cluster, record each into a :class:`Batch`) and
    :func:`write_class_report`.

    Args:
        workers: parallel jobs for the local Dask cluster (default: number of cores).
        scheduler: instead of a local cluster, a running ``dask scheduler``'s TLS address
            (``tls://host:port``) or a connected Dask client (the watcher's).
        force: grade submissions whose file has not changed since their last grading.
        student: grade only this student.
        sandboxed: run kernels in bubblewrap; False runs student code unconfined.
        limits: the limits per submission (default: :class:`GradingLimits` as configured).
        config: settings that override the course's ``nbgrader_config.py`` (the CLI's flags).
        skip_after_last_graded: do not run cells after the last graded cell.
        verify_model_file: judge the model checks from the model file the kernel saved,
            described outside the kernel, instead of from the kernel's report.
        progress_json: file (or ``-`` for stdout) for a JSON-lines progress stream.
        report_dir: folder for the CSV report (default: ``<course_root>/reports``).
    """
    course_root = Path(course_root).resolve()
    if sandboxed and not sandbox.sandbox_available():
        raise sandbox.SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed: "
            "install it (apt-get install bubblewrap) or pass --no-sandbox to grade unconfined"
        )
    if isinstance(scheduler, str):
        from autograder.grading import cluster

        cluster.check_scheduler(scheduler)
    workers = workers or os.cpu_count() or 1
    plan = make_plan(course_root=course_root, assignment=assignment, overrides=config)
    limits = limits or GradingLimits(config=plan.config).limits(workers=workers)
    if limits.threads == 0:
        limits = dataclasses.replace(limits, threads=max(1, (os.cpu_count() or 1) // workers))

    todo, unchanged = select_submissions(plan, student=student, force=force)
    progress = report.Progress(total=len(todo), json_path=progress_json, bar=show_progress)
    batch = Batch(plan, sandboxed, progress, on_result, outcomes=dict(unchanged))
    try:
        run_submissions(
            batch,
            todo,
            limits=limits,
            skip_after_last_graded=skip_after_last_graded,
            verify_model_file=verify_model_file,
            workers=workers,
            scheduler=scheduler,
        )
    finally:
        progress.close()
    write_class_report(
        plan,
        batch.outcomes,
        partial=student is not None,
        folder=Path(report_dir) if report_dir else course_root / "reports",
    )
    return [batch.outcomes[s] for s in sorted(batch.outcomes)]
