"""Can a student on the class hub read the solutions? (a student's attack, without a browser)

The hub is prepared as ``python -m autograder.hub`` prepares it (accounts, state folder, the
students' environment, the locked repository), in a temporary state folder, without starting
JupyterHub. Then a student's Unix account, with the environment their JupyterLab and its
terminals get, tries to read what holds answers or hidden tests, and imports the course's
package from its own Python. Needs root, like the hub tests; the accounts stay.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from hub_harness import ClassHub, can_run_hub

from autograder.hub.accounts import AccountError, lock_to_group
from autograder.hub.layout import REPO_ROOT, SOURCE_DIRECTORY
from autograder.hub.prepare import prepare_hub
from autograder.hub.roster import DEFAULT_CLASS_FILE

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
