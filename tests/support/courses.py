"""Build nbgrader courses in temporary folders, laid out as in the repository, and run nbgrader.

A course lives at ``<root>/autograder/course`` with its source notebooks at
``<root>/assignment/<assignment>/``, so the repository's ``nbgrader_config.py`` (which finds the
source folder relative to itself) works unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from submissions import make_submissions

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "C2_W2_Assignment"
SOURCE = REPO_ROOT / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def nbgrader(course: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``course``; raise with its log if it fails."""
    # nbgrader runs `alembic` from PATH when it creates a gradebook.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def new_course(root: Path, sources: dict[str, nbformat.NotebookNode] | None = None) -> Path:
    """Lay out a course under ``root`` and return its course root (``root/autograder/course``).

    ``sources`` maps assignment names to source notebooks; by default the repository's
    ``assignment/`` folder is copied.
    """
    course = root / "autograder" / "course"
    course.mkdir(parents=True)
    shutil.copyfile(
        REPO_ROOT / "autograder" / "course" / "nbgrader_config.py", course / "nbgrader_config.py"
    )
    if sources is None:
        shutil.copytree(REPO_ROOT / "assignment", root / "assignment")
    for name, nb in (sources or {}).items():
        folder = root / "assignment" / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
    return course


def release(course: Path, assignment: str = ASSIGNMENT) -> Path:
    """Run ``nbgrader generate_assignment``; return the released notebook's path."""
    nbgrader(course, "generate_assignment", assignment, "--force")
    return course / "release" / assignment / f"{assignment}.ipynb"


def submit(course: Path, student: str, content, assignment: str = ASSIGNMENT) -> Path:
    """Place a notebook (or raw bytes) at ``submitted/<student>/<assignment>/``."""
    path = course / "submitted" / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        nbformat.write(content, path)
    return path


def sample_notebooks(released: Path) -> dict[str, nbformat.NotebookNode]:
    """Return the sample submissions: the source notebook (as "reference_solution") and those
    of ``tests/submissions/make_submissions.py`` built from the ``released`` notebook."""
    samples = {"reference_solution": nbformat.read(SOURCE, as_version=4)}
    release_nb = nbformat.read(released, as_version=4)
    for name, answers in make_submissions.SUBMISSIONS.items():
        samples[name] = make_submissions.make_submission(release_nb, answers)
    return samples


def expected_scores() -> dict[str, dict[str, float]]:
    """Return each sample's expected score per test, "reference_solution" included."""
    expected = make_submissions.expected_scores()
    expected["reference_solution"] = expected["passes_all"]
    return expected


def sample_course(root: Path, *, copies: int, names: list[str] | None = None) -> Path:
    """Return a course with the assignment released and ``copies`` submissions cycling
    through the samples ``names`` (default: all), each student named after its sample."""
    course = new_course(root)
    samples = sample_notebooks(release(course))
    chosen = names or list(samples)
    for k in range(copies):
        name = chosen[k % len(chosen)]
        student = name if copies == len(chosen) else f"s{k:03d}_{name}"
        submit(course, student, samples[name])
    return course
