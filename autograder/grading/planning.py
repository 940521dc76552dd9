"""What a grading run knows before it grades: the course, the assignment and the submissions.

:func:`make_plan` reads the course's configuration and the assignment's graded cells from the
gradebook once, into a :class:`Plan`; :func:`find_submissions` lists the submitted notebooks,
hashed as read (without following links, :mod:`autograder.grading.submitted`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from autograder.grading import kernel_pool, state
from autograder.grading.submitted import (
    MAX_NOTEBOOK_BYTES,
    SubmittedFileError,
    read_submitted,
    read_timestamp,
)

if TYPE_CHECKING:
    from autograder.kernel.reference import Reference


class GradingSetupError(ValueError):
    """Raise when the course is not ready to grade (no assignment, no such submission)."""


@dataclasses.dataclass
class Submission:
    """One student's submitted notebook and its submission time as nbgrader recorded it."""

    student: str
    path: Path
    sha256: str
    timestamp: str | None = None
    timestamp_problem: str = ""


@dataclasses.dataclass
class Plan:
    """What the driver needs to know about the assignment, read once."""

    course_root: Path
    assignment: str
    notebook: str
    config: Config
    reference: Reference
    key: bytes
    points: dict[str, float]
    max_score: float
    preload: tuple[str, ...] = ()

    @property
    def test_ids(self) -> list[str]:
        """Return the grade_ids of the graded tests, in notebook order."""
        return list(self.points)


@dataclasses.dataclass(frozen=True)
class _GradedNotebook:
    """The assignment's one notebook as the gradebook holds it."""

    name: str
    points: dict[str, float]
    max_score: float


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 of ``data`` in hex: how a submission's notebook is known."""
    return hashlib.sha256(data).hexdigest()


def load_config(course_root: Path) -> Config:
    """Return the course's nbgrader configuration, rooted at ``course_root``.

    Read where nbgrader reads it (:func:`autograder.grading.app.course_config`).
    """
    from autograder.grading.app import course_config

    return course_config(course_root)


def course_directory(plan_config: Config, assignment: str, student: str = "*") -> CourseDirectory:
    """Return nbgrader's view of the course for ``assignment`` (and ``student``; * is all)."""
    config = copy.deepcopy(plan_config)
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    return CourseDirectory(config=config)


def open_gradebook(coursedir: CourseDirectory) -> Gradebook:
    """Return the course's gradebook, opened for its course id (never nbgrader's default one)."""
    return Gradebook(coursedir.db_url, coursedir.course_id)


def make_plan(
    *,
    course_root: Path,
    assignment: str,
    overrides: Config | None = None,
    config: Config | None = None,
) -> Plan:
    """Read the assignment's graded cells from the gradebook and the reference data.

    ``config`` is the configuration already loaded (the command's); without it the course's
    is loaded, with ``overrides`` (e.g. flags) taking precedence over ``nbgrader_config.py``.
    """
    from autograder.kernel.reference import load

    config = _course_config(course_root, overrides, config)
    notebook = _graded_notebook(config, course_root, assignment)
    return Plan(
        course_root=course_root,
        assignment=assignment,
        notebook=notebook.name,
        config=config,
        reference=load(),
        key=state.probe_key(course_root),
        points=notebook.points,
        max_score=notebook.max_score,
        preload=_preload(course_directory(config, assignment), notebook.name),
    )


def _course_config(course_root: Path, overrides: Config | None, config: Config | None) -> Config:
    """Return the configuration to grade with: ``config`` or the course's, then ``overrides``."""
    if not (course_root / "nbgrader_config.py").is_file():
        raise GradingSetupError(
            f"{course_root} is not an nbgrader course root (it has no nbgrader_config.py): run "
            "the command from the course root (autograder/course) or pass --course-root"
        )
    if config is None:
        config = load_config(course_root)
    if overrides is not None:
        config = copy.deepcopy(config)
        config.merge(overrides)
    return config


def _graded_notebook(config: Config, course_root: Path, assignment: str) -> _GradedNotebook:
    """Return the one notebook of ``assignment`` and its graded tests' points, from the gradebook."""
    coursedir = course_directory(config, assignment)
    db_url = coursedir.db_url
    with open_gradebook(coursedir) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry as err:
            raise GradingSetupError(
                f"assignment {assignment!r} is not in the gradebook {db_url}: run "
                f"`nbgrader generate_assignment {assignment}` in {course_root} first"
            ) from err
        if len(found.notebooks) != 1:
            raise GradingSetupError(f"{assignment} must have exactly one notebook to grade")
        notebook = found.notebooks[0]
        solutions = {s.name for s in notebook.solution_cells}
        points = {
            c.name: float(c.max_score) for c in notebook.grade_cells if c.name not in solutions
        }
        return _GradedNotebook(notebook.name, points, float(notebook.max_score))


def _preload(coursedir: CourseDirectory, notebook: str) -> tuple[str, ...]:
    """Return the modules the instructor's notebook imports (its source, else its release)."""
    for step in (coursedir.source_directory, coursedir.release_directory):
        folder = coursedir.format_path(step, ".", coursedir.assignment_id)
        try:
            nb = nbformat.read(Path(folder) / f"{notebook}.ipynb", as_version=4)
        except (OSError, ValueError):  # not there, or not a notebook: try the next
            continue
        return kernel_pool.preload_modules(nb)
    return ()


def find_submissions(plan: Plan, student: str | None = None) -> list[Submission]:
    """Return the submissions under ``submitted/``, one per student, sorted by student."""
    coursedir = course_directory(plan.config, plan.assignment)
    root = Path(coursedir.submitted_directory)
    if not root.is_absolute():
        root = plan.course_root / root
    found = []
    for folder in sorted(root.glob("*")):
        if student is not None and folder.name != student:
            continue
        path = folder / plan.assignment / f"{plan.notebook}.ipynb"
        try:
            digest = sha256_hex(read_submitted(path, MAX_NOTEBOOK_BYTES))
        except FileNotFoundError:
            continue
        except SubmittedFileError:
            digest = sha256_hex(b"")  # prepare() says what is wrong with it
        timestamp, problem = read_timestamp(path.parent)
        found.append(Submission(folder.name, path, digest, timestamp, problem))
    if student is not None and not found:
        raise GradingSetupError(f"no submission for student {student!r} under {root}")
    return found


def read_state(plan: Plan, student: str) -> state.Record | None:
    """Return the valid record of ``student``'s last grading, or None."""
    return state.read(plan.course_root, plan.assignment, student, plan.points)
