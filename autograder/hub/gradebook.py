"""Put the class into nbgrader's gradebook at each hub start: the roster and the due dates.

The class file's students (names, emails) become the gradebook's students, so the Formgrader
lists names, the LMS exports have a row (and a name, an email) for every student, one who
never submitted included, and ``c.Watch.known_students_only`` has a roster to check. Each
assignment of the settings file gets its due date (late penalties and the hidden tests'
deadline follow it); an assignment without one keeps the gradebook's.

The gradebook is the instructor's file: the hub (root) runs this module *as the instructor*
(``python -m autograder.hub.gradebook`` with the plan as JSON on stdin), so every file
SQLite makes stays theirs. A student the class file no longer lists stays in the gradebook
with their grades.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class GradebookPlan:
    """What goes into the gradebook: crosses from the hub (root) to the instructor's process."""

    course_root: str
    course_id: str
    #: One dict per student: id, first_name, last_name, email (roster.Student's fields).
    students: tuple[dict[str, str], ...]
    #: Assignment name -> due date as nbgrader writes it (``... UTC``), or None: keep the
    #: gradebook's.
    due_dates: dict[str, str | None]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> GradebookPlan:
        data = json.loads(text)
        data["students"] = tuple(data["students"])
        return cls(**data)


def apply(plan: GradebookPlan) -> list[str]:
    """Write ``plan`` into the course root's gradebook; return a line per change."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    from autograder.grading import planning

    config = planning.load_config(Path(plan.course_root))
    db_url = planning.course_directory(config, "").db_url
    said = []
    with warnings.catch_warnings(), Gradebook(db_url, plan.course_id) as gb:
        warnings.simplefilter("ignore", SAWarning)
        for student in plan.students:
            details = {k: v or None for k, v in student.items() if k != "id"}
            try:
                known = gb.find_student(student["id"])
            except MissingEntry:
                known = None
            if known is None or any(getattr(known, k) != v for k, v in details.items()):
                gb.update_or_create_student(student["id"], **details)
                said.append(
                    f"gradebook: student {student['id']} {'added' if known is None else 'updated'}"
                )
        for name, due in plan.due_dates.items():
            if due is None:
                continue
            gb.update_or_create_assignment(name, duedate=due)
            said.append(f"gradebook: {name} due {due}")
    return said


def main() -> int:
    """Apply the plan read from stdin; print what changed."""
    # nbgrader's Gradebook runs alembic from PATH: find the one beside this interpreter.
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    for line in apply(GradebookPlan.from_json(sys.stdin.read())):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
