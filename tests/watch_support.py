"""A course with an nbgrader exchange in a temporary folder, and students who submit to it.

The course is laid out as in the repository (``<root>/autograder/course`` with the source at
``<root>/assignment/<assignment>/``) with the repository's ``nbgrader_config.py`` plus one
line pointing ``c.Exchange.root`` at a temporary exchange, as a hub's course root does.
Students submit and fetch feedback with nbgrader's own exchange classes, each from their own
folder and nbgrader cache (all as one Unix user here).

The mini assignment costs a kernel start and NumPy per grading: one public test
(``softmax_original_cases``) and two hidden ones, one holding a canary string that feedback
must not show before the deadline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeFetchFeedback, ExchangeSubmit
from traitlets.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent
COURSE_ID = "nn-training-c2w2"
MINI = "Mini"
HIDDEN_CANARY = "CANARY-WATCH-HIDDEN-91d2"
#: The question of a hidden test: shown in full feedback only.
HIDDEN_QUESTION = "Does my_softmax stay finite on large inputs?"
PUBLIC_QUESTION = "Does my_softmax reproduce the lab's two examples?"

CORRECT = "def my_softmax(z):\n    ez = np.exp(z - np.max(z))\n    return ez / ez.sum()\n"
NAIVE = "def my_softmax(z):\n    ez = np.exp(z)\n    return ez / ez.sum()\n"
#: Points of the mini assignment: public 1, hidden 2 + 1; a naive softmax fails the 2.
FULL_SCORE, NAIVE_SCORE = 4.0, 2.0


def _meta(grade_id: str, *, points: float = 0, solution: bool = False) -> dict:
    meta = {
        "grade": not solution,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
    }
    if not solution:
        meta["points"] = points
    return {"nbgrader": meta}


def mini_source() -> nbformat.NotebookNode:
    """Return the mini assignment's source notebook (solution and hidden tests included)."""
    new = nbformat.v4
    nb = new.new_notebook(
        cells=[
            new.new_markdown_cell("# Mini\n\nWrite `my_softmax`."),
            new.new_code_cell("import numpy as np\n\nfrom autograder import kernel"),
            new.new_code_cell(
                "### BEGIN SOLUTION\n" + CORRECT + "### END SOLUTION\n",
                metadata=_meta("my_softmax", solution=True),
            ),
            new.new_code_cell(
                f'"""{PUBLIC_QUESTION}"""\nkernel.check_softmax_original_cases(my_softmax)',
                metadata=_meta("softmax_original_cases", points=1),
            ),
            new.new_code_cell(
                f'"""{HIDDEN_QUESTION}"""\n### BEGIN HIDDEN TESTS\n# {HIDDEN_CANARY}\n'
                "kernel.check_softmax_large_inputs(my_softmax)\n### END HIDDEN TESTS",
                metadata=_meta("softmax_large_inputs", points=2),
            ),
            new.new_code_cell(
                '"""Does my_softmax handle a vector with one entry?"""\n'
                "### BEGIN HIDDEN TESTS\nkernel.check_softmax_length_one(my_softmax)\n"
                "### END HIDDEN TESTS",
                metadata=_meta("softmax_length_one", points=1),
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``course``; raise with its log if it fails."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def make_course(
    root: Path,
    *,
    assignment: str = MINI,
    source: nbformat.NotebookNode | Path | None = None,
    extra_config: str = "",
) -> Path:
    """Create a course with an exchange under ``root``, release ``assignment``; return its root."""
    course = root / "autograder" / "course"
    course.mkdir(parents=True)
    folder = root / "assignment" / assignment
    folder.mkdir(parents=True)
    if isinstance(source, Path):
        shutil.copyfile(source, folder / f"{assignment}.ipynb")
    else:
        nbformat.write(source or mini_source(), folder / f"{assignment}.ipynb")
    exchange = root / "exchange"
    exchange.mkdir()
    config = (REPO_ROOT / "autograder" / "course" / "nbgrader_config.py").read_text()
    config += f"\nc.Exchange.root = {str(exchange)!r}\n{extra_config}\n"
    (course / "nbgrader_config.py").write_text(config)
    nbgrader(course, "generate_assignment", assignment, "--force")
    nbgrader(course, "release_assignment", assignment, "--force")
    return course


def exchange_of(course: Path) -> Path:
    """Return the exchange root of a course made by :func:`make_course`."""
    return course.parent.parent / "exchange"


def released(course: Path, assignment: str = MINI) -> nbformat.NotebookNode:
    """Return the released (student) version of ``assignment``."""
    return nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)


def answered(
    course: Path, softmax: str = CORRECT, *, before_tests: str = ""
) -> nbformat.NotebookNode:
    """Return the mini release with ``softmax`` as the answer (and a cell before the tests)."""
    nb = released(course)
    cells = []
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "my_softmax":
            cell.source = softmax
            cells.append(cell)
            if before_tests:
                cells.append(nbformat.v4.new_code_cell(before_tests))
            continue
        cells.append(cell)
    nb.cells = cells
    return nb


def _student_config(course: Path, student: str, assignment: str) -> tuple[Config, Path]:
    home = course.parent.parent / "students" / student
    home.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.CourseDirectory.root = str(home)
    config.CourseDirectory.course_id = COURSE_ID
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    config.Exchange.root = str(exchange_of(course))
    config.Exchange.cache = str(home / ".nbgrader_cache")
    config.Exchange.assignment_dir = str(home)
    return config, home


def submit(course: Path, student: str, nb: nbformat.NotebookNode, assignment: str = MINI) -> Path:
    """Submit ``nb`` as ``student`` with nbgrader's exchange; return the new inbound folder."""
    config, home = _student_config(course, student, assignment)
    folder = home / assignment
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")
    inbound = exchange_of(course) / COURSE_ID / "inbound"
    before = set(os.listdir(inbound))
    coursedir = CourseDirectory(config=config)
    ExchangeSubmit(
        coursedir=coursedir, authenticator=Authenticator(config=config), config=config
    ).start()
    (new,) = set(os.listdir(inbound)) - before
    return inbound / new


def fetch_feedback(course: Path, student: str, assignment: str = MINI) -> list[Path]:
    """Fetch ``student``'s feedback with nbgrader's exchange; return the HTML files, newest last."""
    config, home = _student_config(course, student, assignment)
    coursedir = CourseDirectory(config=config)
    ExchangeFetchFeedback(
        coursedir=coursedir, authenticator=Authenticator(config=config), config=config
    ).start()
    return sorted((home / assignment / "feedback").glob("*/*.html"))


def inbound_folder(course: Path, name: str) -> Path:
    """Create a hand-made inbound folder ``name`` (what a hostile student can do); return it."""
    folder = exchange_of(course) / COURSE_ID / "inbound" / name
    folder.mkdir()
    return folder


def copy_course(template: Path, root: Path) -> Path:
    """Copy a course made by :func:`make_course` (exchange included) to ``root``; return it."""
    shutil.copytree(template.parent.parent, root, symlinks=True, dirs_exist_ok=True)
    course = root / "autograder" / "course"
    config = course / "nbgrader_config.py"
    old = f"c.Exchange.root = {str(exchange_of(template))!r}"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, f"c.Exchange.root = {str(exchange_of(course))!r}"))
    return course


def set_due_date(course: Path, due: str, assignment: str = MINI) -> None:
    """Set the assignment's due date in the gradebook, as the README tells instructors to."""
    nbgrader(course, "db", "assignment", "add", assignment, f"--duedate={due}")
