"""Grade every submission of an assignment: in parallel, sandboxed, judged outside the kernel.

The driver (this process) is the only writer of the gradebook and of ``autograded/``:

1. :mod:`autograder.grading.planning` reads the assignment once (a :class:`Plan`) and finds
   the submissions; those whose notebook and timestamp are unchanged since their last grading
   are skipped unless ``force``.
2. :mod:`autograder.grading.preparation` reads each notebook, hashes it, applies nbgrader's
   own sanitising preprocessors (graded cells restored from the gradebook) and rewrites each
   graded test cell so the kernel only *reports* facts.
3. A Dask worker runs the notebook in a sandboxed kernel (:func:`autograder.grading.execute.run_job`).
4. Back in the driver, :mod:`autograder.grading.recording` has :mod:`autograder.grading.judge`
   turn each test cell's report into a verdict (model checks from the facts of the model file
   the worker described, not the kernel's), and the course's ``Autograde`` converter writes
   ``autograded/<student>/...`` and the gradebook, with the sandboxed run standing in for its
   ``Execute`` step (:mod:`autograder.grading.autograde`).

:func:`grade` runs these steps for one :class:`~autograder.grading.options.GradingOptions`
(the command's, :mod:`autograder.grading.app`); :func:`grade_assignment` is the same with
keyword arguments, for the watcher and scripts.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder.grading import execute, kernel_pool, report, sandbox
from autograder.grading.limits import GradingLimits, Limits
from autograder.grading.options import GradingOptions, default_workers
from autograder.grading.planning import (
    Plan,
    Submission,
    find_submissions,
    load_config,
    make_plan,
    read_state,
)
from autograder.grading.preparation import Prepared, prepare
from autograder.grading.recording import Outcome, record, recorded_outcomes
from autograder.kernel.protocol import Status

if TYPE_CHECKING:
    from distributed import Client


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
        for index, sub in enumerate(todo):
            prepared = prepare(batch.plan, sub, options)
            if prepared.job is None:  # nothing to run: recorded from what prepare found
                batch.finish(prepared, None)
                continue
            # A worker readies its next kernel while more jobs are queued than workers busy,
            # and always for a watcher (``client``), whose next submission may come any time.
            warm = options.kernel_pool and (
                client is not None or len(todo) - index > options.workers
            )
            prepared.job = dataclasses.replace(prepared.job, warm_next=warm)
            yield prepared

    if client is not None and options.kernel_pool:
        # A watcher's workers each keep a kernel ready from its first batch on.
        client.run(kernel_pool.fill, kernel_pool.PoolKey.of(options, batch.plan.preload))
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
    limits: Limits | None = None,
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
