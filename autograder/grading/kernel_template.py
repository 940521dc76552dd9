"""Kernels forked from a template that imported TensorFlow once, each in a fresh sandbox.

Starting a kernel and importing TensorFlow costs about 3 s of CPU per submission. A worker's
template pays it once: a Python process in a bubblewrap sandbox of its own that imports
ipykernel and the assignment's modules (:func:`~autograder.grading.kernel_pool.preload_modules`)
and then forks one kernel per submission (:mod:`autograder.grading.template_main`). Each child
confines itself as :func:`~autograder.grading.sandbox.bwrap_prefix` confines a started kernel
before any student code runs: own mount, PID, IPC, network, UTS and cgroup namespaces, a fresh
sized ``/tmp`` and ``/dev/shm``, only its own workspace, resource limits, no capability and
``no_new_privs``. The template keeps ``CAP_SYS_ADMIN`` only in its own user namespace, which
it needs to make those mounts; it never runs student code, and a child cannot see it (another
PID namespace) nor keep any of its open files.

The grader sees a forked kernel's sandbox (the init of its PID namespace, whose only child is
the kernel) as a :class:`ForkedProcess`, a process it did not start, held by a pidfd: the kernel manager signals and waits through it, and
:class:`~autograder.grading.process_watch.ProcessWatch` counts the kernel's processes from its
host process id as for a started kernel. Workspaces of forked kernels live in the template's
spool folder, the one host folder it sees besides the read-only system and Python.

A worker keeps one template per :class:`~autograder.grading.kernel_pool.PoolKey` (limits,
imports); when it cannot start (no user namespaces here, say), the pool starts kernels in
bubblewrap as before.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from autograder.grading import sandbox, template_main, workspace
from autograder.grading.limits import Limits
from autograder.grading.workspace import Workspace
from autograder.kernel.protocol import MODEL_FILE

if TYPE_CHECKING:
    from autograder.grading.kernel_pool import PoolKey

#: Modules a template never imports: the in-kernel ``autograder`` package is each kernel's own
#: copy (its workspace's ``pkg``), found on the path the child sets.
_NOT_PRELOADED = ("autograder",)

#: Seconds the template may take to answer a fork request.
FORK_TIMEOUT = 30.0


class TemplateUnavailable(RuntimeError):
    """Raise when the template cannot start or cannot fork a kernel."""


def _nspid(pid: int) -> list[int]:
    """Return the ``NSpid`` line of process ``pid``: its id in each PID namespace, outer first."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("NSpid:"):
                return [int(part) for part in line.split()[1:]]
    return []


def _forked_as(pid: int, inner: int, depth: int) -> bool:
    """Return True when process ``pid`` is ``inner`` then 1 in the last of its ``depth`` namespaces.

    ``depth`` counts the PID namespaces from the grader's down: a process a kernel starts in a
    namespace of its own lies deeper, whatever its last two ids.
    """
    try:
        found = _nspid(pid)
    except (OSError, ValueError):
        return False
    return len(found) == depth and found[-2:] == [inner, 1]


class ForkedProcess:
    """A kernel the template forked, held by a pidfd: what ``subprocess.Popen`` offers a provisioner.

    The grader is not its parent, so its exit status is unknown: :attr:`returncode` is -9 once
    it has ended (it is always killed, or dies of something).
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd: int | None = os.pidfd_open(pid)

    def poll(self) -> int | None:
        """Return None while the kernel runs, then :attr:`returncode`."""
        if self.returncode is None and self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], 0)
            if ready:
                self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the kernel has ended; raise ``subprocess.TimeoutExpired`` after ``timeout``."""
        if self.returncode is None and self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            self._ended()
        return self.returncode if self.returncode is not None else -signal.SIGKILL

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the kernel (through its pidfd: never to a reused process id)."""
        if self.poll() is None and self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:  # ended since the poll, as Popen.send_signal allows
                self._ended()

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def forget(self) -> None:
        """Stop holding the process (its pidfd closed) without signalling it."""
        self._ended()

    def _ended(self) -> None:
        self.returncode = -signal.SIGKILL
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def __del__(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)


def _python_folders_under_tmp() -> list[str]:
    """Return the read-only folders the kernel's Python needs that lie under ``/tmp``."""
    return [str(f) for f in sandbox.ro_binds_for_python() if Path("/tmp") in f.parents]


