"""Run the class hub for a test: start it with the command docs/class-hub.md gives, act as its members, stop it.

The page docs/class-hub.md ("A class on JupyterHub") is the script: its first block starts the hub
(the test appends only ``--state`` and ``--port``), the others are the instructor's commands,
run verbatim as the instructor's Unix account from the course root, where a terminal of the
instructor's JupyterLab starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from watch_support import default_sigint

from autograder.hub.config import HubSettings, root_dir, user_environment
from autograder.hub.layout import HubLayout
from autograder.hub.prepare import free_port

from support import readme

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGE = REPO_ROOT / "docs" / "class-hub.md"
SECTION = "# A class on JupyterHub"


def readme_hub_blocks() -> list[str]:
    """Return the shell blocks of docs/class-hub.md, in order."""
    return readme.blocks(SECTION, fence="sh", path=PAGE)


def can_run_hub() -> str | None:
    """Say why the hub cannot run here (not root, no proxy), or None."""
    from autograder.hub.layout import PROXY_COMMAND

    if os.geteuid() != 0:
        return "the class hub creates Unix accounts and runs servers as them: needs root"
    if not PROXY_COMMAND.exists():
        return f"{PROXY_COMMAND} is missing: run bash .ci/setup (npm ci --prefix .venv/node)"
    if shutil.which("useradd") is None:
        return "useradd is missing"
    return None


@dataclass
class ClassHub:
    """A class hub started by its documented command in a temporary state folder."""

    start_command: str
    state: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nn-class-hub-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def layout(self) -> HubLayout:
        return HubLayout(self.state)

    @property
    def log_path(self) -> Path:
        # Beside the state folder, so it survives the state's removal for a failing test's report.
        return self.state.with_name(self.state.name + ".log")

    def start(self, timeout_s: float = 120) -> ClassHub:
        """Start the hub with its documented command line and wait until its API answers."""
        command = f"{self.start_command} --state {shlex.quote(str(self.state))} --port {self.port}"
        # Appended: a hub started again (a restart mid-term) keeps the first run's lines.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # A pytest-xdist worker ignores SIGINT, and children inherit that: the hub and
                # its services would ignore the SIGINT JupyterHub stops them with.
                preexec_fn=default_sigint,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited early:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.url}/hub/api/", timeout=5),
            ):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"the hub did not answer within {timeout_s:.0f} s:\n{self.log_tail()}")

    @property
    def settings(self) -> HubSettings:
        return HubSettings.read(self.layout.settings)

    def password(self, user: str) -> str:
        return json.loads(self.layout.passwords.read_text(encoding="utf-8"))[user]

    def environment(self, user: str) -> dict[str, str]:
        """Return the environment of ``user``'s JupyterLab and its terminals."""
        return {**user_environment(self.settings, user), "LANG": "C.UTF-8"}

    def _as_user(self, user: str) -> dict:
        entry = pwd.getpwnam(user)
        return {
            "cwd": root_dir(self.settings, user),
            "env": self.environment(user),
            "user": entry.pw_uid,
            "group": entry.pw_gid,
            "extra_groups": [],
        }

    def run_as(self, user: str, script: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
        """Run a shell script as ``user``, from their JupyterLab root, as their terminal would."""
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            **self._as_user(user),
        )

    def start_as(self, user: str, script: str, log: Path) -> subprocess.Popen:
        """Start a long-running shell script as ``user`` (own process group), output to ``log``."""
        with log.open("wb") as out:
            return subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", script],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._as_user(user),
            )

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def class_processes(self) -> list[psutil.Process]:
        """Return the processes this hub started as the class's accounts (servers, kernels,
        terminals, the services): theirs, with a ``HOME``, a working folder or an argument in
        this hub's state folder, so that another hub of the same class keeps its own. (The
        hub gives a service the account's own ``HOME``; the services run in the course root.)"""
        uids = {pwd.getpwnam(user).pw_uid for user in self.settings.roster.users}
        state = str(self.state) + os.sep
        found = []
        for process in psutil.process_iter(["uids"]):
            with contextlib.suppress(psutil.Error):
                owner = process.info["uids"]
                if owner and owner.real in uids and _in_state(process, state):
                    found.append(process)
        return found

    def watchers(self, assignment: str) -> list[psutil.Process]:
        """Return the running watchers of ``assignment`` (the hub's watcher service once it
        has become ``nn-autograde watch``: until then its command line holds the watcher's)."""
        uid = pwd.getpwnam(self.settings.instructor).pw_uid
        found = []
        for process in psutil.process_iter(["uids", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                command = process.info["cmdline"] or []
                owner = process.info["uids"]
                if (
                    owner
                    and owner.real == uid
                    and "watch" in command
                    and assignment in command
                    and any(part.endswith("nn-autograde") for part in command)
                    and "autograder.hub.watch_service" not in command
                ):
                    found.append(process)
        return found

    def wait_for_watcher(self, assignment: str, *, other_than: int = 0, timeout_s: float = 120):
        """Wait until one watcher of ``assignment`` runs (a pid other than ``other_than``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            running = [p for p in self.watchers(assignment) if p.pid != other_than]
            if len(running) == 1:
                return running[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no watcher of {assignment} within {timeout_s:.0f} s: {running}"
                )
            time.sleep(1)

    def stop(self, timeout_s: float = 180, grace_s: float = 30) -> list[str]:
        """Stop the hub (it stops its services, the proxy and every single-user server); return
        the class processes (pid and command line) still there ``grace_s`` after it exited,
        which had to be killed. JupyterHub stops each service and server with SIGINT, then
        SIGTERM, then SIGKILL, up to 20 s each, so on a loaded machine the hub itself may take
        a minute or more to exit; a kernel may still be on its way out when it has."""
        if self.process is not None and self.process.poll() is None:
            # The hub's process: the documented command execs into JupyterHub.
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        leftovers, described = [], []
        if self.layout.settings.exists():
            _, leftovers = psutil.wait_procs(self.class_processes(), timeout=grace_s)
            for process in leftovers:
                with contextlib.suppress(psutil.Error):
                    described.append(f"{process.pid} {' '.join(process.cmdline())[:200]}")
                    process.kill()
            psutil.wait_procs(leftovers, timeout=10)
        return described

    def remove_state(self) -> None:
        shutil.rmtree(self.state, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)


def _in_state(process: psutil.Process, state: str) -> bool:
    """Whether ``process`` has its ``HOME``, working folder or an argument under ``state``."""
    places = [process.environ().get("HOME", ""), process.cwd(), *process.cmdline()]
    return any(state in place + os.sep for place in places)
