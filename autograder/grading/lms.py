"""Grades out to a learning management system: CSV files Canvas's and Moodle's gradebook import.

One row per student of the gradebook, one grade column: the assignment's total after the late
penalty, computed as ``nbgrader export`` computes its ``score`` column
(``max(0, raw score - late penalty)``, manual scores from the Formgrader included). A student
of the gradebook with no submission (the class hub puts its roster there) gets 0 once the
assignment's due date has passed, as ``nbgrader export`` writes; before it, or with no due
date, an empty cell, which both importers leave unchanged, so a grade is not set to 0 while
the student may still submit.

- **Canvas** (Grades > Import): ``Student, ID, SIS User ID, SIS Login ID, Section,
  <assignment>``, then a ``Points Possible`` row, as in Canvas's own gradebook export. Canvas
  matches each row to a student by one of its id columns; the nbgrader student id (the hub
  user name) goes into ``c.LmsExport.canvas_id_column`` (default ``SIS Login ID``), the other
  id columns stay empty. ``Student`` is "Last, First" from the gradebook, else the student id.
  A grade column Canvas does not know yet becomes a new assignment on import.
- **Moodle** (Grades > Import > CSV file): ``Username, Email address, <assignment>``; on
  the import page map "Username" to "username" (or "Email address" to "email") and the
  assignment column to its grade item.
"""

from __future__ import annotations

import csv
import datetime
import io
import warnings
from pathlib import Path
from typing import Any

from nbgrader.api import MissingEntry
from sqlalchemy.exc import SAWarning
from traitlets import Enum, Unicode
from traitlets.config import Configurable

from autograder.grading import planning
from autograder.kernel import protocol


class LmsFormat(protocol.Code):
    """The learning management systems the CSV export writes for."""

    CANVAS = "canvas"
    MOODLE = "moodle"


class LmsExport(Configurable):
    """How grades are written for an LMS, settable in ``nbgrader_config.py`` (``c.LmsExport``)."""

    canvas_id_column = Enum(
        ["SIS Login ID", "SIS User ID", "ID"],
        "SIS Login ID",
        help="The Canvas column that holds the nbgrader student id (the one Canvas matches "
        "students by in your institution).",
    ).tag(config=True)
    grade_column = Unicode(
        "",
        help="Title of the grade column (default: the assignment's name). For Canvas, "
        "'Name (1234)' updates the existing assignment 1234.",
    ).tag(config=True)


def class_scores(plan: planning.Plan, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """Return one dict per gradebook student: id, names, email and total (None: no
    submission, and the due date, if any, has not passed at ``now``, default the clock's)."""
    coursedir = planning.course_directory(plan.config, plan.assignment)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    rows = []
    with warnings.catch_warnings(), planning.open_gradebook(coursedir) as gb:
        warnings.simplefilter("ignore", SAWarning)
        due = gb.find_assignment(plan.assignment).duedate  # naive UTC, as nbgrader keeps it
        missed = 0.0 if due and due.replace(tzinfo=datetime.timezone.utc) <= now else None
        for student in gb.students:
            try:
                submission = gb.find_submission(plan.assignment, student.id)
            except MissingEntry:
                total = missed
            else:
                total = max(0.0, submission.score - submission.late_submission_penalty)
            rows.append(
                {
                    "id": student.id,
                    "first_name": student.first_name or "",
                    "last_name": student.last_name or "",
                    "email": student.email or "",
                    "total": total,
                }
            )
    return sorted(rows, key=lambda r: r["id"])


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def lms_csv(plan: planning.Plan, fmt: LmsFormat) -> str:
    """Return the CSV text for ``fmt`` (see the module docstring for the columns)."""
    settings = LmsExport(config=plan.config)
    column = settings.grade_column or plan.assignment
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    rows = class_scores(plan)
    if fmt == LmsFormat.CANVAS:
        ids = ["ID", "SIS User ID", "SIS Login ID"]
        writer.writerow(["Student", *ids, "Section", column])
        writer.writerow(["    Points Possible", "", "", "", "", _cell(plan.max_score)])
        for row in rows:
            name = ", ".join(n for n in (row["last_name"], row["first_name"]) if n) or row["id"]
            cells = {k: "" for k in ids} | {settings.canvas_id_column: row["id"]}
            writer.writerow([name, *(cells[k] for k in ids), "", _cell(row["total"])])
    else:
        writer.writerow(["Username", "Email address", column])
        for row in rows:
            writer.writerow([row["id"], row["email"], _cell(row["total"])])
    return out.getvalue()


def export_lms(
    *,
    assignment: str,
    fmt: str | LmsFormat,
    course_root: str | Path = ".",
    output: str | Path | None = None,
) -> Path:
    """Write ``assignment``'s grades for an LMS; return the file.

    Args:
        fmt: ``canvas`` or ``moodle``.
        output: the CSV file (default: ``<course_root>/reports/<assignment>-<fmt>.csv``).
    """
    course_root = Path(course_root).resolve()
    fmt = LmsFormat(fmt)
    plan = planning.make_plan(course_root=course_root, assignment=assignment)
    path = Path(output) if output else course_root / "reports" / f"{assignment}-{fmt}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lms_csv(plan, fmt), encoding="utf-8")
    return path