#: The workspace the template's environment names (its own ``/tmp`` holds the working folder).
TEMPLATE_SPACE = Workspace(Path("/tmp/template"))


def template_environment(limits: Limits) -> dict[str, str]:
    """Return the template's environment: a kernel's, for a workspace of its own.

    Without ``PYTHONPATH``: the in-kernel modules are each kernel's own copy, which the
    child puts on its path.
    """
    env = sandbox.kernel_environment(TEMPLATE_SPACE, limits, sandboxed=True)
    del env["PYTHONPATH"]
    return env


def template_command(spool: Path, limits: Limits, preload: tuple[str, ...]) -> list[str]:
    """Return the bubblewrap command of a template whose kernels live in ``spool``."""
    bwrap = sandbox.bwrap_path()
    if bwrap is None:
        raise sandbox.SandboxUnavailable(sandbox.BWRAP_MISSING)
    cmd = [bwrap, *sandbox.system_binds(), *sandbox.etc_binds()]
    # /dev read-only: a mount the template made is one filesystem shared by all its children.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    cmd += ["--tmpfs", "/tmp", "--dir", str(TEMPLATE_SPACE.work)]
    for folder in sandbox.ro_binds_for_python():
        cmd += ["--ro-bind", str(folder), str(folder)]
    cmd += [
        "--bind", str(spool), str(spool),
        "--dir", template_main.STAGE,
        "--remount-ro", "/", "--chdir", "/",
        "--unshare-user", "--cap-add", "CAP_SYS_ADMIN",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--hostname", "grading",
        "--new-session", "--die-with-parent", "--clearenv",
    ]  # fmt: skip
    for name, value in template_environment(limits).items():
        cmd += ["--setenv", name, value]
    names = [n for n in preload if n.split(".")[0] not in _NOT_PRELOADED]
    source = Path(template_main.__file__).read_text()
    return [*cmd, "--", sandbox.python_executable(), "-c", source, json.dumps(names)]


