"""Where the class hub keeps everything: one state folder, and what it uses from the repository.

Nothing the hub writes lives outside the state folder (a test starts a hub in a temporary one),
except the Unix accounts themselves and what their programs put in their home folders.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The repository's nbgrader course root; its configuration is the course's.
COURSE_CONFIG = REPO_ROOT / "autograder" / "course" / "nbgrader_config.py"
#: nbgrader's source folder: assignment/<assignment>/<notebook>.ipynb.
SOURCE_DIRECTORY = REPO_ROOT / "assignment"
#: What in the repository holds answers or hidden tests: the source notebook with its
#: solutions, the tests with the sample answers, the history, the course's generated folders
#: and the reference values. Each start locks them to the instructor's group.
SECRETS = tuple(
    REPO_ROOT / name
    for name in ("assignment", "tests", ".git", "autograder/course", "autograder/reference")
)
#: Default state folder, git-ignored.
DEFAULT_STATE = REPO_ROOT / "hub-state"
#: The proxy, installed from the npm registry by .ci/setup (npm ci --prefix .venv/node).
PROXY_COMMAND = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


@dataclass(frozen=True)
class HubLayout:
    """The paths of one hub's state folder."""

    state: Path

    @property
    def exchange(self) -> Path:
        """nbgrader's exchange root: 1777, like /tmp, as nbgrader's documentation asks."""
        return self.state / "exchange"

    @property
    def course_root(self) -> Path:
        """The instructor's nbgrader course root (gradebook, release/, submitted/, ...)."""
        return self.state / "course"

    @property
    def students_env(self) -> Path:
        """The students' virtual environment: the course's package from a wheel."""
        return self.state / "students-env"

    @property
    def homes(self) -> Path:
        return self.state / "home"

    def home(self, name: str) -> Path:
        """A member's ``HOME``; a student's JupyterLab root (fetched assignments, feedback)."""
        return self.homes / name

    def jupyter_config(self, role: str) -> Path:
        """The Jupyter configuration folder of a role (``instructor`` or ``student``)."""
        return self.state / "jupyter" / role

    @property
    def passwords(self) -> Path:
        """The class's passwords, readable by root only."""
        return self.state / "passwords.json"

    @property
    def settings(self) -> Path:
        """The settings this start was given, read by the generated JupyterHub config."""
        return self.state / "hub-settings.json"

    @property
    def hub_config(self) -> Path:
        return self.state / "jupyterhub_config.py"

    @property
    def runtime(self) -> Path:
        """JupyterHub's own files: database, cookie secret, proxy pid."""
        return self.state / "hub"
