"""Can a student on the class hub read the solutions? (a student's attack, without a browser)

The hub is prepared as ``python -m autograder.hub`` prepares it (accounts, state folder, the
students' environment, the locked repository), in a temporary state folder, without starting
JupyterHub. Then a student's Unix account, with the environment their JupyterLab and its
terminals get, tries to read what holds answers or hidden tests, and imports the course's
package from its own Python. Needs root, like the hub tests; the accounts stay.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hub_harness import ClassHub, can_run_hub
from packaging.requirements import Requirement

from autograder.hub.accounts import AccountError, lock_to_group
from autograder.hub.layout import REPO_ROOT, SOURCE_DIRECTORY
from autograder.hub.prepare import prepare_hub
from autograder.hub.roster import DEFAULT_CLASS_FILE
from autograder.hub.students_env import ensure_students_env

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.timeout(300)

SOURCE_NOTEBOOK = SOURCE_DIRECTORY / "C2_W2_Assignment" / "C2_W2_Assignment.ipynb"


@pytest.fixture(scope="module")
def hub():
    """A class hub prepared in a temporary state folder (not started): its members' view."""
    reason = can_run_hub()
    if reason:
        pytest.skip(reason)
    prepared = ClassHub("", state=Path(tempfile.mkdtemp(prefix="nn-class-hub-")))
    prepare_hub(class_file=DEFAULT_CLASS_FILE, state=prepared.state)
    yield prepared
    shutil.rmtree(prepared.state, ignore_errors=True)


def secrets_of(hub: ClassHub) -> list[Path]:
    """What no student may read: the solutions, the hidden tests, the sample answers, the
    history, the course's generated folders, the instructor's course root, another's home."""
    roster = hub.settings.roster
    return [
        SOURCE_DIRECTORY,
        SOURCE_NOTEBOOK,
        REPO_ROOT / "autograder" / "course",
        REPO_ROOT / "autograder" / "course" / "nbgrader_config.py",
        REPO_ROOT / "tests" / "submissions",
        REPO_ROOT / ".git",
        hub.layout.course_root,
        hub.layout.home(roster.students[1]),
    ]


def test_a_student_cannot_read_the_solutions_hidden_tests_or_others_folders(hub):
    student = hub.settings.roster.students[0]
    for path in secrets_of(hub):
        quoted = shlex.quote(str(path))
        tried = hub.run_as(
            student, f"if [ -d {quoted} ]; then ls -a {quoted}; else cat {quoted}; fi"
        )
        assert tried.returncode != 0, f"{student} could read {path}:\n{tried.stdout[:500]}"
        assert "Permission denied" in tried.stderr, tried.stderr


def test_a_student_imports_the_course_package_from_their_own_environment(hub):
    student = hub.settings.roster.students[0]
    shown = hub.run_as(
        student,
        "command -v python jupyterhub-singleuser jupyter nbgrader\n"
        "python -c 'import lab_utils; from autograder import kernel;"
        " print(lab_utils.__file__); print(kernel.__file__)'",
    )
    assert shown.returncode == 0, shown.stderr
    *commands, lab_utils_file, kernel_file = shown.stdout.split()
    assert len(commands) == 4, shown.stdout
    env = hub.layout.students_env
    for path in (*commands, lab_utils_file, kernel_file):
        assert Path(path).is_relative_to(env), f"{path} is not in the students' environment"
        assert not Path(path).is_relative_to(REPO_ROOT), f"{path} is in the repository"


def test_the_instructor_still_reads_the_source_notebook(hub):
    shown = hub.run_as(
        hub.settings.roster.instructor, f"head -c 1 {shlex.quote(str(SOURCE_NOTEBOOK))}"
    )
    assert shown.returncode == 0 and shown.stdout == "{", shown.stderr


def test_locking_a_folder_keeps_its_owner_and_shuts_out_everybody_else(tmp_path):
    folder = tmp_path / "assignment"
    folder.mkdir()
    folder.chmod(0o755)
    changed = lock_to_group(folder, os.getgid())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert changed is not None and changed.endswith("drwxr-x---"), changed
    assert folder.stat().st_uid == os.getuid()
    assert lock_to_group(folder, os.getgid()) is None, "nothing changes the second time"
    (tmp_path / "link").symlink_to(folder)
    with pytest.raises(AccountError, match="is a link"):
        lock_to_group(tmp_path / "link", os.getgid())


# Run by the students' Python: what it has installed itself, what the package requires of it
# (no extras: a kernel has no use for the grading, hub or test ones) and whether each of those
# is there at a version that satisfies it; then the digits, from the wheel's package data.
_WHAT_THE_ENVIRONMENT_HOLDS = """
import importlib.metadata as md, json, site, sys
from packaging.requirements import Requirement
own = sorted(d.metadata["Name"] for d in md.distributions(path=site.getsitepackages()))
base, unmet = [], []
for text in md.requires("nn-training-course"):
    req = Requirement(text)
    if req.marker is not None and "extra" in str(req.marker):
        continue
    base.append(req.name)
    if req.marker is None or req.marker.evaluate():  # this platform's TensorFlow wheel
        try:
            if not req.specifier.contains(md.version(req.name), prereleases=True):
                unmet.append(text)
        except md.PackageNotFoundError:
            unmet.append(text)
from lab_utils import data
X, y = data.load_digits()
print(json.dumps({"own": own, "base": base, "unmet": unmet, "digits": [X.shape, y.shape],
                  "data": data.__file__}))
"""


@pytest.mark.slow
def test_the_students_environment_installs_the_course_package_with_its_base_dependencies_only(
    tmp_path,
):
    """Does the students' environment install the course's wheel and nothing else, needing
    only the base dependencies (no grading, hub or test extra) for the kernel, all met?"""
    env = ensure_students_env(tmp_path / "students-env")
    shown = subprocess.run(
        [str(env.python), "-c", _WHAT_THE_ENVIRONMENT_HOLDS],
        env={**os.environ, "NN_COURSE_CACHE": str(tmp_path / "cache")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    held = json.loads(shown.stdout.splitlines()[-1])
    assert held["own"] == ["nn-training-course"], "the environment installs the wheel alone"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [Requirement(t).name for t in project["dependencies"]]
    assert sorted(held["base"]) == sorted(declared), "the kernel needs the base set, no extra"
    assert held["unmet"] == [], "each base dependency reaches the students' kernel"
    assert held["digits"] == [[5000, 400], [5000, 1]], "the wheel ships the MNIST sample"
    assert Path(held["data"]).is_relative_to(env.prefix)
