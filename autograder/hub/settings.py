"""The course settings the instructor owns on the class hub: ``course-settings.toml``.

The file lives in the instructor's course root (their JupyterLab's folder, theirs alone), so
they edit it in JupyterLab and it survives restarts: the hub writes it only when it is
missing, with the defaults. At each start the hub (root) reads it without following a link
and applies it: the due dates go into nbgrader's gradebook (late penalties and the deadline
of hidden tests follow them), the late penalty into the course root's ``nbgrader_config.py``,
the hourly limit onto each watcher service's command line, the idle timeout onto the idle
culler's. A file the hub cannot use stops it from starting, with the key, what is wrong and
how to fix it: a deadline silently left at an old value would grade the class against the
wrong date. ``python -m autograder.hub.settings`` checks a file without starting anything
(the instructor runs it in a terminal of their JupyterLab before restarting the hub).

TOML, not a Python file nbgrader would ``load_subconfig``: root reads it, and must not run
code the instructor wrote.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: The file's name in the course root.
SETTINGS_FILE = "course-settings.toml"
#: Larger than any settings file; a bigger one is refused before it is read.
MAX_BYTES = 64 * 1024
#: Which submission counts (the watcher's ``c.Watch.counts``, docs/grading-on-submission.md).
COUNTS = ("latest-on-time-unless-later-scores-higher", "latest")
#: nbgrader's late penalties (``LateSubmissionPlugin.penalty_method``), its default first.
LATE_PENALTIES = ("none", "zero")
#: Minutes of inactivity after which a member's JupyterLab is stopped (0: never).
DEFAULT_CULL_IDLE_AFTER_MINUTES = 60
#: The shortest idle timeout (the culler looks every half timeout).
MIN_CULL_IDLE_AFTER_MINUTES = 0.5
#: An assignment name: a folder of the source directory, a JupyterHub service name.
_ASSIGNMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_KEYS = ("late_penalty", "counts", "max_graded_per_hour", "cull_idle_after_minutes", "assignments")


class SettingsError(ValueError):
    """The settings file is not usable; the message names the key and says how to fix it."""


@dataclass(frozen=True)
class AssignmentSettings:
    """One assignment the hub grades on submission, and its due date (UTC, or None)."""

    name: str
    due: datetime.datetime | None = None

    @property
    def due_utc_text(self) -> str | None:
        """The due date as nbgrader's gradebook takes it (``YYYY-mm-dd HH:MM:SS UTC``)."""
        return None if self.due is None else f"{self.due:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class CourseSettings:
    """What the instructor decided for the course; see the module docstring for who uses what.

    ``max_graded_per_hour`` None leaves the watcher's own default (``c.Watch``).
    """

    late_penalty: str = LATE_PENALTIES[0]
    counts: str = COUNTS[0]
    max_graded_per_hour: int | None = None
    cull_idle_after_minutes: float = DEFAULT_CULL_IDLE_AFTER_MINUTES
    assignments: tuple[AssignmentSettings, ...] = ()

    @property
    def cull_idle_after_s(self) -> int:
        """The idle culler's timeout in seconds (0: no culler)."""
        return round(self.cull_idle_after_minutes * 60)

    def describe(self) -> str:
        """Say in a few lines what these settings do."""
        limit = (
            "the watcher's default"
            if self.max_graded_per_hour is None
            else "no limit"
            if self.max_graded_per_hour == 0
            else str(self.max_graded_per_hour)
        )
        cull = (
            "never"
            if not self.cull_idle_after_s
            else f"after {self.cull_idle_after_minutes:g} minutes without activity"
        )
        lines = [
            f"late penalty: {self.late_penalty}",
            f"which submission counts: {self.counts}",
            f"submissions graded per student per hour: {limit}",
            f"idle JupyterLab servers stopped: {cull}",
        ]
        for assignment in self.assignments:
            due = assignment.due_utc_text or "no due date"
            lines.append(f"{assignment.name}: graded on submission, due {due}")
        if not self.assignments:
            lines.append("no assignment is graded on submission (no [assignments.NAME] table)")
        return "\n".join(lines)


def _fail(path: Path, key: str, problem: str, fix: str) -> SettingsError:
    return SettingsError(f"{path}: {key} {problem}; {fix}")


