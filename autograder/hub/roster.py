"""The class file: course id, one instructor and the students (``class.toml``)."""

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


@dataclass(frozen=True)
class ClassRoster:
    """Who is in the class: nbgrader's course id, the instructor and the students."""

    course_id: str
    instructor: str
    students: tuple[str, ...]

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
    return ClassRoster(
        course_id=str(data.get("course_id", "")),
        instructor=data.get("instructor", ""),
        students=tuple(students),
    )
