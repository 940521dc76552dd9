"""Fixtures for the browser tests: a private JupyterLab server and a headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from .jupyterlab import (
    CHROMIUM,
    JupyterLabServer,
    LabNotebook,
    copy_notebooks,
    launch_chromium,
    release_with_solutions,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SKIP_REASON = (
    f"{CHROMIUM} is missing: run .ci/install-system-packages.sh to install Debian's Chromium"
)

_timings: dict[str, float] = {}


def course_notebooks() -> list[str]:
    """Return every lab and assignment notebook, relative to the repo (and the lab root)."""
    paths = sorted((REPO_ROOT / "labs").glob("*.ipynb"))
    paths += sorted((REPO_ROOT / "assignment").glob("*/*.ipynb"))
    return [p.relative_to(REPO_ROOT).as_posix() for p in paths]


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """Return a scratch copy of the course notebooks; the assignment as released, solved."""
    root = tmp_path_factory.mktemp("lab-root")
    copy_notebooks(REPO_ROOT, root)
    for source in sorted((root / "assignment").glob("*/*.ipynb")):
        release_with_solutions(source)
    return root


@pytest.fixture(scope="session")
def jupyter_lab(lab_root, tmp_path_factory):
    """Run JupyterLab on 127.0.0.1 (random port and token) serving ``lab_root``."""
    server = JupyterLabServer(lab_root, tmp_path_factory.mktemp("jupyter-state")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """Start Debian's Chromium, headless, with a fresh profile; yield its browser context."""
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(30_000)
        yield context
        context.close()


@pytest.fixture
def open_notebook(jupyter_lab, chromium):
    """Return a function that opens a notebook (path under the lab root) in a new tab."""
    opened: list[LabNotebook] = []

    def open_(name: str) -> LabNotebook:
        notebook = LabNotebook(chromium.new_page(), jupyter_lab, name).open()
        opened.append(notebook)
        return notebook

    yield open_
    for notebook in opened:
        notebook.close()


def record_timing(name: str, seconds: float) -> None:
    _timings[name] = seconds


def pytest_terminal_summary(terminalreporter):
    if not _timings:
        return
    terminalreporter.section("notebooks run in JupyterLab (Run All Cells, seconds)")
    for name, seconds in _timings.items():
        terminalreporter.write_line(f"{seconds:7.1f}  {name}")
    terminalreporter.write_line(
        f"{sum(_timings.values()):7.1f}  total; screenshots in {SCREENSHOTS}"
    )
