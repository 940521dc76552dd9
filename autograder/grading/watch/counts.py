"""Which graded submission counts for the grade (``c.Watch.counts``), and keeping it so.

nbgrader's gradebook holds one submission per student and assignment: grading a resubmission
replaces the grade. Under ``latest`` that is all (nbgrader's ``collect --update``). Under
the default, ``latest-on-time-unless-later-scores-higher``, a submission that came after
the due date is graded and its feedback released (the student sees its score), but once the
student has an on-time graded submission, the grade stays that of the submission that
counts unless the late one scores higher *after its late penalty*.

How the grade is kept: before a submission of a student is collected, the :class:`Keeper`
copies the files of the submission that counts (the notebook, ``timestamp.txt`` and
``submission_secret.txt`` the collector wrote into ``submitted/``) into the queue's private
folder (``grader/watch/<assignment>/kept/<student>/``), with its score after the penalty
read from the gradebook. After the new one is graded, :meth:`Keeper.decide` compares; when
the kept one still counts, the watcher puts its files back into ``submitted/`` and grades
them again (:meth:`Keeper.put_back`), so the gradebook, the autograded notebook, the grading
record, ``nbgrader export`` and the LMS exports all hold the kept submission again (manual
scores stay, as with any regrading). The copy is removed only after that grading ended; a
watcher killed in between finds, from the queue, that a restore is pending and does it on
its next cycle, so the on-time grade is never lost.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import secrets
import shutil
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from nbgrader.api import MissingEntry
from sqlalchemy.exc import SAWarning

from autograder.grading import deadline, planning, recording
from autograder.grading.watch import collect
from autograder.grading.watch.entries import Entry, QueueState
from autograder.grading.watch.settings import COUNTS_LATEST, Watch
from autograder.kernel.protocol import Status

#: What the collector writes into ``submitted/<student>/<assignment>/`` besides the notebook.
_KEPT_FILES = ("timestamp.txt", "submission_secret.txt")
_RECORD = "kept.json"


@dataclasses.dataclass(frozen=True)
class Graded:
    """One submission as the gradebook holds it: score after the late penalty, and times."""

    score: float  # after the late penalty, as nbgrader export's score
    max_score: float
    timestamp: datetime.datetime | None
    due: datetime.datetime | None

    @property
    def late_seconds(self) -> float:
        if self.timestamp is None or self.due is None:
            return 0.0
        return max(0.0, (self.timestamp - self.due).total_seconds())


@dataclasses.dataclass(frozen=True)
class Kept:
    """The copy of the submission that counted when a later one of its student was collected."""

    entry_id: str
    score: float  # after its late penalty
    max_score: float
    timestamp: str  # as format_time writes it
    on_time: bool


def graded(plan: planning.Plan, student: str) -> Graded | None:
    """Return ``student``'s submission as the gradebook holds it, or None if it has none."""
    coursedir = planning.course_directory(plan.config, plan.assignment)
    with warnings.catch_warnings(), planning.open_gradebook(coursedir) as gb:
        warnings.simplefilter("ignore", SAWarning)
        try:
            submission = gb.find_submission(plan.assignment, student)
        except MissingEntry:
            return None
        due = submission.assignment.duedate
        return Graded(
            score=max(0.0, float(submission.score) - float(submission.late_submission_penalty)),
            max_score=float(submission.max_score),
            timestamp=None
            if submission.timestamp is None
            else deadline.as_utc(submission.timestamp),
            due=None if due is None else deadline.as_utc(due),
        )


def _pts(value: float) -> str:
    return f"{value:g}"


