"""Run a student's kernel in a throwaway, locked-down folder (bubblewrap on Linux).

The grading process (trusted) talks to the kernel (untrusted) over ZeroMQ. Inside the
sandbox the kernel sees a read-only system and Python environment, the ``lab_utils``
package, a copy of the few in-kernel ``autograder`` modules (probes, no reference data), a
copy of the processed digits (so that no kernel spends 2 s building them), and one writable
folder; it has no network, its own PID namespace, no capabilities, and
resource limits set with ``prlimit``. Because the kernel lives in another network
namespace, TCP loopback does not reach it: the connection uses ZeroMQ's ``ipc``
transport, whose Unix sockets sit in the bound runtime folder and so cross namespaces.

Memory is capped with ``RLIMIT_AS`` (address space, not resident memory): importing
TensorFlow and training the assignment's model maps about 3 GiB, so the default is 8 GiB.

Disk is capped as a whole, not only per file (``RLIMIT_FSIZE``): everything the kernel can
write lives in tmpfs mounts of fixed size (``/tmp``, which holds its working folder, and
``/dev/shm``), which together take :attr:`Limits.disk` bytes of memory at most. The rest of the
sandbox is read-only, its root included: bubblewrap's root is an unsized tmpfs, bounded only by
the host's memory, so it is remounted read-only once every mount is in place. The only host
folders the kernel can write are its socket folder (where it may also make folders) and the
one file a model is saved to (a bind mount: it cannot be replaced by a link, a folder or a
FIFO); :class:`~autograder.grading.process_watch.ProcessWatch` measures both trees whole,
counts the sandbox's processes and their threads, and kills a sandbox that passes either limit.

This module builds the confining command (``bwrap`` and ``prlimit``) and the kernel's
environment; the limits are declared in :mod:`autograder.grading.limits` and the kernel's
folders are a :class:`~autograder.grading.workspace.Workspace`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import List, Unicode

from autograder import notebooks
from autograder.grading import workspace
from autograder.grading.limits import Limits
from autograder.grading.workspace import Workspace
from autograder.kernel.protocol import MODEL_FILE, MODEL_FILE_ENV

_MIB = 1024**2

#: Files of /etc a Python process reads (name service, dynamic linker, fonts, time zone).
_ETC_ENTRIES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "nsswitch.conf",
    "passwd",
    "group",
    "localtime",
    "fonts",
    "mime.types",
    "hosts",
)


#: Says how to fix a missing bubblewrap; the one message for every command that needs it.
BWRAP_MISSING = (
    "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed: install it "
    "(apt-get install bubblewrap) or pass --no-sandbox to grade unconfined"
)
#: Says how to fix a missing prlimit (see :func:`prlimit_prefix`).
PRLIMIT_MISSING = (
    "prlimit (util-linux) is not installed, so the memory, file-size and open-file limits "
    "cannot be applied: install it (apt-get install util-linux) or pass "
    "--allow-unenforced-limits (c.GradingLimits.allow_unenforced = True) to grade without them"
)


class SandboxUnavailable(RuntimeError):
    """Raise when bubblewrap cannot be found and the caller asked for a sandbox."""


class LimitsUnavailable(SandboxUnavailable):
    """Raise when a limit cannot be applied here and the instructor did not allow that."""


def python_executable() -> str:
    """Return the grading interpreter as the sandbox sees it: its folder with links resolved.

    Only the folder is resolved: the file itself is often a link to the base interpreter, and
    Python finds a virtual environment from the path it was started as.
    """
    return str(Path(sys.executable).parent.resolve() / Path(sys.executable).name)


#: ``python -c`` body that runs the module named in argv[1] as ``-m`` would, after taking the
#: working folder ('' for ``-c``) off ``sys.path``: Python 3.10 has no ``-P``.
_RUN_MODULE_OFF_CWD = (
    "import runpy, sys; del sys.path[0]; del sys.argv[0]; "
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


def python_command(flag: str, target: str, *args: str) -> list[str]:
    """Return the grading interpreter's ``python -P {-m module | -c code} args`` on any Python.

    The working folder (a sandbox's, full of the submission's files) stays off ``sys.path``;
    on Python 3.10, which has no ``-P``, a short ``-c`` prologue removes it instead.
    """
    if flag not in ("-m", "-c"):
        raise ValueError(f"flag must be -m or -c, not {flag!r}")
    python = python_executable()
    if sys.version_info >= (3, 11):
        return [python, "-P", flag, target, *args]
    if flag == "-c":
        return [python, "-c", "import sys; del sys.path[0]\n" + target, *args]
    return [python, "-c", _RUN_MODULE_OFF_CWD, target, *args]


def bwrap_path() -> str | None:
    """Return the path of the ``bwrap`` executable, or None when bubblewrap is not installed."""
    return shutil.which("bwrap")


def sandbox_available() -> bool:
    """Return True when kernels can be sandboxed on this machine (Linux with bubblewrap)."""
    return sys.platform.startswith("linux") and bwrap_path() is not None


def _package_root(module_name: str) -> Path:
    import importlib

    module_file = importlib.import_module(module_name).__file__
    if module_file is None:
        raise RuntimeError(f"{module_name} is not a package with files the sandbox could bind")
    return Path(module_file).resolve().parent


def kernel_environment(space: Workspace, limits: Limits, *, sandboxed: bool) -> dict[str, str]:
    """Return the environment of the kernel: nothing inherited but what Python needs."""
    env = {
        "PATH": f"{Path(python_executable()).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(space.work),
        "PYTHONPATH": str(space.pkg),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_RUNTIME_DIR": str(space.run),
        "JUPYTER_DATA_DIR": str(space.work / ".jupyter"),
        "JUPYTER_CONFIG_DIR": str(space.work / ".jupyter"),
        "IPYTHONDIR": str(space.work / ".ipython"),
        "MPLCONFIGDIR": str(space.work / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "LANG": "C.UTF-8",
        "TMPDIR": str(space.work),
        # nbgrader sets this while autograding; notebooks may test it.
        "NBGRADER_EXECUTION": "autograde",
        # Course data the grader staged (the processed digits), read-only in a sandbox.
        "NN_COURSE_CACHE": str(space.cache),
        # The model checks save the student's model here, for the grader to describe itself.
        MODEL_FILE_ENV: str(space.work / MODEL_FILE if sandboxed else space.model_file),
    }
    if limits.threads > 0:
        env.update(notebooks.thread_env(limits.threads))
    if not sandboxed:
        # Without a sandbox the kernel still must not find the course's autograder package
        # before the copy; keep the rest of the caller's environment (e.g. proxies, locale).
        env = {**os.environ, **env}
    return env


def prlimit_path() -> str | None:
    """Return the path of the ``prlimit`` executable, or None when it is not installed."""
    return shutil.which("prlimit")


def check_available(limits: Limits, *, sandboxed: bool) -> None:
    """Raise :class:`SandboxUnavailable` unless kernels can be confined here as asked.

    Without bubblewrap there is no sandbox (``sandboxed`` False grades unconfined); without
    ``prlimit`` the memory, file-size and open-file limits cannot be applied, which only
    ``limits.allow_unenforced`` accepts.
    """
    if sandboxed and not sandbox_available():
        raise SandboxUnavailable(BWRAP_MISSING)
    if prlimit_path() is None and not limits.allow_unenforced:
        raise LimitsUnavailable(PRLIMIT_MISSING)


def prlimit_prefix(limits: Limits) -> list[str]:
    """Return the ``prlimit`` command that applies ``limits`` to the kernel and its children.

    Raises :class:`LimitsUnavailable` when ``prlimit`` is missing, unless
    ``limits.allow_unenforced`` (then the command is empty and those limits are not applied).
    """
    prlimit = prlimit_path()
    if prlimit is None:
        if limits.allow_unenforced:
            return []
        raise LimitsUnavailable(PRLIMIT_MISSING)
    return [
        prlimit,
        f"--as={int(limits.memory)}",
        f"--fsize={int(min(limits.file_size, limits.disk))}",
        f"--nofile={int(limits.open_files)}",
        "--core=0",
        "--",
    ]


def ro_binds_for_python() -> list[Path]:
    """Return folders the kernel's Python needs to read: interpreter, venv, lab_utils."""
    folders = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    folders.add(Path(sys.executable).resolve().parent.parent)
    folders.add(Path(python_executable()).parent.parent)
    folders.add(_package_root("lab_utils"))
    # Drop folders inside others so each is bound once.
    ordered = sorted(folders, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for folder in ordered:
        if not any(folder == k or k in folder.parents for k in kept):
            kept.append(folder)
    return kept


def system_binds() -> list[str]:
    """Return bubblewrap's arguments that show ``/usr`` read-only, with ``/bin``, ``/lib`` & co."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def shm_bytes(limits: Limits) -> int:
    """Return the size of a kernel's ``/dev/shm``; the rest of ``limits.disk`` is its ``/tmp``."""
    return min(64 * _MIB, limits.disk // 8)


def etc_binds() -> list[str]:
    """Return bubblewrap's arguments that show the few files of ``/etc`` Python reads."""
    args = []
    for name in _ETC_ENTRIES:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    return args


def bwrap_prefix(space: Workspace, limits: Limits) -> list[str]:
    """Return the bubblewrap command line that confines a kernel to ``space``."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(BWRAP_MISSING)
    cmd = [bwrap, *system_binds(), *etc_binds()]
    shm = shm_bytes(limits)
    cmd += [
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(shm), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
        "--size", str(limits.disk - shm), "--tmpfs", "/tmp",
    ]  # fmt: skip
    for folder in ro_binds_for_python():
        cmd += ["--ro-bind", str(folder), str(folder)]
    cmd += [
        "--dir", str(space.work),
        "--bind", str(space.run), str(space.run),
        "--bind", str(space.model_file), str(space.work / MODEL_FILE),
        "--ro-bind", str(space.pkg), str(space.pkg),
        # Last: every mount point above is made; from here nothing outside a mount is writable.
        "--remount-ro", "/",
        "--chdir", str(space.work),
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--hostname", "grading",
        "--cap-drop", "ALL", "--new-session", "--die-with-parent",
        "--clearenv",
    ]  # fmt: skip
    return cmd


class SandboxedKernelManager(AsyncKernelManager):
    """Start an IPython kernel behind a command prefix (bubblewrap and prlimit).

    The kernel runs the grading interpreter's Python (``sys.executable``) rather than a
    kernelspec's command, so the sandbox binds exactly the environment it runs.
    """

    prefix = List(Unicode(), help="Command placed before the kernel's command.").tag(config=True)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        kernel = [python_executable(), "-m", "ipykernel_launcher", "-f", self.connection_file]
        return [*self.prefix, *kernel, *(extra_arguments or [])]


@dataclasses.dataclass
class KernelSandbox:
    """A kernel manager for one submission plus the environment and folder to start it in."""

    km: SandboxedKernelManager
    env: dict[str, str]
    space: Workspace

    def start_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments for ``km.start_kernel`` / nbclient's ``setup_kernel``."""
        # The kernel's own stdout/stderr (banner, TF logs) go to a log, not the grader's terminal.
        log = open(self.space.root / "kernel.log", "ab")  # noqa: SIM115 (closed by cleanup)
        self.space.logs.append(log)
        return {"env": self.env, "cwd": str(self.space.work), "stdout": log, "stderr": log}


def confinement(
    space: Workspace, limits: Limits, *, sandboxed: bool
) -> tuple[list[str], dict[str, str]]:
    """Return the command prefix and environment that confine a process to ``space``."""
    env = kernel_environment(space, limits, sandboxed=sandboxed)
    prefix = prlimit_prefix(limits)
    if sandboxed:
        env_args: list[str] = []
        for name, value in env.items():
            env_args += ["--setenv", name, value]
        # --clearenv drops what Popen passes; the process sees only these values.
        prefix = [*prefix, *bwrap_prefix(space, limits), *env_args, "--"]
    return prefix, env


def fresh_kernel_sandbox(limits: Limits, *, sandboxed: bool) -> KernelSandbox:
    """Return a kernel sandbox (not started) in a new workspace with the course data staged."""
    space = workspace.make_workspace()
    try:
        workspace.stage_digits(space)
    except BaseException:
        space.cleanup()
        raise
    return kernel_sandbox(space, limits, sandboxed=sandboxed)


def kernel_manager(
    space: Workspace, manager: type[SandboxedKernelManager] = SandboxedKernelManager, **traits: Any
) -> SandboxedKernelManager:
    """Return a ``manager`` whose kernel's sockets and connection file are in ``space.run``."""
    return manager(
        transport="ipc",
        ip=str(space.run / "k"),
        connection_file=str(space.run / "kernel.json"),
        kernel_name="python3",
        **traits,
    )


def kernel_sandbox(space: Workspace, limits: Limits, *, sandboxed: bool) -> KernelSandbox:
    """Return a kernel manager whose kernel runs confined to ``space`` under ``limits``."""
    prefix, env = confinement(space, limits, sandboxed=sandboxed)
    return KernelSandbox(km=kernel_manager(space, prefix=prefix), env=env, space=space)
