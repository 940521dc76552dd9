"""Copy a chosen submission from nbgrader's exchange into the course, by descriptor only.

The inbound folder is opened once without following a link and must still be the folder
scanned (same device and inode, same owner); the notebook and ``submission_secret.txt`` are
then opened *in that open folder* (``dir_fd``), without following links or blocking on a
FIFO, checked (regular files, at most ``submitted.MAX_NOTEBOOK_BYTES``) and read through their
descriptors; change times come from those descriptors too. Nothing is opened by path a
second time, so a folder swapped for a link to a classmate's folder or to the solutions
after its check is never read. Collected are only the notebook, its timestamp (as nbgrader's
collect orders them) and the secret (hex only; a link or other non-regular file in its place
fails the submission), written to a new folder that then replaces
``submitted/<student>/<assignment>/``. Anything else in the folder is never read.

A submission that is not a notebook, is too large, is a notebook of another assignment, or
whose files vanish or change while they are read is *failed* with its reason and not
collected: the student's previous submission stays graded. A folder whose notebook is
missing or not whole while something in it changed within :data:`SETTLE_S` seconds is still
being written (``nbgrader submit`` makes the folder, then copies into it): it waits.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import shutil
import time
from collections.abc import Callable, Collection
from pathlib import Path

import nbformat

from autograder.grading import submitted
from autograder.grading.watch.admission import Refused, describe, open_folder
from autograder.grading.watch.entries import Entry
from autograder.grading.watch.settings import Watch

#: Seconds a submission's folder must have stood unchanged before a missing or unreadable
#: notebook fails it: ``nbgrader submit`` makes the folder first, then copies the files in.
SETTLE_S = 5.0


class StillWriting(Exception):
    """Raise when a submission's folder changed within SETTLE_S and its notebook is not whole."""


class Collector:
    """Copies one assignment's chosen submissions into ``submitted/`` (module docstring)."""

    def __init__(
        self,
        *,
        settings: Watch,
        assignment: str,
        notebook: str,
        graded_cells: Collection[str],
        inbound: Path,
        submitted_folder: Callable[[str], Path],
        log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.assignment = assignment
        self.notebook = f"{notebook}.ipynb"
        self.graded_cells = set(graded_cells)
        self.inbound = inbound
        self.submitted_folder = submitted_folder
        self.log = log
        #: Per student: what collecting changed (a claimed time replaced), for the queue.
        self.notes: dict[str, str] = {}

    def collect(self, entry: Entry) -> str:
        """Copy the submission into ``submitted/``; return why it cannot be graded, or "".

        Everything is read through descriptors of the one folder opened; a file that vanishes
        or changes meanwhile fails this submission only. Raises StillWriting for a folder
        still being written.
        """
        try:
            fd, _ = open_folder(entry, self.inbound, check_owner=self.settings.check_owner)
        except Refused as problem:
            return str(problem)
        try:
            data, secret, written = self._read_submission(fd)
            written = max(written, os.fstat(fd).st_ctime)
        except Refused as problem:
            if problem.incomplete and _changed_lately(fd):
                raise StillWriting from problem
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

        ``fd`` is the submission's open folder. Raises Refused with the reason it cannot be
        graded.
        """
        name = self.notebook
        try:
            data, info = submitted.read_submitted_at(name, submitted.MAX_NOTEBOOK_BYTES, dir_fd=fd)
        except FileNotFoundError as err:
            raise Refused(f"it holds no {name} ({_listing(fd)})", incomplete=True) from err
        except submitted.TooLarge as err:
            raise Refused(
                f"{name} is larger than {submitted.MAX_NOTEBOOK_BYTES // 1024**2} MiB"
            ) from err
        except submitted.SubmittedFileError as err:
            raise Refused(f"{name} cannot be read: {err}") from err
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells}
        except Exception as err:  # anything unreadable is the submission's problem
            raise Refused(f"{name} is not a Jupyter notebook", incomplete=True) from err
        if not ids & self.graded_cells:
            raise Refused(
                f"{name} is not a notebook of {self.assignment}: none of its graded cells is there"
            )
        try:
            secret = submitted.read_secret(dir_fd=fd, strict=True) or ""
        except submitted.SubmittedFileError as err:
            raise Refused(f"{err} (nbgrader submit writes a small regular file)") from err
        return data, secret, info.st_ctime

    def _check_time(self, entry: Entry, written: float) -> None:
        """Replace a claimed submission time earlier than ``written``, the files' change time."""
        skew = self.settings.max_clock_skew
        if skew <= 0 or entry.timestamp is None:
            return
        claimed = entry.timestamp
        if claimed.timestamp() >= written - skew:
            return
        entry.timestamp = datetime.datetime.fromtimestamp(written, datetime.timezone.utc)
        self.notes[entry.student] = (
            f"its submission time {claimed:%Y-%m-%d %H:%M:%S} UTC is earlier than its files "
            f"({entry.timestamp:%Y-%m-%d %H:%M:%S} UTC), which is used instead"
        )
        self.log(f"{entry.student}: {self.notes[entry.student]}")

    def _write_submitted(self, entry: Entry, data: bytes, secret: str) -> None:
        """Write a new ``submitted/`` folder for ``entry``, then put it in the old one's place."""
        dest = self.submitted_folder(entry.student)
        dest.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.assignment}.nn-watch-"
        for leftover in dest.parent.glob(prefix + "*"):
            shutil.rmtree(leftover, ignore_errors=True)
        new = dest.parent / f"{prefix}{secrets.token_hex(4)}"
        new.mkdir()
        (new / self.notebook).write_bytes(data)
        assert entry.timestamp is not None  # set when it was admitted
        (new / "timestamp.txt").write_text(f"{entry.timestamp:%Y-%m-%d %H:%M:%S.%f} UTC")
        if secret:
            (new / "submission_secret.txt").write_text(secret)
        replace_folder(new, dest)


def replace_folder(new: Path, dest: Path) -> None:
    """Put the folder ``new`` in ``dest``'s place; the old one (if any) is removed after."""
    if not os.path.lexists(dest):
        os.replace(new, dest)
        return
    old = dest.parent / f"{new.name}.old"
    os.replace(dest, old)
    os.replace(new, dest)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


def _changed_lately(fd: int) -> bool:
    """Return True when the open folder ``fd`` or a file in it changed within SETTLE_S."""
    newest = os.fstat(fd).st_ctime
    with contextlib.suppress(OSError):
        for name in os.listdir(fd):
            with contextlib.suppress(OSError):
                newest = max(newest, os.stat(name, dir_fd=fd, follow_symlinks=False).st_ctime)
    return time.time() - newest < SETTLE_S


def _listing(fd: int) -> str:
    """Describe what the open folder ``fd`` holds (at most five names, escaped)."""
    try:
        names = sorted(os.listdir(fd))
    except OSError:
        return "its folder cannot be listed"
    shown = ", ".join(describe(n) for n in names[:5])
    return f"it holds {shown}{', ...' if len(names) > 5 else ''}" if names else "it is empty"
