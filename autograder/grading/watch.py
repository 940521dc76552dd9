"""Grade on submission: watch nbgrader's exchange, grade each new submission, release feedback.

``python -m autograder watch ASSIGNMENT`` (run by the instructor from the course root) loops:

1. **Scan** the exchange's ``<Exchange.root>/<course_id>/inbound`` for folders named
   ``<student>+<assignment>+<timestamp>[+<random>]`` (what ``nbgrader submit`` writes) and
   add each new one to the queue, with the time it was first seen. Every student can write
   there, under any name, so each new folder is checked *before* it can supersede, queue or
   rate-limit anything: a student id the grader accepts, a valid claimed time no more than
   ``Watch.max_clock_skew`` after the watcher's clock, a real folder (opened without
   following a link, its device and inode recorded), with ``Watch.check_owner`` (the
   default) owned by the Unix user named like the student, and with
   ``Watch.known_students_only`` a student in the gradebook (read once per scan). One that
   passes is *waiting*; one that fails is *failed* at once, with its reason.
2. **Choose**, per student, the latest waiting submission (``nbgrader collect --update``
   semantics: the latest by the timestamp in its name; older waiting ones become
   *superseded*, and one no newer than the student's last graded one too). A student who
   has had ``Watch.max_graded_per_hour`` submissions graded in the last hour waits until
   the oldest of them is an hour old: waiting, never dropped. The queue is grouped by
   student once, so the work grows with the number of folders, not with its square.
3. **Collect** each chosen submission into ``submitted/<student>/<assignment>/``. The
   inbound folder is opened once without following a link and must still be the folder
   scanned (same device and inode, same owner); the notebook and ``submission_secret.txt``
   are then opened *in that open folder* (``dir_fd``), without following links or blocking
   on a FIFO, checked (regular files, at most ``grade.MAX_NOTEBOOK_BYTES``) and read through
   their descriptors; change times come from those descriptors too. Nothing is opened by
   path a second time, so a folder swapped for a link to a classmate's folder or to the
   solutions after its check is never read. Collected are only the notebook, its timestamp
   (from the folder name, as nbgrader's collect orders them) and the secret (hex only; a
   link or other non-regular file in its place fails the submission), written to a new
   folder that then replaces the old one. Anything else in the folder is never read. A
   submission that is not a notebook, is too large, is a notebook of another assignment, or
   whose files vanish or change while they are read is *failed* with its reason and not
   collected: the student's previous submission stays graded, and the watcher goes on. A
   folder whose notebook is missing or not whole while something in it changed within
   :data:`SETTLE_S` seconds is still being written (``nbgrader submit`` makes the folder,
   then copies into it): it stays waiting for the next cycle.
4. **Grade** every collected submission at once with the grading core
   (:func:`autograder.grading.grade.grade_assignment`: sandboxed kernels on Dask, verdicts
   outside the kernel, nbgrader's gradebook and ``autograded/``), and as each finishes,
   **generate its feedback and release it** with nbgrader's own ``GenerateFeedback`` and
   exchange ``ReleaseFeedback``, so ``nbgrader fetch_feedback`` (the Assignments tab) finds it.
5. Once the due date has passed, feedback released before it (public tests plus the hidden
   tests' total, see :mod:`autograder.grading.deadline`) is generated and released again in full.

The queue lives in ``grader/watch/<assignment>/queue.jsonl`` under the course root (the
grading command's private folder), one JSON object per submission, rewritten atomically
once per step of a cycle and once per finished grading: it is both the watcher's state and
what ``nn-autograde queue`` shows. A submission is *grading* only between collection and its result; a watcher that is killed
and restarted puts those back to *waiting* and grades them again. The gradebook holds one
submission per student, replaced by each grading, and the rate limit counts only *done*
entries, so nothing is lost or counted twice. A lock file keeps a second watcher of the
same assignment from starting.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbgrader.api import Gradebook
from nbgrader.auth import Authenticator
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from nbgrader.utils import parse_utc
from traitlets import Bool, Float, Int, Unicode
from traitlets.config import Config, Configurable

from autograder.grading import deadline, grade, state
from autograder.kernel import protocol
from autograder.kernel.protocol import Status

if TYPE_CHECKING:
    from distributed import Client

#: Student ids the watcher accepts (what JupyterHub and nbgrader use in practice).
STUDENT_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
_HOUR = datetime.timedelta(hours=1)
#: Seconds a submission's folder must have stood unchanged before a missing or unreadable
#: notebook fails it: ``nbgrader submit`` makes the folder first, then copies the files in.
SETTLE_S = 5.0


class QueueState(protocol.Code):
    """Where one submission is in the watcher's queue."""

    WAITING = "waiting"  # seen, not graded yet (also: over the hourly limit, until not_before)
    GRADING = "grading"  # collected and being graded
    DONE = "done"  # graded (its status says how it ended); feedback released
    FAILED = "failed"  # not graded: the reason says why
    SUPERSEDED = "superseded"  # a later submission of the same student was graded instead


