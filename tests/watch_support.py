"""A course with an nbgrader exchange in a temporary folder, and students who submit to it.

The course is laid out as in the repository (``<root>/autograder/course`` with the source at
``<root>/assignment/<assignment>/``) with the repository's ``nbgrader_config.py`` plus one
line pointing ``c.Exchange.root`` at a temporary exchange, as a hub's course root does.
Students submit and fetch feedback with nbgrader's own exchange classes, each from their own
folder and nbgrader cache (all as one Unix user here, so the course sets
``c.Watch.check_owner = False``).

The assignment is the adversarial tests' mini assignment (``tests/adversarial/course.py``): a
kernel start and NumPy per grading, one public test (``softmax_original_cases``) and two
hidden ones, one holding a canary string that feedback must not show before the deadline.

Watchers run in the test process (``run_watch``) grade on one Dask cluster per test module
(``watch_scheduler``), the way a hub's watcher uses a running scheduler; the tests that start
``nn-autograde watch`` as a command start their own, as an instructor's watcher does.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dask
import nbformat
import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeFetchFeedback, ExchangeSubmit
from traitlets.config import Config

from autograder.grading import cluster, watch

from adversarial import course as mini
from support import courses

REPO_ROOT = courses.REPO_ROOT
COURSE_ID = "nn-training-c2w2"
MINI = mini.ASSIGNMENT
HIDDEN_CANARY = mini.HIDDEN_CANARY
#: The question of a hidden test: shown in full feedback only.
HIDDEN_QUESTION = "Does my_softmax stay finite on large inputs?"
PUBLIC_QUESTION = "Does my_softmax reproduce the lab's two examples?"

CORRECT = mini.CORRECT_SOFTMAX
NAIVE = mini.NAIVE_SOFTMAX
#: Points of the mini assignment: public 1, hidden 2 + 1; a naive softmax fails the 2.
FULL_SCORE, NAIVE_SCORE = mini.FULL_SCORE, mini.NAIVE_SCORE

nbgrader = courses.nbgrader


def make_course(
    root: Path,
    *,
    assignment: str = MINI,
    source: nbformat.NotebookNode | Path | None = None,
    extra_config: str = "",
) -> Path:
    """Create a course with an exchange under ``root``, release ``assignment``; return its root."""
    if isinstance(source, Path):
        source = nbformat.read(source, as_version=4)
    course = courses.new_course(root, {assignment: source or mini.source_notebook()})
    exchange = root / "exchange"
    exchange.mkdir()
    with (course / "nbgrader_config.py").open("a") as config:
        config.write(
            f"\nc.Exchange.root = {str(exchange)!r}\n"
            "# The test exchange is one Unix user's: every student submits as that user.\n"
            f"c.Watch.check_owner = False\n{extra_config}\n"
        )
    courses.release(course, assignment)
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


def add_config(course: Path, lines: str) -> None:
    """Append ``lines`` to the course's ``nbgrader_config.py`` (as an instructor edits it)."""
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + f"\n{lines}\n")


def due_now(course: Path, assignment: str = MINI) -> str:
    """Set the due date to the current second (what came before is on time); return it."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    due = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    set_due_date(course, due, assignment)
    time.sleep(1.1)  # what is submitted next is late by a second at least
    return due


def default_sigint() -> None:
    """Give the child process the default SIGINT (Ctrl-C) handling, whatever its parent's."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Return a released mini course with an exchange (copied for each test)."""
    return make_course(tmp_path_factory.mktemp("template"))


@pytest.fixture
def course(template, tmp_path):
    """Return a fresh copy of the mini course."""
    return copy_course(template, tmp_path / "class")


@pytest.fixture(scope="module")
def watch_scheduler(tmp_path_factory) -> Iterator[str]:
    """Start one Dask cluster behind TLS for a module's in-process watchers; yield its address.

    It is what ``c.Watch.scheduler`` names on a hub: a running cluster, with the credentials
    ``nn-autograde cluster-tls`` writes in Dask's configuration. A watcher run with
    ``once=True`` would otherwise start and stop a local cluster of its own every time (about
    2 s and 4 s of CPU on two cores).
    """
    from distributed import LocalCluster
    from distributed.security import Security

    tls = cluster.write_tls_config(tmp_path_factory.mktemp("dask-tls"))
    dask.config.refresh(paths=[*dask.config.paths, str(tls.parent)])
    try:
        with (
            dask.config.set({"distributed.scheduler.allowed-failures": cluster.ALLOWED_FAILURES}),
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                protocol="tls://",
                security=Security(),
                local_directory=str(tls.parent / "scratch"),
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as shared,
        ):
            yield shared.scheduler_address
    finally:
        dask.config.refresh()


@pytest.fixture
def run_watch(watch_scheduler) -> Callable[..., list[watch.Entry]]:
    """Return a function that runs the watcher once over a course, on the module's cluster."""

    def run(course: Path, config: Config | None = None, **kwargs) -> list[watch.Entry]:
        merged = Config()
        merged.Watch.scheduler = watch_scheduler
        if config is not None:
            merged.merge(config)
        return watch.watch(assignment=MINI, course_root=course, once=True, config=merged, **kwargs)

    return run