def by_student(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """Return the entries of each student, in the order seen (one pass over the queue)."""
    found: dict[str, list[Entry]] = {}
    for entry in entries:
        found.setdefault(entry.student, []).append(entry)
    return found


def counting_entry(history: Iterable[Entry]) -> Entry | None:
    """Return the graded submission of a student's ``history`` (their entries, in the order
    seen) that counts (the latest done one in a queue kept before ``Watch.counts``), or None."""
    done = [e for e in history if e.state == QueueState.DONE]
    flagged = [e for e in done if e.counts]
    if flagged:
        return flagged[-1]
    if any(e.counts is False for e in done):
        return None
    return done[-1] if done else None


class Keeper:
    """Keeps the submission that counts in the gradebook (module docstring)."""

    def __init__(
        self,
        *,
        settings: Watch,
        plan: planning.Plan,
        folder: Path,
        submitted_folder: Callable[[str], Path],
        log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.folder = folder
        self.submitted_folder = submitted_folder
        self.log = log

    @property
    def latest(self) -> bool:
        """True under ``latest``: every graded submission counts (nbgrader's behaviour)."""
        return bool(self.settings.counts == COUNTS_LATEST)

    def _kept_folder(self, student: str) -> Path:
        return self.folder / student

    def kept(self, student: str) -> Kept | None:
        """Return the kept copy of ``student``'s counting submission, or None."""
        try:
            data = json.loads((self._kept_folder(student) / _RECORD).read_text())
            return Kept(**data)
        except (OSError, ValueError, TypeError):
            return None

    # -- before collecting -----------------------------------------------------------------

    def keep(self, entry: Entry, history: list[Entry]) -> None:
        """Before ``entry`` is collected, copy the submission of its student that counts.

        ``history`` is the student's entries, in the order seen.

        Nothing is copied under ``latest``, without a due date, when none counts, when the
        copy of that submission is there already (a watcher killed mid-grading left it), or
        when ``submitted/`` does not hold it (then ``entry`` counts, as in nbgrader).
        """
        counting = counting_entry(history)
        if self.latest or counting is None or counting is entry or counting.timestamp is None:
            return
        kept = self.kept(entry.student)
        if kept is not None and kept.entry_id == counting.id:
            return
        now = graded(self.plan, entry.student)
        if now is None or now.due is None:
            return
        due = now.due
        done = [e for e in history if e.state == QueueState.DONE]
        if not any(e.timestamp is not None and e.timestamp <= due for e in done):
            return  # no on-time submission yet: the latest counts
        source = self.submitted_folder(entry.student)
        stamp = f"{counting.timestamp:%Y-%m-%d %H:%M:%S.%f} UTC"
        try:
            if (source / "timestamp.txt").read_text() != stamp:
                self.log(
                    f"{entry.student}: submitted/ does not hold the graded submission; not kept"
                )
                return
        except OSError:
            return
        self._copy(
            entry.student,
            source,
            Kept(
                entry_id=counting.id,
                score=now.score,
                max_score=now.max_score,
                timestamp=deadline.format_time(counting.timestamp),
                on_time=counting.timestamp <= now.due,
            ),
        )

    def _copy(self, student: str, source: Path, kept: Kept) -> None:
        """Write the kept copy into a new folder, then put it in place (all or nothing)."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        for leftover in self.folder.glob(f".{student}.new-*"):  # of a watcher killed here
            shutil.rmtree(leftover, ignore_errors=True)
        new = self.folder / f".{student}.new-{secrets.token_hex(4)}"
        new.mkdir(mode=0o700)
        for name in (f"{self.plan.notebook}.ipynb", *_KEPT_FILES):
            path = source / name
            if path.is_file() and not path.is_symlink():
                shutil.copyfile(path, new / name, follow_symlinks=False)
        (new / _RECORD).write_text(json.dumps(dataclasses.asdict(kept)))
        collect.replace_folder(new, self._kept_folder(student))

    # -- after grading ---------------------------------------------------------------------

    def decide(self, entry: Entry, history: list[Entry]) -> bool:
        """Record in ``entry`` (and the earlier one) which submission counts, and why.

        ``history`` is the student's entries. Called when ``entry`` was graded and the
        gradebook holds it. Returns True when the kept submission still counts and must be
        put back (:meth:`pending` then names its student).
        """
        now = graded(self.plan, entry.student)
        kept = self.kept(entry.student)
        if now is None:
            return False
        late = now.late_seconds
        timing = f"late by {deadline.format_duration(late)}" if late > 0 else "on time"
        scored = f"scored {_pts(now.score)}/{_pts(now.max_score)}"
        if late > 0:
            scored += " after the penalty"
        reason = f"{timing}; {scored}"
        if self.latest:
            reason += " (the latest graded submission counts)"
        elif late <= 0:
            reason += " (the latest on-time submission counts)"
        elif kept is None:
            reason += " (no earlier on-time submission: the latest counts)"
        elif kept.entry_id != entry.id:
            what = (
                f"the {'on-time ' if kept.on_time else ''}{_pts(kept.score)}/{_pts(kept.max_score)}"
            )
            what += f" of the submission of {kept.timestamp}"
            if now.score <= kept.score:
                entry.counts = False
                entry.counting = f"{reason}, not above {what}, which counts"
                self.log(f"{entry.student}: does not count: {entry.counting}")
                return True
            reason += f", above {what}"
        self._counts(entry, history, reason)
        return False

    def _counts(self, entry: Entry, history: list[Entry], reason: str) -> None:
        """Make ``entry`` the submission that counts; the others do not any more."""
        for other in history:
            if other is not entry and other.counts:
                other.counts = False
                other.counting = f"replaced by the submission of {_when(entry)}"
        entry.counts, entry.counting = True, reason
        self._discard(entry.student)

    def _discard(self, student: str) -> None:
        shutil.rmtree(self._kept_folder(student), ignore_errors=True)

    # -- restoring -------------------------------------------------------------------------

    def pending(self, entries: list[Entry]) -> list[str]:
        """Return the students whose kept submission counts but may not be in the gradebook.

        The queue says so: the student's latest graded submission does not count, and a
        copy of the one that counts is kept.
        """
        if not self.folder.is_dir():
            return []
        found = []
        groups = by_student(entries)
        for student in sorted(n for n in os.listdir(self.folder) if n in groups):
            kept = self.kept(student)
            if kept is None:
                continue
            done = [e for e in groups[student] if e.state == QueueState.DONE]
            counting = counting_entry(groups[student])
            if done and done[-1].counts is False and counting and counting.id == kept.entry_id:
                found.append(student)
        return found

    def put_back(self, student: str) -> None:
        """Put the kept submission's files back into ``submitted/`` (all or nothing)."""
        source = self._kept_folder(student)
        dest = self.submitted_folder(student)
        dest.parent.mkdir(parents=True, exist_ok=True)
        new = dest.parent / f".{self.plan.assignment}.nn-watch-{secrets.token_hex(4)}"
        new.mkdir()
        for name in (f"{self.plan.notebook}.ipynb", *_KEPT_FILES):
            if (source / name).is_file():
                shutil.copyfile(source / name, new / name, follow_symlinks=False)
        collect.replace_folder(new, dest)

    def restored(self, student: str, outcome: recording.Outcome | None) -> bool:
        """Finish a restore after its grading: True (and the copy removed) if it was graded."""
        if outcome is None or outcome.status == Status.GRADING_ERROR:
            reason = outcome.reason if outcome is not None else "the grading did not finish"
            self.log(f"{student}: the submission that counts is not graded again yet ({reason})")
            return False
        kept = self.kept(student)
        self.log(
            f"{student}: the submission of {kept.timestamp if kept else '?'} is in the gradebook "
            f"again ({outcome.score:g}/{outcome.max_score:g})"
        )
        self._discard(student)
        return True


def _when(entry: Entry) -> str:
    return deadline.format_time(entry.timestamp) if entry.timestamp else "an unknown time"
