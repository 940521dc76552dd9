"""The README's instructor command blocks, run verbatim once on a fresh copy of the course.

Builds a temporary copy of the repository's course (``autograder/course/nbgrader_config.py``,
``assignment/`` with a canary planted in one hidden test, the sample submissions' script, and
the virtual environment), then runs every command block of the README's instructors' section
in order, from the repository root as the README says: the stock nbgrader workflow (release,
the sample submissions, autograde, feedback, export), the grading command, and the Dask
scale-out. The session fixture ``readme_graded_course`` (tests/conftest.py) runs it once for
every test that reads its result: the end-to-end test, the parity test (stock nbgrader against
the grading command) and anyone else who needs the sample submissions graded both ways.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from support import courses, readme
from support.courses import ASSIGNMENT, REPO_ROOT, SOURCE

#: The README section whose command blocks are run.
SECTION = "## For instructors: grading the assignment"
#: Planted in a hidden test of the course copy; it must reach no release and no feedback.
CANARY = "canary_7f3a9e_hidden_source"
#: The extra submission beside the README's samples: the source notebook itself.
SOURCE_STUDENT = "source_notebook"
#: Comments that mark a line as a service (started and left running, as on its own machine).
_SERVICE_MARKS = ("# on the scheduler machine", "# on each worker machine")


@dataclasses.dataclass(frozen=True)
class BlockRun:
    """One README block as run: its text, what it printed, and how long it took."""

    block: str
    done: subprocess.CompletedProcess
    seconds: float


@dataclasses.dataclass(frozen=True)
class GradedCourse:
    """The course after the README's blocks, and what they left on the way.

    ``stock_gradebook`` is a copy of ``gradebook.db`` taken right after the first block (the
    stock nbgrader workflow), before the grading command wrote its grades into the course.
    """

    root: Path
    dir: Path
    release: Path
    runs: tuple[BlockRun, ...]
    stock_gradebook: Path

    @property
    def autograde_log(self) -> str:
        """What the stock workflow (``nbgrader autograde`` among them) wrote to stderr."""
        return self.runs[0].done.stderr


def plant_canary(source: Path) -> None:
    """Write :data:`CANARY` into the hidden tests of one graded cell of ``source``."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "softmax_random_vectors":
            cell.source = cell.source.replace(
                "### BEGIN HIDDEN TESTS\n", f"### BEGIN HIDDEN TESTS\n# {CANARY}\n"
            )
            assert CANARY in cell.source
    nbformat.write(nb, source)


def as_script(block: str) -> str:
    """Return ``block`` as a bash script: stop at the first error, services in the background."""
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for line in block.splitlines():
        mark = next((m for m in _SERVICE_MARKS if m in line), None)
        if mark is not None:
            line = line[: line.index(mark)].rstrip() + " &"
        lines.append(line)
    return "\n".join(lines) + "\n"


def copy_of_the_course(root: Path) -> Path:
    """Lay out what the README's commands need, as in the repository, under ``root``."""
    course = courses.new_course(root)
    shutil.copytree(REPO_ROOT / "tests" / "submissions", root / "tests" / "submissions")
    (root / ".venv").symlink_to(Path(sys.prefix))
    plant_canary(root / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    source_copy = course / "submitted" / SOURCE_STUDENT / ASSIGNMENT
    source_copy.mkdir(parents=True)
    shutil.copy(SOURCE, source_copy)
    return course


def run_readme_blocks(root: Path) -> GradedCourse:
    """Run the README's instructor blocks in order on a copy of the course under ``root``.

    Raises AssertionError, with the block and its stderr, at the first block that fails.
    """
    course = copy_of_the_course(root)
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {**os.environ, "PATH": path}
    for name in ("NBGRADER_EXECUTION", "VIRTUAL_ENV"):
        env.pop(name, None)
    blocks = readme.blocks(SECTION)
    assert len(blocks) == 3, "the README's instructors' section should have three blocks"
    stock_gradebook = root / "stock-nbgrader" / "gradebook.db"
    runs = []
    for k, block in enumerate(blocks):
        start = time.perf_counter()
        done = subprocess.run(
            ["bash", "-c", as_script(block)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=2400,
        )
        runs.append(BlockRun(block, done, time.perf_counter() - start))
        assert done.returncode == 0, f"README block failed:\n{block}\n{done.stderr[-4000:]}"
        if k == 0:  # the stock workflow's grades, before the grading command replaces them
            stock_gradebook.parent.mkdir()
            shutil.copyfile(course / "gradebook.db", stock_gradebook)
    print("\n" + "\n".join(f"README block {k}: {r.seconds:.0f} s" for k, r in enumerate(runs)))
    return GradedCourse(
        root=root,
        dir=course,
        release=course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        runs=tuple(runs),
        stock_gradebook=stock_gradebook,
    )


def gradebook_scores(gradebook: Path, student: str) -> dict[str, float]:
    """Return ``student``'s score per graded test in the nbgrader gradebook ``gradebook``."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{gradebook}") as gb:
        notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name: float(grade.score) for grade in notebook.grades}
