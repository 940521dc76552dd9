"""Shared fixtures (executed notebooks, graded courses), a headless matplotlib, and how the
suite is split between pytest-xdist workers."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import matplotlib
import pytest

#: The watcher tests' fixtures (``template``, ``course``, ``watch_scheduler``, ``run_watch``), defined once.
pytest_plugins = ("watch_support",)

# Unit tests draw off-screen; notebooks choose their own backend in their kernel.
matplotlib.use("Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# absl's log handler (TensorFlow's) writes to the sys.stderr of the moment absl is imported,
# which under pytest is pytest's capture; an nbgrader app configuring logging later closes
# every handler, and absl's closes its stream, pytest's capture with it. Point it at the real
# stderr, which absl never closes (pytest still captures what reaches file descriptor 2).
with contextlib.suppress(ImportError):
    from absl import logging as absl_logging

    absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__

REPO_ROOT = Path(__file__).resolve().parent.parent
LABS = sorted((REPO_ROOT / "labs").glob("*.ipynb"))

#: Test files that share something expensive or exclusive run in one pytest-xdist worker (one
#: group, see ``pytest_xdist_make_scheduler``), so that a session fixture is built once and two
#: hubs of the same class never run at once; every other file is a group of its own, so that
#: its module fixtures are built once.
SHARED_GROUPS = {
    "readme-course": ("test_autograder_end_to_end.py", "test_grade_nbgrader_parity.py"),
    "class-hub": ("browser/test_class_hub.py", "test_hub_services.py", "test_hub_students_env.py"),
    "feedback-course": ("test_feedback_course.py", "browser/test_feedback_browser.py"),
    "jupyterlab": ("browser/test_notebooks_in_jupyterlab.py", "browser/test_harness.py"),
    "executed-notebooks": (
        "test_notebooks.py",
        "test_assignment.py",
        *(
            p.relative_to(Path(__file__).parent).as_posix()
            for p in Path(__file__).parent.glob("test_lab_*.py")
        ),
    ),
}
#: The longest groups go first, longest first, so that no worker is left alone with one of them
#: at the end (the rest follow in collection order: alphabetical, so the watcher's files,
#: several minutes together, would otherwise start last). Times: pytest's --durations.
LONGEST_FIRST = (
    "readme-course",
    "class-hub",
    "jupyterlab",
    "executed-notebooks",
    "test_watch.py",
    "test_watch_readme.py",
    "feedback-course",
    "test_grade_adversarial.py",
    "test_grade_distributed.py",
    "test_grade_model_forgery.py",
    "test_watch_counts.py",
    "test_watch_attacks.py",
    "test_kernel_pool.py",
    "test_grade_cli.py",
    "test_grade_sandbox.py",
)
_GROUP_OF = {name: group for group, names in SHARED_GROUPS.items() for name in names}


def _group(path: str) -> str:
    """Return the group of the test file ``path`` (relative to tests/): shared, or its own."""
    return _GROUP_OF.get(path, path)


def _file(item) -> str:
    """Return the test file of ``item``, relative to tests/."""
    return Path(item.fspath).relative_to(Path(__file__).parent).as_posix()


def pytest_collection_modifyitems(config, items):
    """Run the longest groups first; the order within each group stays."""
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(_file(item)), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Send each group of test files to one worker, groups in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid.split("::", 1)[0].removeprefix("tests/"))

    return GroupScheduling(config, log)


@pytest.fixture(scope="session")
def executed_notebook():
    """Return a function that executes a notebook once per session and caches the result."""
    from autograder.runner import execute_notebook

    cache: dict[Path, object] = {}

    def run(path: str | Path):
        path = (REPO_ROOT / path).resolve()
        if path not in cache:
            cache[path] = execute_notebook(path)
        return cache[path]

    return run


@pytest.fixture(scope="session")
def readme_graded_course(tmp_path_factory):
    """Run the README's instructor blocks once per session on a fresh copy of the course.

    The 14 sample submissions and the source notebook are graded by stock nbgrader and by the
    grading command (tests/support/instructor_course.py); the end-to-end and the parity tests
    read the one result. Read it, never change it: copy what a test must modify.
    """
    from support.instructor_course import run_readme_blocks

    return run_readme_blocks(tmp_path_factory.mktemp("readme-course"))


@pytest.fixture(scope="session")
def graded_feedback_course(tmp_path_factory):
    """Return a function that builds the feedback course graded by ``grader`` (one of
    ``support.feedback_course.GRADERS``), with its feedback pages, once per session.

    The feedback tests and the browser's feedback tests read the same pages; never change them.
    """
    from support.feedback_course import build_graded_course

    built: dict[str, Path] = {}

    def get(grader: str) -> Path:
        if grader not in built:
            built[grader] = build_graded_course(tmp_path_factory.mktemp(grader), grader)
        return built[grader]

    return get


@pytest.fixture(autouse=True)
def _close_figures():
    """Close figures a test opened so memory stays flat across the suite."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def notebook_text(nb) -> str:
    """Return every stdout, text/plain, HTML and Markdown output of an executed notebook, joined.

    A cell's stdout is joined without separators, so that a library warning on stderr
    arriving between two prints cannot split what the cell printed.
    """
    parts = []
    for cell in nb.cells:
        stdout = "".join(
            out.get("text", "")
            for out in cell.get("outputs", [])
            if out.get("output_type") == "stream" and out.get("name") == "stdout"
        )
        if stdout:
            parts.append(stdout)
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in data:
                    parts.append(data[mime])
    return "\n".join(parts)


def count_png_outputs(nb) -> int:
    """Return how many outputs of an executed notebook carry a PNG image."""
    return sum(
        "image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", [])
    )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """Run one worker more than cores, at most 3, unless PYTEST_XDIST_AUTO_NUM_WORKERS says.

    Part of the suite waits (hubs starting, browsers, the idle culler), so a third worker on
    two cores fills that time; more would only queue behind the four long groups.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist reads it
    return min(3, (os.cpu_count() or 1) + 1)