class WatchError(RuntimeError):
    """Raise when the watcher cannot run (no exchange, another watcher running)."""


class _Refused(Exception):
    """Raise when a submission cannot be graded; the message says why, for the student.

    ``incomplete``: its notebook is missing or not whole, which a submission still being
    written also looks like.
    """

    def __init__(self, reason: str, *, incomplete: bool = False) -> None:
        super().__init__(reason)
        self.incomplete = incomplete


class _StillWriting(Exception):
    """Raise when a submission's folder changed within SETTLE_S and its notebook is not whole."""


@dataclasses.dataclass
class Entry:
    """One submission in the queue (one line of ``queue.jsonl``); times are ISO UTC."""

    id: str  # the inbound folder's name
    student: str
    timestamp: str | None  # submission time, from the folder name
    state: str
    seen_at: str
    started_at: str | None = None
    finished_at: str | None = None
    not_before: str | None = None  # over the hourly limit: graded from this time on
    status: str = ""  # how its grading ended (the grading command's status codes)
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    feedback: str = ""  # scope of the released feedback: "public", "full" or "" (none)
    attempts: int = 0  # gradings that ended in a machine fault (grading_error)
    device: int | None = None  # the inbound folder scanned: collect opens only that one
    inode: int | None = None


class Watch(Configurable):
    """The watcher's policies, settable in ``nbgrader_config.py`` (``c.Watch.<name>``)."""

    max_graded_per_hour = Int(
        4,
        help="Submissions of one student graded per hour (0: no limit). Over it a submission "
        "waits until the oldest grading of the last hour is an hour old; it is never dropped. "
        "The limit counts per student id: without check_owner anyone who can write the "
        "exchange can invent ids and evade it (known_students_only bounds them to the roster).",
    ).tag(config=True)
    poll_interval = Float(
        10.0, help="Seconds between two looks at the exchange's inbound folder."
    ).tag(config=True)
    workers = Int(0, help="Submissions graded in parallel (0: number of cores).").tag(config=True)
    scheduler = Unicode(
        "",
        help="TLS address of a running dask scheduler (tls://HOST:PORT; its credentials from "
        "Dask's configuration, README: Scale-out with Dask) to grade on; empty: a local "
        "cluster of `workers` processes behind TLS, started once per watcher run.",
    ).tag(config=True)
    known_students_only = Bool(
        False,
        help="Grade only students already in the gradebook (`nbgrader db student add`); "
        "submissions of others fail with a reason.",
    ).tag(config=True)
    check_owner = Bool(
        True,
        help="Fail a submission whose inbound folder is not owned by the Unix user named "
        "like the student, when it is first seen (nbgrader's exchange is shared by every user "
        "of the machine, and each can write a folder under any student's name). Turn it off "
        "only where one Unix user submits for all students (a test exchange): then anyone who "
        "can write the exchange can submit as any student or invent student ids, which the "
        "hourly limit counts apart and the gradebook records (known_students_only refuses "
        "ids not on the roster).",
    ).tag(config=True)
    max_clock_skew = Float(
        300.0,
        help="Seconds a submission's claimed time (its folder name, written on the student's "
        "side) may be earlier than when its inbound folder and notebook last changed (the "
        "file system's change time, which no student can set back); an earlier claim is "
        "replaced by that time. A claim more than this after the watcher's clock fails the "
        "submission (it would supersede later ones). 0: trust an earlier claim, as nbgrader "
        "does (e.g. after restoring the exchange from a copy, which resets those times); a "
        "claim later than the watcher's clock still fails.",
    ).tag(config=True)
    max_attempts = Int(
        3,
        help="Gradings a submission may have that end in a machine fault (grading_error) "
        "before it is marked failed.",
    ).tag(config=True)


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).isoformat()


