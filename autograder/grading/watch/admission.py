"""Which inbound folders enter the queue, and which waiting submission is graded when.

Every student can write nbgrader's ``inbound/`` folder, under any name, so each new folder is
checked when it is first seen, *before* it can supersede, queue or rate-limit anything: a
student id the grader accepts, a valid claimed time no more than ``Watch.max_clock_skew``
after the watcher's clock, a real folder (opened without following a link, its device and
inode recorded), with ``Watch.check_owner`` owned by the Unix user named like the student,
and with ``Watch.known_students_only`` a student in the gradebook (read once per scan). One
that passes is *waiting*; one that fails is *failed* at once, with its reason.

Then, per student, the latest waiting submission is chosen (``nbgrader collect --update``
semantics: the latest by the timestamp in its name; older waiting ones, and one no newer
than the student's last graded one, become *superseded*). A student with
``Watch.max_graded_per_hour`` gradings started in the last hour waits until the oldest of
them is an hour old: waiting, never dropped. The queue is grouped by student once, so the
work grows with the number of folders, not with its square.
"""

from __future__ import annotations

import datetime
import os
import pwd
import re
from collections.abc import Callable
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.utils import parse_utc

from autograder.grading import deadline
from autograder.grading.watch.entries import Entry, QueueState, iso
from autograder.grading.watch.settings import Watch, WatchError

#: Student ids the watcher accepts (what JupyterHub and nbgrader use in practice).
STUDENT_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
HOUR = datetime.timedelta(hours=1)


class Refused(Exception):
    """Raise when a submission cannot be graded; the message says why, for the student.

    ``incomplete``: its notebook is missing or not whole, which a submission still being
    written also looks like.
    """

    def __init__(self, reason: str, *, incomplete: bool = False) -> None:
        super().__init__(reason)
        self.incomplete = incomplete


def describe(name: str) -> str:
    """Return a submission-controlled name safe to print: quoted, escaped, at most 80 chars."""
    text = ascii(name)
    return text if len(text) <= 80 else text[:77] + "..."


def split_inbound_name(name: str, assignment: str) -> tuple[str, str] | None:
    """Return ``(student, timestamp text)`` of an inbound folder of ``assignment``, or None.

    nbgrader names them ``<student>+<assignment>+<timestamp>`` with an optional ``+<random>``.
    """
    for parts in (name.rsplit("+", 3), name.rsplit("+", 2)):
        if len(parts) >= 3 and parts[1] == assignment:
            return parts[0], parts[2]
    return None