class Template:
    """One running template and its spool folder; :meth:`fork` starts a kernel from it."""

    def __init__(self, key: PoolKey) -> None:
        self.key = key
        self.spool = Path(
            tempfile.mkdtemp(prefix="nngs-", dir="/tmp" if os.path.isdir("/tmp") else None)
        )
        self._lock = threading.Lock()
        self._buffer = b""
        try:
            with open(self.spool / "template.log", "ab") as log:
                self._process = subprocess.Popen(
                    template_command(self.spool, key.limits, key.preload),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env={},
                )
            self._read_answer(key.limits.startup_timeout + 60)
        except BaseException:
            self.close()
            raise

    def alive(self) -> bool:
        """Return True while the template runs."""
        return hasattr(self, "_process") and self._process.poll() is None

    def _read_answer(self, timeout: float) -> dict[str, Any]:
        """Return the template's next answer (a line marked :data:`template_main.MARK`)."""
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            line, newline, rest = self._buffer.partition(b"\n")
            if newline:
                self._buffer = rest
                text = line.decode(errors="replace")
                if text.startswith(template_main.MARK):
                    answer: dict[str, Any] = json.loads(text.removeprefix(template_main.MARK))
                    return answer
                continue
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                why = "did not answer in time" if not ready else "ended"
                raise TemplateUnavailable(
                    f"the kernel template {why}: see {self.spool}/template.log"
                )
            self._buffer += chunk

    def workspace(self) -> Workspace:
        """Return a new workspace in the spool, with the course data staged."""
        space = workspace.make_workspace(parent=self.spool)
        try:
            workspace.stage_digits(space)
        except BaseException:
            space.cleanup()
            raise
        return space

    def fork(self, space: Workspace, env: dict[str, str]) -> ForkedProcess:
        """Fork a kernel confined to ``space`` with environment ``env``; return its process."""
        limits = self.key.limits
        request = {
            "keep": _python_folders_under_tmp(),
            "work": str(space.work),
            "pkg": str(space.pkg),
            "run": str(space.run),
            "model_file": str(space.model_file),
            "model_in_work": str(space.work / MODEL_FILE),
            "log": str(space.root / "kernel.log"),
            "connection_file": str(space.run / "kernel.json"),
            "env": env,
            "memory": int(limits.memory),
            "file_size": int(min(limits.file_size, limits.disk)),
            "open_files": int(limits.open_files),
            "disk": int(limits.disk),
            "shm": sandbox.shm_bytes(limits),
        }
        with self._lock:
            if not self.alive():
                raise TemplateUnavailable("the kernel template has ended")
            assert self._process.stdin is not None
            self._process.stdin.write((json.dumps(request) + "\n").encode())
            self._process.stdin.flush()
            answer = self._read_answer(FORK_TIMEOUT)
        if "pid" not in answer:
            raise TemplateUnavailable(f"the kernel template could not fork: {answer.get('error')}")
        inner = int(answer["pid"])
        process = ForkedProcess(self._host_pid(inner))
        # The pidfd now holds that very process: check it is still the one the template forked
        # (not another that took its id since); if not, let it go without signalling it.
        if not _forked_as(process.pid, inner, self._kernel_depth()):
            process.forget()
            raise TemplateUnavailable("the forked kernel ended before it started")
        return process

    def _kernel_depth(self) -> int:
        """Return how many PID namespaces a kernel's sandbox lies in, the grader's included.

        Bubblewrap (in the grader's) starts the template's namespace, in which each kernel's
        sandbox starts one more.
        """
        return len(_nspid(self._process.pid)) + 2

    def _host_pid(self, inner: int) -> int:
        """Return the host process id of the kernel the template knows as ``inner``.

        The kernel's sandbox is its PID namespace's init (which runs the kernel as PID 2, as
        bubblewrap's does), PID 1 there and ``inner`` in the template's namespace. Its parent
        that forked it has ended, so it is a child of the template namespace's init (no process
        a kernel starts is), and its ``NSpid`` ends with ``inner, 1`` at the kernels' depth.
        """
        depth = self._kernel_depth()
        with contextlib.suppress(psutil.Error):
            for init in psutil.Process(self._process.pid).children():
                for process in init.children():
                    if _forked_as(process.pid, inner, depth):
                        return process.pid
        raise TemplateUnavailable("the forked kernel ended before it started")

    def close(self) -> None:
        """Stop the template (its kernels end with its PID namespace) and remove its spool."""
        process = getattr(self, "_process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        shutil.rmtree(self.spool, ignore_errors=True)


class ForkedKernelManager(sandbox.SandboxedKernelManager):
    """A kernel manager whose kernel is forked from a :class:`Template` instead of started."""

    template: Template | None = None
    space: Workspace | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        assert self.template is not None and self.space is not None
        assert self.provisioner is not None
        process = self.template.fork(self.space, kw["env"])
        provisioner: Any = self.provisioner
        provisioner.process = process
        provisioner.pid = provisioner.pgid = process.pid
        self._reconcile_connection_info(provisioner.connection_info)


_current: Template | None = None


def template_for(key: PoolKey) -> Template:
    """Return this process's template for ``key``, starting it (or a new one) when needed."""
    global _current
    if _current is not None and (_current.key != key or not _current.alive()):
        _current.close()
        _current = None
    if _current is None:
        _current = Template(key)
    return _current


def close() -> None:
    """Stop this process's template, if one runs."""
    global _current
    if _current is not None:
        _current.close()
        _current = None


atexit.register(close)


def forked_sandbox(key: PoolKey) -> sandbox.KernelSandbox:
    """Return a kernel sandbox (not started) whose kernel the worker's template will fork."""
    template = template_for(key)
    space = template.workspace()
    km = sandbox.kernel_manager(space, ForkedKernelManager)
    assert isinstance(km, ForkedKernelManager)
    km.template, km.space = template, space
    env = sandbox.kernel_environment(space, key.limits, sandboxed=True)
    return sandbox.KernelSandbox(km=km, env=env, space=space)