def _time(value: str) -> datetime.datetime:
    return deadline.as_utc(datetime.datetime.fromisoformat(value))


def queue_path(course_root: Path, assignment: str) -> Path:
    """Return the queue file of ``assignment`` (JSON lines, one submission per line)."""
    folder = state.grader_folder(course_root) / "watch" / state.check_student_id(assignment)
    return folder / "queue.jsonl"


def read_queue(course_root: Path, assignment: str) -> list[Entry]:
    """Return the queue's entries, in the order they were seen (malformed lines skipped)."""
    try:
        text = queue_path(course_root, assignment).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    names = {f.name for f in dataclasses.fields(Entry)}
    entries = []
    for line in text.splitlines():
        try:
            data = json.loads(line)
            entries.append(Entry(**{k: v for k, v in data.items() if k in names}))
        except (ValueError, TypeError):
            continue
    return entries


def write_queue(course_root: Path, assignment: str, entries: list[Entry]) -> None:
    """Replace the queue file atomically."""
    text = "".join(json.dumps(dataclasses.asdict(e)) + "\n" for e in entries)
    state.write_atomically(queue_path(course_root, assignment), text, mode=0o600)


def split_inbound_name(name: str, assignment: str) -> tuple[str, str] | None:
    """Return ``(student, timestamp text)`` of an inbound folder of ``assignment``, or None.

    nbgrader names them ``<student>+<assignment>+<timestamp>`` with an optional ``+<random>``.
    """
    for parts in (name.rsplit("+", 3), name.rsplit("+", 2)):
        if len(parts) >= 3 and parts[1] == assignment:
            return parts[0], parts[2]
    return None


def _describe(name: str) -> str:
    """Return a submission-controlled name safe to print: quoted, escaped, at most 80 chars."""
    text = ascii(name)
    return text if len(text) <= 80 else text[:77] + "..."


