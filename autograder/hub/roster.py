"""The class file: course id, one instructor and the students (``class.toml``).

A student is a name (``"nnc-ada"``) or a table with the name and, for the gradebook (the
Formgrader's list, the LMS exports), their first and last names and email::

    students = [
      {id = "nnc-ada", first_name = "Ada", last_name = "Lovelace", email = "ada@example.edu"},
      "nnc-alan",
    ]
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_CLASS_FILE = Path(__file__).with_name("class.toml")

# A name that is at once a portable Unix login, a JupyterHub user and an nbgrader student id
# (nbgrader's exchange splits file names on '+', JupyterHub lowercases logins).
_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


class RosterError(ValueError):
    """The class file is not usable; the message says which entry and how to fix it."""


#: What the class file may say about a student besides their id (nbgrader's Student columns).
STUDENT_DETAILS = ("first_name", "last_name", "email")


@dataclass(frozen=True)
class Student:
    """A student as the gradebook records them: id (the login), names and email (or empty)."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""

    def __post_init__(self) -> None:
        for key in STUDENT_DETAILS:
            value = getattr(self, key)
            if not isinstance(value, str) or any(ch in value for ch in "\r\n\t\0"):
                raise RosterError(
                    f"student {self.id!r}: {key} must be text on one line, not {value!r}"
                )
        if self.email and (
            self.email.count("@") != 1 or any(ch.isspace() or ch in ",;<>" for ch in self.email)
        ):
            raise RosterError(
                f"student {self.id!r}: email {self.email!r} is not one address (name@host)"
            )


@dataclass(frozen=True)
class ClassRoster:
    """Who is in the class: nbgrader's course id, the instructor and the students."""

    course_id: str
    instructor: str
    students: tuple[str, ...]
    #: Names and emails of the students the class file gives them for (by id).
    details: tuple[Student, ...] = ()

    def __post_init__(self) -> None:
        if not self.course_id:
            raise RosterError("course_id is empty")
        if not self.students:
            raise RosterError("students is empty: list at least one student")
        for name in (self.instructor, *self.students):
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise RosterError(
                    f"{name!r} is not a usable account name: use lowercase letters, digits,"
                    " '-' and '_' (at most 32, starting with a letter or '_')"
                )
        if len(set(self.students)) != len(self.students):
            raise RosterError("a student is listed twice")
        if self.instructor in self.students:
            raise RosterError(f"{self.instructor!r} is both the instructor and a student")
        strangers = {d.id for d in self.details} - set(self.students)
        if strangers:
            raise RosterError(f"details given for {sorted(strangers)}, who are not students")

    def student(self, name: str) -> Student:
        """Return the student ``name`` with what the class file says about them."""
        if name not in self.students:
            raise KeyError(f"{name!r} is not a student of the class")
        return next((d for d in self.details if d.id == name), Student(name))

    @property
    def users(self) -> tuple[str, ...]:
        """Every account of the class, the instructor first."""
        return (self.instructor, *self.students)

    def role(self, name: str) -> str:
        """Return ``"instructor"`` or ``"student"`` for a member of the class."""
        if name == self.instructor:
            return "instructor"
        if name in self.students:
            return "student"
        raise KeyError(f"{name!r} is not in the class")


def load_roster(path: Path = DEFAULT_CLASS_FILE) -> ClassRoster:
    """Read and validate a class file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise RosterError(f"cannot read the class file {path}: {err}") from err
    unknown = set(data) - {"course_id", "instructor", "students"}
    if unknown:
        raise RosterError(f"{path}: unknown keys {sorted(unknown)}")
    students = data.get("students", [])
    if not isinstance(students, list):
        raise RosterError(f"{path}: students must be a list of names")
    try:
        listed = [_student(entry) for entry in students]
        return ClassRoster(
            course_id=str(data.get("course_id", "")),
            instructor=data.get("instructor", ""),
            students=tuple(s.id for s in listed),
            details=tuple(s for s in listed if s != Student(s.id)),
        )
    except RosterError as err:
        raise RosterError(f"{path}: {err}") from err


def _student(entry: object) -> Student:
    """Return the student a ``students`` entry names: a name, or a table with ``id``."""
    if isinstance(entry, str):
        return Student(entry)
    if not isinstance(entry, dict) or "id" not in entry:
        raise RosterError(
            f"{entry!r} is not a student: write a name, or a table such as"
            ' {id = "nnc-ada", first_name = "Ada", last_name = "Lovelace", email = "ada@example.edu"}'
        )
    unknown = set(entry) - {"id", *STUDENT_DETAILS}
    if unknown:
        raise RosterError(
            f"student {entry['id']!r}: unknown keys {sorted(unknown)}"
            f" (a student has id, {', '.join(STUDENT_DETAILS)})"
        )
    return Student(**entry)
