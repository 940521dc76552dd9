"""The assignment's deadline, and which graded tests are hidden until it.

One place for both facts, shared by the watcher (``autograder.grading.watch``) and the feedback preprocessor
that shows hidden tests only as a total before the deadline (``autograder.feedback.deadline``).

- **The deadline** is the assignment's due date in nbgrader's gradebook, set by the
  instructor with ``nbgrader db assignment add ASSIGNMENT --duedate="2026-12-07 17:00 UTC"``
  (nbgrader updates an existing assignment). nbgrader's ``AssignLatePenalties`` uses the same
  date for late penalties. No due date: no deadline, and feedback is always full.
- **A hidden test** is a graded test cell (``grade: true``, not a solution cell) whose source
  in the source notebook holds a hidden-tests region (nbgrader's ``ClearHiddenTests``
  delimiters, ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``), even in part: its
  score depends on code the released notebook does not show. Every other graded test cell is
  **public**: the student received all of its code and can run it before submitting, so its
  result tells them nothing new.
"""

from __future__ import annotations

import datetime
import warnings
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ClearHiddenTests
from sqlalchemy.exc import SAWarning
from traitlets import Bool
from traitlets.config import Configurable

from autograder.kernel import protocol


class FeedbackScope(protocol.Code):
    """How much of the hidden tests a feedback page shows."""

    PUBLIC = "public"  # public tests in full, hidden tests as one total (before the deadline)
    FULL = "full"  # every test (after the deadline, or with no deadline)


def utcnow() -> datetime.datetime:
    """Return the current time, timezone-aware (UTC)."""
    return datetime.datetime.now(datetime.timezone.utc)


def as_utc(value: datetime.datetime) -> datetime.datetime:
    """Return ``value`` as an aware UTC time (nbgrader stores naive UTC times)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def due_date(db_url: str, assignment: str, course_id: str = "") -> datetime.datetime | None:
    """Return the assignment's due date from the gradebook (aware, UTC), or None.

    ``course_id`` is the course's (``c.CourseDirectory.course_id``); nbgrader's default one
    is used only when it is empty, and opening the gradebook adds it as a course.
    """
    with warnings.catch_warnings(), Gradebook(db_url, course_id or "default_course") as gb:
        warnings.simplefilter("ignore", SAWarning)
        try:
            found = gb.find_assignment(assignment).duedate
        except MissingEntry:
            return None
    return None if found is None else as_utc(found)


def scope_at(due: datetime.datetime | None, now: datetime.datetime) -> FeedbackScope:
    """Return the feedback scope at ``now`` for an assignment due at ``due`` (None: no deadline)."""
    if due is not None and as_utc(now) < due:
        return FeedbackScope.PUBLIC
    return FeedbackScope.FULL


def is_hidden_test(source: str, meta: dict[str, Any], *, begin: str | None = None) -> bool:
    """Return True if a cell with ``source`` and nbgrader metadata ``meta`` is a hidden test.

    ``begin`` is the hidden-region delimiter (default: nbgrader's ``ClearHiddenTests`` one).
    """
    if not meta.get("grade") or meta.get("solution"):
        return False
    marker = begin or ClearHiddenTests.begin_test_delimeter.default_value
    return any(marker in line for line in source.splitlines())


class FeedbackDeadline(Configurable):
    """Whether feedback keeps hidden tests' results back until the assignment's due date.

    Read by the feedback preprocessor ``HideHiddenTests`` and by the watcher, which
    re-releases full feedback once the deadline has passed. Set in ``nbgrader_config.py``,
    e.g. ``c.FeedbackDeadline.hidden_until_deadline = False`` for full feedback at once.
    """

    hidden_until_deadline = Bool(
        True,
        help="Before the assignment's due date (gradebook), feedback shows the public tests' "
        "results and only the total of the hidden ones; after it, or with no due date, every "
        "test's result. False: always every test's result.",
    ).tag(config=True)

    def scope(
        self, db_url: str, assignment: str, now: datetime.datetime, course_id: str = ""
    ) -> FeedbackScope:
        """Return the scope of feedback generated at ``now``."""
        if not self.hidden_until_deadline:
            return FeedbackScope.FULL
        return scope_at(due_date(db_url, assignment, course_id), now)


def format_duration(seconds: float) -> str:
    """Return a duration for people: "40 s", "2 h 5 min", "3 days 4 h"."""
    seconds = max(0, round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    if minutes:
        return f"{minutes} min" + (f" {secs} s" if secs else "")
    return f"{secs} s"


def format_time(when: datetime.datetime) -> str:
    """Return a time as the pages and the queue show it (UTC, to the second)."""
    return f"{as_utc(when):%Y-%m-%d %H:%M:%S} UTC"
