"""Shared fixtures: executed notebooks (cached per session) and a headless matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

# Unit tests draw off-screen; notebooks choose their own backend in their kernel.
matplotlib.use("Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
LABS = sorted((REPO_ROOT / "labs").glob("*.ipynb"))


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
