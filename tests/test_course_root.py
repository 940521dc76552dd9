"""Is the nbgrader course root course data only, so nothing run from it imports a course file
in place of an installed package?"""

from __future__ import annotations

import subprocess
import sys

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
