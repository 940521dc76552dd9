"""Is the nbgrader course root course data only, so nothing run from it imports a course file
in place of an installed package?"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

COURSE_ROOT = REPO_ROOT / "autograder" / "course"


def test_the_course_root_holds_no_python_module_but_its_configuration():
    tracked = subprocess.run(
        ["git", "ls-files", "autograder/course"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked == ["autograder/course/nbgrader_config.py"]
    modules = [p for p in COURSE_ROOT.rglob("*.py") if p.name != "nbgrader_config.py"]
    packages = [p for p in COURSE_ROOT.rglob("__init__.py")]
    assert not modules and not packages


def test_the_grading_command_ignores_modules_in_the_folder_it_runs_from(tmp_path):
    """Would a `distributed.py` or `psutil.py` beside the instructor shadow the real ones?"""
    for name in ("distributed", "psutil", "nbgrader", "dask"):
        (tmp_path / f"{name}.py").write_text('raise SystemExit("SHADOWED: course file imported")')
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "C2_W2_Assignment"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "SHADOWED" not in done.stdout + done.stderr
    # The folder is not a course root: a clear error, not a traceback.
    assert done.returncode == 2 and "not an nbgrader course root" in done.stderr, done.stderr


def _installed_top_level_names() -> set[str]:
    """Return the names Python can import from the environment and the standard library."""
    ours = {str(REPO_ROOT / name) for name in ("autograder", "lab_utils")}
    found = {
        module.name
        for module in pkgutil.iter_modules()
        if getattr(module.module_finder, "path", None) not in ours
    }
    return found | set(sys.stdlib_module_names)


@pytest.mark.parametrize("folder", ["autograder", "lab_utils"])
def test_no_module_of_ours_shares_a_name_with_an_installed_package(folder):
    """Would running Python from inside one of our packages import our file in place of one?"""
    ours = {
        path.stem if path.is_file() else path.name
        for path in (REPO_ROOT / folder).iterdir()
        if path.suffix == ".py" or (path / "__init__.py").is_file()
    }
    assert "distributed" in _installed_top_level_names()  # the check can see Dask's package
    clashes = sorted(ours & _installed_top_level_names())
    assert not clashes, f"{folder}/ holds modules named like installed packages: {clashes}"
