"""The watcher's loop: wires the queue store, admission, collector and releaser to the grader.

Each cycle: the admission policy scans the inbound folder and chooses what to grade, the
collector copies each chosen submission into ``submitted/``, the grading core grades them
all at once (:func:`autograder.grading.grade.grade_assignment`), and as each finishes the
releaser generates and releases its feedback; the store records every step in one
transaction. The loop also owns the Dask cluster (started on first use, kept for the run)
and the heartbeat that ``nn-autograde queue`` reads to say whether a watcher is running.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nbgrader.exchange import ExchangeFactory
from traitlets.config import Config

from autograder.grading import deadline, grade, planning, recording, sandbox
from autograder.grading.limits import GradingLimits
from autograder.grading.watch.admission import Admission
from autograder.grading.watch.collect import Collector, StillWriting
from autograder.grading.watch.counts import Keeper, by_student
from autograder.grading.watch.entries import Entry, QueueState
from autograder.grading.watch.heartbeat import Beating
from autograder.grading.watch.release import Releaser
from autograder.grading.watch.settings import Watch, WatchError
from autograder.grading.watch.show import summary
from autograder.grading.watch.store import QueueStore
from autograder.kernel.protocol import Status

if TYPE_CHECKING:
    from distributed import Client


def _check_scheduler(scheduler: str) -> None:
    """Refuse a configured Dask scheduler that is not behind TLS, before anything starts."""
    if not scheduler:
        return
    from autograder.grading import cluster

    try:
        cluster.check_scheduler(scheduler)
    except cluster.ClusterError as err:
        raise WatchError(str(err)) from err


class Watcher:
    """The watcher of one assignment in one course root."""

    def __init__(
        self,
        *,
        assignment: str,
        course_root: str | Path = ".",
        config: Config | None = None,
        sandboxed: bool = True,
        clock: Callable[[], datetime.datetime] = deadline.utcnow,
        log: Callable[[str], None] = print,
    ) -> None:
        self.course_root = Path(course_root).resolve()
        self.assignment = assignment
        self.overrides = config or Config()
        self.plan = planning.make_plan(
            course_root=self.course_root, assignment=assignment, overrides=self.overrides
        )
        self.config: Config = self.plan.config
        self.settings = Watch(config=self.config)
        _check_scheduler(self.settings.scheduler)
        self.sandboxed = sandboxed
        self.clock = clock
        self._log = log
        self.coursedir = planning.course_directory(self.config, assignment)
        course_id = str(self.coursedir.course_id)
        if not course_id:
            raise WatchError(
                "no course id: set c.CourseDirectory.course_id in nbgrader_config.py "
                "(the exchange keeps submissions under <Exchange.root>/<course_id>/inbound)"
            )
        exchange = ExchangeFactory(config=self.config)
        self.inbound = Path(exchange.exchange(config=self.config).root) / course_id / "inbound"
        self._make_parts(exchange)
        self.store = self._open_store()
        self.keeper = Keeper(
            settings=self.settings,
            plan=self.plan,
            folder=self.store.folder / "kept",
            submitted_folder=self._submitted_folder,
            log=self.log,
        )
        self.entries = self.store.load()
        self._client: Client | None = None
        self._cluster = contextlib.ExitStack()  # the Dask cluster, closed when run ends

    def _make_parts(self, exchange: ExchangeFactory) -> None:
        """Make the admission policy, the collector and the releaser of this watcher."""
        db_url = str(self.coursedir.db_url)
        self.admission = Admission(
            settings=self.settings,
            assignment=self.assignment,
            inbound=self.inbound,
            db_url=db_url,
            course_id=self.coursedir.course_id,
            clock=self.clock,
            log=self.log,
        )
        self.collector = Collector(
            settings=self.settings,
            assignment=self.assignment,
            notebook=self.plan.notebook,
            graded_cells=self.plan.points,
            inbound=self.inbound,
            submitted_folder=self._submitted_folder,
            log=self.log,
        )
        self.releaser = Releaser(
            config=self.config,
            assignment=self.assignment,
            db_url=db_url,
            course_id=self.coursedir.course_id,
            exchange=exchange,
            clock=self.clock,
            log=self.log,
        )

    def _open_store(self) -> QueueStore:
        """Open the assignment's queue, creating it (and moving an old queue.jsonl in)."""
        store = QueueStore.open(self.course_root, self.assignment)
        assert store is not None  # created when missing
        if store.migrated_legacy or store.skipped_legacy:
            self.log(
                f"queue.jsonl: {store.migrated_legacy} submissions moved into queue.sqlite "
                f"({store.skipped_legacy} unreadable lines left out; the old file is now "
                "queue.jsonl.migrated)"
            )
        return store

    # -- bookkeeping -----------------------------------------------------------------------

    def log(self, message: str) -> None:
        """Print one line of progress, with the time."""
        self._log(f"{self.clock():%H:%M:%S} {message}")

    def save(self) -> None:
        """Write the entries that changed, in one transaction."""
        self.store.save(self.entries)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the assignment's watcher lock (released by the OS if the process dies)."""
        return self.store.locked(self.assignment, self.course_root)

    def recover(self) -> None:
        """Put submissions a killed watcher was grading back to waiting."""
        for entry in self.entries:
            if entry.state == QueueState.GRADING:
                entry.state, entry.started_at = QueueState.WAITING, None
                self.log(f"{entry.student}: grading was interrupted; graded again")
        self.save()

    def _finish(self, entry: Entry, to: QueueState, reason: str) -> None:
        entry.finish(to, reason, self.clock())
        if to == QueueState.FAILED:
            self.log(f"{entry.student}: not graded: {reason}")

    def _submitted_folder(self, student: str) -> Path:
        path = Path(
            self.coursedir.format_path(self.coursedir.submitted_directory, student, self.assignment)
        )
        return path if path.is_absolute() else self.course_root / path

    # -- the four parts --------------------------------------------------------------------

    def scan(self) -> int:
        """Add new inbound submissions to the queue (admission's checks); return how many."""
        new = self.admission.scan({e.id for e in self.entries})
        self.entries.extend(new)
        if new:
            self.save()
        return len(new)

    def choose(self) -> list[Entry]:
        """Return the submissions to grade now, one per student (admission's policy)."""
        chosen = self.admission.choose(self.entries)
        self.save()
        return chosen

    def collect(self, entry: Entry) -> str:
        """Copy ``entry`` into ``submitted/``; return why it cannot be graded, or ""."""
        return self.collector.collect(entry)

    def release_feedback(self, entry: Entry) -> None:
        """Generate and release ``entry``'s feedback."""
        self.releaser.release(entry)

    # -- grading ---------------------------------------------------------------------------

    def grade_chosen(self, chosen: list[Entry], *, workers: int) -> int:
        """Collect, grade and release feedback for ``chosen``; update the queue as each ends.

        Returns how many were taken up (graded or failed); one whose files are still being
        written waits for the next cycle.
        """
        grading, postponed = self._collect_chosen(chosen)
        if grading:
            record = functools.partial(self._record, grading)
            rows = self._grade(workers=workers, on_result=record)
            self._settle(grading, rows)
            self.restore_counting(workers=workers)
        return len(chosen) - postponed

    def _grade(
        self,
        *,
        workers: int,
        on_result: Callable[[recording.Outcome], None] | None = None,
        student: str | None = None,
    ) -> list[recording.Outcome]:
        """Run the grading command on ``submitted/`` (one student's, with ``student``)."""
        try:
            return grade.grade_assignment(
                assignment=self.assignment,
                course_root=self.course_root,
                workers=workers,
                scheduler=self._scheduler(workers),
                sandboxed=self.sandboxed,
                config=self.overrides,
                show_progress=False,
                on_result=on_result,
                student=student,
            )
        except Exception as err:  # the queue goes on; these are tried again
            self.log(f"grading failed: {type(err).__name__}: {err}")
            return []

    def restore_counting(self, *, workers: int) -> int:
        """Put the submissions that count back into the gradebook where a later one replaced
        them (``Watch.counts``); return how many were restored."""
        restored = 0
        for student in self.keeper.pending(self.entries):
            self.keeper.put_back(student)
            rows = self._grade(workers=workers, student=student)
            row = next((r for r in rows if r.student == student), None)
            restored += self.keeper.restored(student, row)
        return restored

    def _collect_chosen(self, chosen: list[Entry]) -> tuple[dict[str, Entry], int]:
        """Collect ``chosen``; return those to grade by student, and how many must wait."""
        now = self.clock()
        for entry in chosen:
            entry.state, entry.started_at, entry.not_before = QueueState.GRADING, now, None
        self.save()
        grading: dict[str, Entry] = {}
        postponed = 0
        histories = by_student(self.entries)
        for entry in chosen:
            self.keeper.keep(entry, histories[entry.student])
            try:
                problem = self.collect(entry)
            except StillWriting:
                entry.state, entry.started_at = QueueState.WAITING, None
                self.log(f"{entry.student}: its files are still being written; collected later")
                postponed += 1
                continue
            if problem:
                self._finish(entry, QueueState.FAILED, problem)
            else:
                entry.collected_at = self.clock()
                grading[entry.student] = entry
                self.log(f"{entry.student}: collected; grading")
        self.save()
        return grading, postponed

    def _record(self, grading: dict[str, Entry], outcome: recording.Outcome) -> None:
        """Record a finished grading, release its feedback and save (one transaction)."""
        entry = grading.get(outcome.student)
        if entry is None or outcome.status == Status.GRADING_ERROR:
            return
        entry.status, entry.graded_at = Status(outcome.status), self.clock()
        entry.score, entry.max_score = outcome.score, outcome.max_score
        note = self.collector.notes.pop(entry.student, "")
        entry.reason = "; ".join(r for r in (note, outcome.reason) if r)
        self.keeper.decide(entry, [e for e in self.entries if e.student == entry.student])
        try:
            self.release_feedback(entry)
        except Exception as err:  # the grade stands; say why feedback is missing
            entry.reason = f"feedback not released: {type(err).__name__}: {err}"[:300]
        self._finish(entry, QueueState.DONE, entry.reason)
        self.log(
            f"{entry.student}: {outcome.status}, {outcome.score:g}/{outcome.max_score:g} "
            f"in {outcome.seconds:.1f} s; feedback: {entry.feedback or 'not released'}; "
            f"{'counts' if entry.counts else 'does not count'}: {entry.counting}"
        )
        self.save()

    def _settle(self, grading: dict[str, Entry], rows: list[recording.Outcome]) -> None:
        """Retry, or fail after ``max_attempts``, the gradings that ended without a result."""
        by_student = {row.student: row for row in rows}
        for student, entry in grading.items():
            if entry.state != QueueState.GRADING:
                continue
            row = by_student.get(student)
            if row is not None and row.status == Status.UNCHANGED:
                self._record(grading, row)  # graded before a restart; only the queue was behind
                continue
            entry.attempts += 1
            reason = row.reason if row is not None else "the grading did not finish"
            if entry.attempts >= self.settings.max_attempts:
                self._finish(entry, QueueState.FAILED, f"grading_error: {reason}")
            else:
                entry.state, entry.started_at, entry.reason = QueueState.WAITING, None, reason
                self.log(f"{student}: grading_error ({reason}); tried again")
        self.save()

    def _scheduler(self, workers: int) -> Client:
        """Return the watcher's Dask client, connected (or its local cluster started) on first use.

        One cluster and one connection serve every batch of a watcher's run: starting a
        cluster costs seconds, a large part of a single submission's latency, and a connected
        client lets every worker keep a kernel ready (:mod:`~autograder.grading.kernel_pool`).
        The local cluster's parts speak TLS with a key only this process holds, so no
        classmate can use its ports (:mod:`autograder.grading.cluster`). ``c.Watch.scheduler``
        uses a running one (a ``tls://`` address).
        """
        if self._client is not None and self._client.status in ("closing", "closed"):
            self.log("the Dask cluster went away; connecting again")
            self._client = None  # its context closes with the run's other clusters
        if self._client is None:
            from autograder.grading import cluster

            self._client = self._cluster.enter_context(
                cluster.open_client(workers=workers, scheduler=self.settings.scheduler or None)
            )
        return self._client

    def refresh_feedback_after_deadline(self) -> int:
        """Release full feedback to students whose feedback showed only public tests."""
        stale = self.releaser.stale_after_deadline(self.entries)
        for entry in stale:
            self.releaser.release_full(entry)
            self.save()
        return len(stale)

    # -- the loop --------------------------------------------------------------------------

    def cycle(self, *, workers: int) -> int:
        """Scan, choose, grade and release once; return how many submissions were taken up."""
        self.scan()
        self.store.beat(at=deadline.utcnow(), scanned=True)
        self.refresh_feedback_after_deadline()
        self.restore_counting(workers=workers)  # one a killed watcher left
        chosen = self.choose()
        return self.grade_chosen(chosen, workers=workers) if chosen else 0

    def run(self, *, once: bool = False, poll: float | None = None) -> list[Entry]:
        """Watch until interrupted, or with ``once`` until nothing is left to grade now."""
        workers = self.settings.workers or os.cpu_count() or 1
        limits = GradingLimits(config=self.config).limits(workers=workers)
        sandbox.check_available(limits, sandboxed=self.sandboxed)
        pause = self.settings.poll_interval if poll is None else poll
        with (
            self.locked(),
            Beating(self.course_root, self.assignment),
            self._cluster,
        ):
            self._client = None  # a cluster lives for one run
            self.entries = self.store.load()
            self.recover()
            due = deadline.due_date(
                str(self.coursedir.db_url), self.assignment, self.coursedir.course_id
            )
            self.log(
                f"watching {self.inbound} for {self.assignment} (due "
                f"{due.isoformat() if due else 'never: feedback is always full'})"
            )
            while True:
                graded = self.cycle(workers=workers)
                if once and not graded:
                    break
                if not once:
                    time.sleep(pause)
        counts = summary(self.entries)
        self.log("queue: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        return self.entries


def watch(
    *,
    assignment: str,
    course_root: str | Path = ".",
    once: bool = False,
    poll: float | None = None,
    config: Config | None = None,
    sandboxed: bool = True,
    clock: Callable[[], datetime.datetime] = deadline.utcnow,
    log: Callable[[str], None] = print,
) -> list[Entry]:
    """Watch the exchange and grade ``assignment``'s submissions; return the queue.

    Args:
        once: grade everything that can be graded now, then return (submissions over the
            hourly limit stay waiting).
        poll: seconds between looks at the exchange (default: ``c.Watch.poll_interval``).
        config: settings that override the course's ``nbgrader_config.py`` (the CLI's flags).
        sandboxed: run kernels in bubblewrap; False runs student code unconfined.
        clock: the current time (tests pass a fake one).
        log: where progress lines go.
    """
    watcher = Watcher(
        assignment=assignment,
        course_root=course_root,
        config=config,
        sandboxed=sandboxed,
        clock=clock,
        log=log,
    )
    try:
        return watcher.run(once=once, poll=poll)
    finally:
        watcher.store.close()