class Watcher:
    """The watcher of one assignment in one course root (see the module docstring)."""

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
        self.plan = grade.make_plan(
            course_root=self.course_root, assignment=assignment, overrides=self.overrides
        )
        self.config = self.plan.config
        self.settings = Watch(config=self.config)
        if self.settings.scheduler:
            from autograder.grading import cluster

            try:
                cluster.check_scheduler(self.settings.scheduler)
            except cluster.ClusterError as err:
                raise WatchError(str(err)) from err
        self.sandboxed = sandboxed
        self.clock = clock
        self._log = log
        self.coursedir = grade.course_directory(self.config, assignment)
        if not self.coursedir.course_id:
            raise WatchError(
                "no course id: set c.CourseDirectory.course_id in nbgrader_config.py "
                "(the exchange keeps submissions under <Exchange.root>/<course_id>/inbound)"
            )
        exchange = ExchangeFactory(config=self.config)
        self._exchange = exchange
        root = exchange.exchange(config=self.config).root
        self.inbound = Path(root) / self.coursedir.course_id / "inbound"
        self.entries = read_queue(self.course_root, assignment)
        self._client = None
        self._notes: dict[str, str] = {}  # per student: what collecting changed, for the queue
        self._stack: contextlib.ExitStack | None = None

    # -- bookkeeping -----------------------------------------------------------------------

    def log(self, message: str) -> None:
        """Print one line of progress, with the time."""
        self._log(f"{self.clock():%H:%M:%S} {message}")

    def save(self) -> None:
        """Write the queue (atomically)."""
        write_queue(self.course_root, self.assignment, self.entries)

    @contextlib.contextmanager
    def locked(self):
        """Hold the assignment's watcher lock (released by the OS if the process dies)."""
        path = queue_path(self.course_root, self.assignment).with_name("lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            handle.close()
            raise WatchError(
                f"another watcher of {self.assignment} is running in {self.course_root}"
            ) from err
        try:
            yield
        finally:
            handle.close()

    def recover(self) -> None:
        """Put submissions a killed watcher was grading back to waiting."""
        for entry in self.entries:
            if entry.state == QueueState.GRADING:
                entry.state, entry.started_at = QueueState.WAITING, None
                self.log(f"{entry.student}: grading was interrupted; graded again")
        self.save()

    # -- 1. scan ---------------------------------------------------------------------------

    def scan(self) -> int:
        """Add new inbound submissions of the assignment to the queue; return how many.

        Each is checked here (see the module docstring), so one that fails never supersedes,
        queues or rate-limits anything: it is *failed* at once, with its reason.
        """
        known = {e.id for e in self.entries}
        try:
            inbound = os.open(self.inbound, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError as err:
            raise WatchError(
                f"the exchange has no inbound folder {self.inbound}: set c.Exchange.root and "
                "c.CourseDirectory.course_id in nbgrader_config.py and release the assignment"
            ) from err
        now = self.clock()
        roster: set[str] | None = None
        added = 0
        try:
            for name in sorted(os.listdir(inbound)):
                if name in known:
                    continue
                parts = split_inbound_name(name, self.assignment)
                if parts is None:
                    continue  # another assignment's submission
                student, stamp = parts
                entry = Entry(
                    id=name,
                    student=student,
                    timestamp=None,
                    state=QueueState.WAITING,
                    seen_at=_iso(now),
                )
                try:
                    self._check_new(entry, stamp, inbound, now)
                    if self.settings.known_students_only:
                        roster = self._roster() if roster is None else roster
                        if student not in roster:
                            raise _Refused(
                                f"{student} is not a student of this course (known_students_only)"
                            )
                except _Refused as problem:
                    entry.state, entry.reason, entry.finished_at = (
                        QueueState.FAILED,
                        str(problem),
                        _iso(now),
                    )
                    self.log(f"{_describe(name)}: not graded: {problem}")
                else:
                    self.log(f"{student}: new submission ({entry.timestamp})")
                self.entries.append(entry)
                added += 1
        finally:
            os.close(inbound)
        if added:
            self.save()
        return added

    def _check_new(self, entry: Entry, stamp: str, inbound: int, now: datetime.datetime) -> None:
        """Check a new submission's name, claimed time and folder; set its timestamp and inode.

        Raises _Refused with the reason it cannot be graded.
        """
        if not STUDENT_ID.fullmatch(entry.student):
            raise _Refused(
                f"the student id {_describe(entry.student)} is not accepted (letters, digits and "
                "_ . @ - only, at most 64)"
            )
        try:
            claimed = deadline.as_utc(parse_utc(stamp))
        except Exception as err:  # any unparsable name is the submission's problem
            raise _Refused("its folder name holds no valid submission time") from err
        skew = datetime.timedelta(seconds=max(self.settings.max_clock_skew, 0))
        if claimed > now + skew:
            raise _Refused(
                f"its submission time {claimed:%Y-%m-%d %H:%M:%S} UTC is in the future "
                f"(the grader's clock said {now:%Y-%m-%d %H:%M:%S} UTC)"
            )
        entry.timestamp = _iso(claimed)
        fd, info = self._open_folder(entry, inbound)
        os.close(fd)
        entry.device, entry.inode = info.st_dev, info.st_ino

    def _roster(self) -> set[str]:
        """Return the ids of the students in the gradebook."""
        with Gradebook(self.coursedir.db_url) as gb:
            return {student.id for student in gb.students}

    def _open_folder(self, entry: Entry, inbound: int | None = None) -> tuple[int, os.stat_result]:
        """Open ``entry``'s inbound folder once, without following a link; check whose it is.

        Returns the folder's descriptor (the caller closes it) and its ``fstat``. Raises
        _Refused when it is not a folder, is not the folder scanned (once its inode is
        recorded), or with ``check_owner`` is not owned by the user named like the student.
        """
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        path = entry.id if inbound is not None else self.inbound / entry.id
        try:
            fd = os.open(path, flags, dir_fd=inbound)
        except OSError as err:
            raise _Refused(f"its inbound entry is not a folder ({err.strerror})") from err
        try:
            info = os.fstat(fd)
            scanned = (entry.device, entry.inode)
            if entry.inode is not None and (info.st_dev, info.st_ino) != scanned:
                raise _Refused("its inbound folder was replaced after it was first seen")
            if self.settings.check_owner:
                try:
                    owner = pwd.getpwuid(info.st_uid).pw_name
                except KeyError:
                    owner = f"uid {info.st_uid}"
                if owner != entry.student:
                    raise _Refused(
                        f"it claims to be {entry.student}'s but the folder belongs to {owner}"
                    )
        except BaseException:
            os.close(fd)
            raise
        return fd, info

    # -- 2. choose -------------------------------------------------------------------------

    def choose(self) -> list[Entry]:
        """Return the submissions to grade now, one per student (see the module docstring)."""
        now = self.clock()
        waiting: dict[str, list[Entry]] = {}
        last_graded: dict[str, datetime.datetime] = {}
        recent: dict[str, list[datetime.datetime]] = {}  # gradings started in the last hour
        for e in self.entries:
            if e.state == QueueState.WAITING:
                waiting.setdefault(e.student, []).append(e)
            elif e.state == QueueState.DONE:
                if e.timestamp:
                    # It was made before its grading started: that bounds a claim in the
                    # future that a watcher before the check at scan graded.
                    stamp = _time(e.timestamp)
                    if e.started_at:
                        stamp = min(stamp, _time(e.started_at))
                    last_graded[e.student] = max(last_graded.get(e.student, stamp), stamp)
                if e.started_at and now - _time(e.started_at) < _HOUR:
                    recent.setdefault(e.student, []).append(_time(e.started_at))
        chosen = []
        limit = self.settings.max_graded_per_hour
        for student in sorted(waiting):
            pending = sorted(waiting[student], key=lambda e: e.timestamp or "")
            latest = pending[-1]
            for entry in pending[:-1]:
                self._finish(entry, QueueState.SUPERSEDED, "a later submission replaced it")
            graded = last_graded.get(student)
            if graded is not None and _time(latest.timestamp) <= graded:
                self._finish(latest, QueueState.SUPERSEDED, "not newer than the graded submission")
                continue
            started = sorted(recent.get(student, []))
            if limit and len(started) >= limit:
                until = _iso(started[-limit] + _HOUR)
                if latest.not_before != until:
                    latest.not_before = until
                    self.log(
                        f"{student}: {len(started)} graded in the last hour (limit {limit}); "
                        f"waits until {until}"
                    )
                continue
            chosen.append(latest)
        self.save()
        return chosen

    def _finish(self, entry: Entry, to: QueueState, reason: str) -> None:
        entry.state, entry.reason, entry.finished_at = to, reason, _iso(self.clock())
        if to == QueueState.FAILED:
            self.log(f"{entry.student}: not graded: {reason}")

    # -- 3. collect ------------------------------------------------------------------------

    def _submitted_folder(self, student: str) -> Path:
        path = Path(
            self.coursedir.format_path(self.coursedir.submitted_directory, student, self.assignment)
        )
        return path if path.is_absolute() else self.course_root / path

    def collect(self, entry: Entry) -> str:
        """Copy the submission into ``submitted/``; return why it cannot be graded, or "".

        Everything is read through descriptors of the one folder opened (see the module
        docstring); a file that vanishes or changes meanwhile fails this submission only.
        """
        try:
            fd, _ = self._open_folder(entry)
        except _Refused as problem:
            return str(problem)
        try:
            data, secret, written = self._read_submission(fd)
            written = max(written, os.fstat(fd).st_ctime)
        except _Refused as problem:
            if problem.incomplete and self._changed_lately(fd):
                raise _StillWriting from problem
            return str(problem)
        except OSError as err:
            return f"its files changed while they were collected ({err.strerror or err})"
        finally:
            os.close(fd)
        self._check_time(entry, written)
        self._write_submitted(entry, data, secret)
        return ""

    def _read_submission(self, fd: int) -> tuple[bytes, str, float]:
        """Return the notebook, the secret ("" if none) and the notebook's change time.

        ``fd`` is the submission's open folder. Raises _Refused with the reason it cannot be
        graded.
        """
        name = f"{self.plan.notebook}.ipynb"
        try:
            data, info = grade.read_submitted_at(name, grade.MAX_NOTEBOOK_BYTES, dir_fd=fd)
        except FileNotFoundError as err:
            raise _Refused(f"it holds no {name} ({self._listing(fd)})", incomplete=True) from err
        except grade.TooLarge as err:
            raise _Refused(
                f"{name} is larger than {grade.MAX_NOTEBOOK_BYTES // 1024**2} MiB"
            ) from err
        except grade.SubmittedFileError as err:
            raise _Refused(f"{name} cannot be read: {err}") from err
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells}
        except Exception as err:  # anything unreadable is the submission's problem
            raise _Refused(f"{name} is not a Jupyter notebook", incomplete=True) from err
        if not ids & set(self.plan.points):
            raise _Refused(
                f"{name} is not a notebook of {self.assignment}: none of its graded cells is there"
            )
        try:
            secret = grade.read_secret(dir_fd=fd, strict=True) or ""
        except grade.SubmittedFileError as err:
            raise _Refused(f"{err} (nbgrader submit writes a small regular file)") from err
        return data, secret, info.st_ctime

    @staticmethod
    def _changed_lately(fd: int) -> bool:
        """Return True when the open folder ``fd`` or a file in it changed within SETTLE_S."""
        newest = os.fstat(fd).st_ctime
        with contextlib.suppress(OSError):
            for name in os.listdir(fd):
                with contextlib.suppress(OSError):
                    newest = max(newest, os.stat(name, dir_fd=fd, follow_symlinks=False).st_ctime)
        return time.time() - newest < SETTLE_S

    def _check_time(self, entry: Entry, written: float) -> None:
        """Replace a claimed submission time earlier than ``written``, the files' change time."""
        skew = self.settings.max_clock_skew
        if skew <= 0:
            return
        claimed = _time(entry.timestamp)
        if claimed.timestamp() >= written - skew:
            return
        entry.timestamp = _iso(datetime.datetime.fromtimestamp(written, datetime.timezone.utc))
        self._notes[entry.student] = (
            f"its submission time {claimed:%Y-%m-%d %H:%M:%S} UTC is earlier than its files "
            f"({entry.timestamp[:19].replace('T', ' ')} UTC), which is used instead"
        )
        self.log(f"{entry.student}: {self._notes[entry.student]}")

    @staticmethod
    def _listing(fd: int) -> str:
        """Describe what the open folder ``fd`` holds (at most five names, escaped)."""
        try:
            names = sorted(os.listdir(fd))
        except OSError:
            return "its folder cannot be listed"
        shown = ", ".join(_describe(n) for n in names[:5])
        return f"it holds {shown}{', ...' if len(names) > 5 else ''}" if names else "it is empty"

    def _write_submitted(self, entry: Entry, data: bytes, secret: str) -> None:
        dest = self._submitted_folder(entry.student)
        dest.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.assignment}.nn-watch-"
        for leftover in dest.parent.glob(prefix + "*"):
            shutil.rmtree(leftover, ignore_errors=True)
        new = dest.parent / f"{prefix}{secrets.token_hex(4)}"
        new.mkdir()
        (new / f"{self.plan.notebook}.ipynb").write_bytes(data)
        stamp = _time(entry.timestamp).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        (new / "timestamp.txt").write_text(stamp)
        if secret:
            (new / "submission_secret.txt").write_text(secret)
        if os.path.lexists(dest):
            old = dest.parent / f"{prefix}{secrets.token_hex(4)}"
            os.replace(dest, old)
            os.replace(new, dest)
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
        else:
            os.replace(new, dest)

    # -- 4. grade and release --------------------------------------------------------------

    def release_feedback(self, entry: Entry) -> None:
        """Generate ``entry``'s student's feedback and release it through the exchange."""
        scope = deadline.FeedbackDeadline(config=self.config).scope(
            self.coursedir.db_url, self.assignment, self.clock()
        )
        config = copy.deepcopy(self.config)
        config.CourseDirectory.assignment_id = self.assignment
        config.CourseDirectory.student_id = entry.student
        coursedir = CourseDirectory(config=config)
        feedback = GenerateFeedback(coursedir=coursedir, config=config)
        feedback.force = True
        feedback.start()
        folder = Path(
            coursedir.format_path(coursedir.feedback_directory, entry.student, self.assignment)
        )
        if not (folder / "submission_secret.txt").is_file():
            entry.reason = (
                "feedback generated but not released: the submission has no nbgrader "
                "submission secret (it was not made with nbgrader submit)"
            )
            self.log(f"{entry.student}: {entry.reason}")
            return
        release = self._exchange.ReleaseFeedback(
            coursedir=coursedir, authenticator=Authenticator(config=config), config=config
        )
        release.start()
        entry.feedback = str(scope)

    def grade_chosen(self, chosen: list[Entry], *, workers: int) -> int:
        """Collect, grade and release feedback for ``chosen``; update the queue as each ends.

        Returns how many were taken up (graded or failed); one whose files are still being
        written waits for the next cycle.
        """
        grading: dict[str, Entry] = {}
        now = _iso(self.clock())
        for entry in chosen:
            entry.state, entry.started_at, entry.not_before = QueueState.GRADING, now, None
        self.save()
        postponed = 0
        for entry in chosen:
            try:
                problem = self.collect(entry)
            except _StillWriting:
                entry.state, entry.started_at = QueueState.WAITING, None
                self.log(f"{entry.student}: its files are still being written; collected later")
                postponed += 1
                continue
            if problem:
                self._finish(entry, QueueState.FAILED, problem)
            else:
                grading[entry.student] = entry
                self.log(f"{entry.student}: collected; grading")
        self.save()
        if not grading:
            return len(chosen) - postponed

        def done(outcome: grade.Outcome) -> None:
            entry = grading.get(outcome.student)
            if entry is None or outcome.status == Status.GRADING_ERROR:
                return
            entry.status, entry.score, entry.max_score = (
                outcome.status,
                outcome.score,
                outcome.max_score,
            )
            note = self._notes.pop(entry.student, "")
            entry.reason = "; ".join(r for r in (note, outcome.reason) if r)
            try:
                self.release_feedback(entry)
            except Exception as err:  # the grade stands; say why feedback is missing
                entry.reason = f"feedback not released: {type(err).__name__}: {err}"[:300]
            self._finish(entry, QueueState.DONE, entry.reason)
            self.log(
                f"{entry.student}: {outcome.status}, {outcome.score:g}/{outcome.max_score:g} "
                f"in {outcome.seconds:.1f} s; feedback: {entry.feedback or 'not released'}"
            )
            self.save()

        try:
            rows = grade.grade_assignment(
                assignment=self.assignment,
                course_root=self.course_root,
                workers=workers,
                scheduler=self._scheduler(workers),
                sandboxed=self.sandboxed,
                config=self.overrides,
                show_progress=False,
                on_result=done,
            )
        except Exception as err:  # the queue goes on; these are tried again
            rows = []
            self.log(f"grading failed: {type(err).__name__}: {err}")
        by_student = {row.student: row for row in rows}
        for student, entry in grading.items():
            if entry.state != QueueState.GRADING:
                continue
            row = by_student.get(student)
            if row is not None and row.status == Status.UNCHANGED:
                done(row)  # graded before a restart; only the queue and feedback were behind
                continue
            entry.attempts += 1
            reason = row.reason if row is not None else "the grading did not finish"
            if entry.attempts >= self.settings.max_attempts:
                self._finish(entry, QueueState.FAILED, f"grading_error: {reason}")
            else:
                entry.state, entry.started_at, entry.reason = QueueState.WAITING, None, reason
                self.log(f"{student}: grading_error ({reason}); tried again")
        self.save()
        return len(chosen) - postponed

    def _scheduler(self, workers: int) -> str | Client:
        """Return the watcher's Dask client, its local cluster started on first use.

        One cluster serves every batch of a watcher's run: starting one costs seconds, a
        large part of a single submission's latency. Its parts speak TLS with a key only this
        process holds, so no classmate can use its ports (:mod:`autograder.grading.cluster`).
        ``c.Watch.scheduler`` uses a running one (a ``tls://`` address).
        """
        if self.settings.scheduler:
            return self.settings.scheduler
        if self._client is None:
            from autograder.grading import cluster

            self._client = self._stack.enter_context(cluster.open_client(workers=workers))
        return self._client

    # -- 5. the deadline -------------------------------------------------------------------

    def refresh_feedback_after_deadline(self) -> int:
        """Release full feedback to students whose feedback showed only public tests."""
        scope = deadline.FeedbackDeadline(config=self.config).scope(
            self.coursedir.db_url, self.assignment, self.clock()
        )
        if scope != deadline.FeedbackScope.FULL:
            return 0
        latest: dict[str, Entry] = {}
        for entry in self.entries:
            if entry.state == QueueState.DONE:
                latest[entry.student] = entry
        stale = [e for e in latest.values() if e.feedback == deadline.FeedbackScope.PUBLIC]
        for entry in stale:
            try:
                self.release_feedback(entry)
                self.log(f"{entry.student}: deadline passed; full feedback released")
            except Exception as err:
                self.log(f"{entry.student}: full feedback not released: {err}")
            self.save()
        return len(stale)

    # -- the loop --------------------------------------------------------------------------

    def cycle(self, *, workers: int) -> int:
        """Scan, choose, grade and release once; return how many submissions were taken up."""
        self.scan()
        self.refresh_feedback_after_deadline()
        chosen = self.choose()
        return self.grade_chosen(chosen, workers=workers) if chosen else 0

    def run(self, *, once: bool = False, poll: float | None = None) -> list[Entry]:
        """Watch until interrupted, or with ``once`` until nothing is left to grade now."""
        if self.sandboxed and not grade.sandbox.sandbox_available():
            raise grade.sandbox.SandboxUnavailable(
                "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed: "
                "install it (apt-get install bubblewrap) or pass --no-sandbox to grade unconfined"
            )
        workers = self.settings.workers or os.cpu_count() or 1
        poll = self.settings.poll_interval if poll is None else poll
        with self.locked(), contextlib.ExitStack() as self._stack:
            self.entries = read_queue(self.course_root, self.assignment)
            self.recover()
            due = deadline.due_date(self.coursedir.db_url, self.assignment)
            self.log(
                f"watching {self.inbound} for {self.assignment} (due "
                f"{due.isoformat() if due else 'never: feedback is always full'})"
            )
            while True:
                graded = self.cycle(workers=workers)
                if once and not graded:
                    break
                if not once:
                    time.sleep(poll)
        counts = summary(self.entries)
        self.log("queue: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        return self.entries


def summary(entries: list[Entry]) -> dict[str, int]:
    """Return how many entries are in each queue state."""
    return {str(s): sum(e.state == s for e in entries) for s in QueueState}


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
    return watcher.run(once=once, poll=poll)


def format_queue(entries: list[Entry]) -> str:
    """Return the queue as a table: student, state, status, score, times, reason."""
    header = ("student", "state", "status", "score", "submitted", "finished", "reason")
    lines = [header]
    for e in entries:
        score = "" if e.score is None else f"{e.score:g}/{e.max_score:g}"
        until = f"waits until {e.not_before[:19]}" if e.not_before and e.state == "waiting" else ""
        lines.append(
            (
                _describe(e.student)[1:-1],
                e.state,
                e.status,
                score,
                (e.timestamp or "")[:19],
                (e.finished_at or "")[:19],
                (e.reason or until)[:100],
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    counts = summary(entries)
    table.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(table)