def parse_settings(text: str, path: Path, known_assignments: tuple[str, ...]) -> CourseSettings:
    """Validate the TOML ``text`` of a settings file; ``path`` is only for the messages.

    ``known_assignments`` are the source folder's assignments, the only ones a table may name.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(
            f"{path} is not valid TOML: {err}; a due date is written without quotes and with"
            " its time zone, as in due = 2026-12-07T17:00:00Z"
        ) from err
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise _fail(
            path,
            ", ".join(unknown),
            "is not a setting",
            f"the settings are {', '.join(_KEYS)} (check the spelling; a due date goes in its"
            " assignment's table: [assignments.NAME] then due = ...)",
        )
    penalty = data.get("late_penalty", CourseSettings.late_penalty)
    if penalty not in LATE_PENALTIES:
        raise _fail(
            path,
            "late_penalty",
            f"is {penalty!r}",
            f"write one of {', '.join(map(repr, LATE_PENALTIES))} (nbgrader's penalty_method)",
        )
    counts = data.get("counts", CourseSettings.counts)
    if counts not in COUNTS:
        raise _fail(
            path, "counts", f"is {counts!r}", f"write one of {', '.join(map(repr, COUNTS))}"
        )
    limit = data.get("max_graded_per_hour")
    if limit is not None and (type(limit) is not int or limit < 0):
        raise _fail(
            path,
            "max_graded_per_hour",
            f"is {limit!r}",
            "write a whole number of submissions, 0 for no limit",
        )
    cull = data.get("cull_idle_after_minutes", DEFAULT_CULL_IDLE_AFTER_MINUTES)
    if (
        type(cull) not in (int, float)
        or not math.isfinite(cull)
        or (cull != 0 and not cull >= MIN_CULL_IDLE_AFTER_MINUTES)
    ):
        raise _fail(
            path,
            "cull_idle_after_minutes",
            f"is {cull!r}",
            f"write minutes, at least {MIN_CULL_IDLE_AFTER_MINUTES:g}, or 0 to never stop idle"
            " servers",
        )
    tables = data.get("assignments", {})
    if not isinstance(tables, dict):
        raise _fail(
            path, "assignments", "is not a table", "write one [assignments.NAME] table each"
        )
    assignments = tuple(
        _assignment(path, name, table, known_assignments) for name, table in tables.items()
    )
    return CourseSettings(
        late_penalty=penalty,
        counts=counts,
        max_graded_per_hour=limit,
        cull_idle_after_minutes=cull,
        assignments=assignments,
    )


def _assignment(
    path: Path, name: str, table: object, known_assignments: tuple[str, ...]
) -> AssignmentSettings:
    key = f"[assignments.{name}]"
    if not _ASSIGNMENT.fullmatch(name) or name not in known_assignments:
        raise _fail(
            path,
            key,
            "names no assignment of the course",
            f"the assignments are {', '.join(known_assignments) or '(none)'}",
        )
    if not isinstance(table, dict):
        raise _fail(path, key, "is not a table", f"write [assignments.{name}] on a line of its own")
    unknown = sorted(set(table) - {"due"})
    if unknown:
        raise _fail(
            path, f"{key} {', '.join(unknown)}", "is not a setting", "an assignment has only due"
        )
    due = table.get("due")
    example = "due = 2026-12-07T17:00:00Z (UTC) or due = 2026-12-07T18:00:00+01:00"
    if due is None:
        return AssignmentSettings(name)
    if isinstance(due, str):
        raise _fail(
            path, f"{key} due", f"is the text {due!r}", f"write the date without quotes: {example}"
        )
    if not isinstance(due, datetime.datetime):
        raise _fail(
            path, f"{key} due", f"is {due!r}, not a date and time", f"write it as {example}"
        )
    if due.tzinfo is None:
        raise _fail(
            path,
            f"{key} due",
            f"= {due.isoformat()} has no time zone",
            f"add one (Z for UTC): {example}",
        )
    return AssignmentSettings(name, due.astimezone(datetime.timezone.utc))


def read_text_nofollow(folder: Path, name: str, limit: int = MAX_BYTES) -> str | None:
    """Return the text of the regular file ``name`` in ``folder``, or None if there is none.

    Neither the folder nor the file is reached through a link, a FIFO does not block, and a
    file over ``limit`` bytes is refused: root reads this file in the instructor's folder.
    """
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fd = os.open(
                name,
                os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                dir_fd=folder_fd,
            )
        except FileNotFoundError:
            return None
        except OSError as err:
            raise SettingsError(
                f"{folder / name} cannot be opened ({err.strerror}): it must be a plain file,"
                " not a link; remove it and restart the hub for the defaults"
            ) from err
    finally:
        os.close(folder_fd)
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise SettingsError(
                f"{folder / name} is not a plain file of at most {limit} bytes: replace it with"
                " the settings (remove it and restart the hub for the defaults)"
            )
        data = handle.read(limit + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SettingsError(f"{folder / name} is not UTF-8 text: {err}") from err


def create_nofollow(folder: Path, name: str, text: str, uid: int, gid: int) -> bool:
    """Create the file ``name`` in ``folder`` with ``text``, owned by ``uid``:``gid``, mode
    0600; return False (and change nothing) if something is already there, a link included."""
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fd = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=folder_fd,
        )
    except FileExistsError:
        return False
    finally:
        os.close(folder_fd)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchown(out.fileno(), uid, gid)
        os.fchmod(out.fileno(), 0o600)
        out.write(text)
    return True


def default_text(assignments: tuple[str, ...], max_graded_per_hour: int) -> str:
    """Return the settings file the hub writes when there is none: every setting at its
    default, one ``[assignments.NAME]`` table per assignment of the source folder."""
    lines = [
        "# The course's settings on the class hub, yours to edit. The hub reads this file at",
        "# each start: a change applies when the hub restarts. A file it cannot use stops the",
        "# hub from starting, with the setting and how to fix it; check your edit first, in a",
        "# terminal: python -m autograder.hub.settings course-settings.toml",
        "",
        '# Late work (nbgrader\'s LateSubmissionPlugin.penalty_method): "none" keeps its score',
        '# (the gradebook records how late it was), "zero" scores it 0.',
        f'late_penalty = "{LATE_PENALTIES[0]}"',
        "",
        "# Which submission counts when a student submits more than once: a late one is",
        "# graded and shown to the student, but counts only if it scores higher after its penalty:",
        f"# {' or '.join(map(repr, COUNTS))}.",
        f'counts = "{COUNTS[0]}"',
        "",
        "# Submissions of one student graded per hour (0: no limit); more wait their turn.",
        f"max_graded_per_hour = {max_graded_per_hour}",
        "",
        "# Minutes without activity after which a member's JupyterLab and its kernels are",
        "# stopped (0: never). Their files stay; logging in again starts it again.",
        f"cull_idle_after_minutes = {DEFAULT_CULL_IDLE_AFTER_MINUTES}",
        "",
        "# One table per assignment graded on submission (the hub runs a watcher for each).",
        "# The due date: no quotes, with its time zone (Z is UTC). Without one nothing is late",
        "# and feedback shows every test at once.",
    ]
    for name in assignments:
        lines += ["", f"[assignments.{name}]", "# due = 2026-12-07T17:00:00Z"]
    return "\n".join(lines) + "\n"


def source_assignments(source_directory: Path) -> tuple[str, ...]:
    """Return the assignments of an nbgrader source folder (its sub-folders), sorted."""
    return tuple(
        sorted(
            p.name
            for p in source_directory.iterdir()
            if p.is_dir() and _ASSIGNMENT.fullmatch(p.name)
        )
    )


def load_settings(course_root: Path, known_assignments: tuple[str, ...]) -> CourseSettings:
    """Read and validate the course root's settings file (defaults if there is none)."""
    text = read_text_nofollow(course_root, SETTINGS_FILE)
    if text is None:
        return CourseSettings(assignments=tuple(AssignmentSettings(a) for a in known_assignments))
    return parse_settings(text, course_root / SETTINGS_FILE, known_assignments)


def main(argv: list[str] | None = None) -> int:
    """Check a settings file: print what it sets, or what is wrong (status 1)."""
    from autograder.hub.layout import SOURCE_DIRECTORY

    parser = argparse.ArgumentParser(
        prog="python -m autograder.hub.settings",
        description="Check the class hub's course settings file and say what it sets.",
    )
    parser.add_argument("file", type=Path, nargs="?", default=Path(SETTINGS_FILE))
    args = parser.parse_args(argv)
    path = Path(os.path.abspath(args.file))
    try:
        text = read_text_nofollow(path.parent, path.name)
        if text is None:
            raise SettingsError(f"{path}: no such file")
        settings = parse_settings(text, path, source_assignments(SOURCE_DIRECTORY))
    except (SettingsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{path}: ok; it applies when the hub restarts")
    print(settings.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