def open_folder(
    entry: Entry, inbound: Path, *, check_owner: bool, inbound_fd: int | None = None
) -> tuple[int, os.stat_result]:
    """Open ``entry``'s inbound folder once, without following a link; check whose it is.

    Opened in ``inbound_fd`` when given, else under ``inbound``. Returns the folder's
    descriptor (the caller closes it) and its ``fstat``. Raises Refused when it is not a
    folder, is not the folder scanned (once its inode is recorded), or with ``check_owner``
    is not owned by the user named like the student.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    path = entry.id if inbound_fd is not None else inbound / entry.id
    try:
        fd = os.open(path, flags, dir_fd=inbound_fd)
    except OSError as err:
        raise Refused(f"its inbound entry is not a folder ({err.strerror})") from err
    try:
        info = os.fstat(fd)
        scanned = (entry.device, entry.inode)
        if entry.inode is not None and (info.st_dev, info.st_ino) != scanned:
            raise Refused("its inbound folder was replaced after it was first seen")
        if check_owner:
            try:
                owner = pwd.getpwuid(info.st_uid).pw_name
            except KeyError:
                owner = f"uid {info.st_uid}"
            if owner != entry.student:
                raise Refused(
                    f"it claims to be {entry.student}'s but the folder belongs to {owner}"
                )
    except BaseException:
        os.close(fd)
        raise
    return fd, info


class Admission:
    """The admission policy of one assignment: checks at scan, supersede, the hourly limit."""

    def __init__(
        self,
        *,
        settings: Watch,
        assignment: str,
        inbound: Path,
        db_url: str,
        course_id: str,
        clock: Callable[[], datetime.datetime],
        log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.assignment = assignment
        self.inbound = inbound
        self.db_url = db_url
        self.course_id = course_id
        self.clock = clock
        self.log = log

    def scan(self, known: set[str]) -> list[Entry]:
        """Return the new inbound submissions of the assignment (names not in ``known``).

        Each is checked here, so one that fails never supersedes, queues or rate-limits
        anything: it is *failed* at once, with its reason.
        """
        try:
            inbound = os.open(self.inbound, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError as err:
            raise WatchError(
                f"the exchange has no inbound folder {self.inbound}: set c.Exchange.root and "
                "c.CourseDirectory.course_id in nbgrader_config.py and release the assignment"
            ) from err
        now = self.clock()
        roster: set[str] | None = None
        added = []
        try:
            for name in sorted(os.listdir(inbound)):
                parts = None if name in known else split_inbound_name(name, self.assignment)
                if parts is None:
                    continue  # seen before, or another assignment's submission
                student, stamp = parts
                entry = Entry(name, student, None, QueueState.WAITING, seen_at=now)
                try:
                    self._check_new(entry, stamp, inbound, now)
                    if self.settings.known_students_only:
                        roster = self._roster() if roster is None else roster
                        if student not in roster:
                            raise Refused(
                                f"{student} is not a student of this course (known_students_only)"
                            )
                except Refused as problem:
                    entry.finish(QueueState.FAILED, str(problem), now)
                    self.log(f"{describe(name)}: not graded: {problem}")
                else:
                    self.log(f"{student}: new submission ({iso(entry.timestamp)})")
                added.append(entry)
        finally:
            os.close(inbound)
        return added

    def _check_new(self, entry: Entry, stamp: str, inbound: int, now: datetime.datetime) -> None:
        """Check a new submission's name, claimed time and folder; set its timestamp and inode.

        Raises Refused with the reason it cannot be graded.
        """
        if not STUDENT_ID.fullmatch(entry.student):
            raise Refused(
                f"the student id {describe(entry.student)} is not accepted (letters, digits and "
                "_ . @ - only, at most 64)"
            )
        try:
            claimed = deadline.as_utc(parse_utc(stamp))
        except Exception as err:  # any unparsable name is the submission's problem
            raise Refused("its folder name holds no valid submission time") from err
        skew = datetime.timedelta(seconds=max(self.settings.max_clock_skew, 0))
        if claimed > now + skew:
            raise Refused(
                f"its submission time {claimed:%Y-%m-%d %H:%M:%S} UTC is in the future "
                f"(the grader's clock said {now:%Y-%m-%d %H:%M:%S} UTC)"
            )
        entry.timestamp = claimed
        fd, info = open_folder(
            entry, self.inbound, check_owner=self.settings.check_owner, inbound_fd=inbound
        )
        os.close(fd)
        entry.device, entry.inode = info.st_dev, info.st_ino

    def _roster(self) -> set[str]:
        """Return the ids of the students in the gradebook."""
        with Gradebook(self.db_url, self.course_id) as gb:
            return {str(student.id) for student in gb.students}

    def choose(self, entries: list[Entry]) -> list[Entry]:
        """Return the submissions to grade now, one per student (see the module docstring).

        Supersedes older waiting ones and sets ``not_before`` of those over the hourly limit.
        """
        now = self.clock()
        last_graded: dict[str, datetime.datetime] = {}
        recent: dict[str, list[datetime.datetime]] = {}  # gradings started in the last hour
        for e in entries:
            if e.state == QueueState.DONE:
                if e.timestamp:
                    # It was made before its grading started: that bounds a claim in the
                    # future that a watcher before the check at scan graded.
                    stamp = min(e.timestamp, e.started_at or e.timestamp)
                    last_graded[e.student] = max(last_graded.get(e.student, stamp), stamp)
                if e.started_at and now - e.started_at < HOUR:
                    recent.setdefault(e.student, []).append(e.started_at)
        chosen = []
        for student, pending in waiting_by_student(entries).items():
            latest = pending[-1]
            for entry in pending[:-1]:
                entry.finish(QueueState.SUPERSEDED, "a later submission replaced it", now)
            graded = last_graded.get(student)
            if graded is not None and _submitted(latest) <= graded:
                latest.finish(QueueState.SUPERSEDED, "not newer than the graded submission", now)
            elif self._within_limit(latest, sorted(recent.get(student, []))):
                chosen.append(latest)
        return chosen

    def _within_limit(self, entry: Entry, started: list[datetime.datetime]) -> bool:
        """Return True if ``entry`` may be graded now; else set when it may (``not_before``)."""
        limit = self.settings.max_graded_per_hour
        if not limit or len(started) < limit:
            return True
        until = started[-limit] + HOUR
        if entry.not_before != until:
            entry.not_before = until
            self.log(
                f"{entry.student}: {len(started)} graded in the last hour (limit {limit}); "
                f"waits until {until.isoformat()}"
            )
        return False


def _submitted(entry: Entry) -> datetime.datetime:
    """Return ``entry``'s submission time (the earliest time for one without)."""
    return entry.timestamp or datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def waiting_by_student(entries: list[Entry]) -> dict[str, list[Entry]]:
    """Return each student's waiting submissions, oldest first, students in the order
    :meth:`Admission.choose` takes them (the latest of each is the one graded)."""
    waiting: dict[str, list[Entry]] = {}
    for e in entries:
        if e.state == QueueState.WAITING:
            waiting.setdefault(e.student, []).append(e)
    return {student: sorted(waiting[student], key=_submitted) for student in sorted(waiting)}


def held(entry: Entry, now: datetime.datetime) -> bool:
    """Return True if the hourly limit holds ``entry`` at ``now`` (its ``not_before``)."""
    return entry.not_before is not None and entry.not_before > now


def grading_turns(entries: list[Entry], now: datetime.datetime) -> list[Entry]:
    """Return the waiting submissions in the order the watcher grades them: the latest of each
    student, as :meth:`Admission.choose` takes them, less those the hourly limit holds."""
    turns = (pending[-1] for pending in waiting_by_student(entries).values())
    return [entry for entry in turns if not held(entry, now)]
