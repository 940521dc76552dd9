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
FIFO); :class:`ProcessWatch` measures both trees whole, counts the sandbox's processes and
their threads, and kills a sandbox that passes either limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shutil
import stat
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, NewType, cast

import psutil
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Float, Int, List, TraitType, Unicode
from traitlets.config import Configurable

from autograder import notebooks
from autograder.kernel.protocol import MODEL_FILE, MODEL_FILE_ENV

#: Bytes the kernel may leave in host folders (its sockets and the saved model) before it is
#: stopped; the assignment's saved model takes about 150 kB.
HOST_BYTES = 48 * 1024**2

#: Files and folders the kernel may keep in its socket folder, and how deep its folders may
#: go, before it counts as over :data:`HOST_BYTES`: the kernel needs only a connection file and
#: five sockets there, and the bound keeps each count of the tree short (and its open folders
#: few) whatever the kernel makes.
HOST_ENTRIES = 1000
HOST_DEPTH = 8

#: The in-kernel room, copied whole into every sandbox: all the kernel imports of ours.
#: Never the grading side, the reference data or the gradebook.
KERNEL_PACKAGE = Path(__file__).resolve().parents[1] / "kernel"

_GIB = 1024**3
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


#: Seconds, as a type: a limit's unit is part of its type, so mypy stops a value in the wrong one.
Seconds = NewType("Seconds", float)
#: Bytes, as a type (see :data:`Seconds`).
Bytes = NewType("Bytes", int)


@dataclasses.dataclass(frozen=True)
class Unit:
    """A unit a limit is set in (``nbgrader_config.py``, flags): its name and its size in base units."""

    suffix: str
    size: int
    whole: bool = False

    def to_base(self, value: float) -> int | float:
        """Return ``value`` (in this unit) in base units: bytes or seconds; counts as they are."""
        return int(value * self.size) if self.size > 1 else value


SECONDS, GIB, MIB = Unit("", 1), Unit("gib", _GIB), Unit("mib", _MIB)
COUNT = Unit("", 1, whole=True)


def _about(help: str, unit: Unit | None = None) -> dict[str, Any]:
    """Return a :class:`Limits` field's metadata: its help and the unit it is set in."""
    return {"help": help, "unit": unit}


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


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's kernel: the one place each limit is declared.

    A field with a unit in its metadata is also a grading setting (:class:`GradingLimits`,
    ``c.GradingLimits.<name>`` and ``--<name>``), named after the field plus the unit's suffix,
    with the field's default and help.

    Attributes:
        processes: counted with threads (a process with 10 threads counts 10), the kernel and
            the sandbox's own included; more stop the kernel (:class:`ProcessWatch`).
        disk: ``/tmp`` (the working folder included) and ``/dev/shm`` together, sized tmpfs
            mounts, so memory of the host.
        allow_unenforced: where ``prlimit`` is missing, run without the limits it applies
            (``memory``, ``file_size``, ``open_files``) instead of refusing.
    """

    cell_timeout: Seconds = dataclasses.field(
        default=Seconds(300.0), metadata=_about("Seconds one cell may run.", SECONDS)
    )
    total_timeout: Seconds = dataclasses.field(
        default=Seconds(900.0),
        metadata=_about("Seconds all cells of a submission may run together.", SECONDS),
    )
    memory: Bytes = dataclasses.field(
        default=Bytes(8 * _GIB),
        metadata=_about("Address space (RLIMIT_AS) per kernel process, in GiB.", GIB),
    )
    file_size: Bytes = dataclasses.field(
        default=Bytes(256 * _MIB),
        metadata=_about("Largest file a kernel may write (RLIMIT_FSIZE)."),
    )
    open_files: int = dataclasses.field(
        default=1024, metadata=_about("Most file descriptors per process (RLIMIT_NOFILE).")
    )
    startup_timeout: Seconds = dataclasses.field(
        default=Seconds(60.0),
        metadata=_about("Seconds the kernel may take to answer its first request."),
    )
    threads: int = dataclasses.field(
        default=0,
        metadata=_about(
            "Threads per kernel for OpenMP and TensorFlow (0: cores / workers).", COUNT
        ),
    )
    output_size: Bytes = dataclasses.field(
        default=Bytes(10 * _MIB), metadata=_about("Bytes of output a kernel may send, in MiB.", MIB)
    )
    # Running the assignment's notebook (TensorFlow 2.21, training included), a kernel and its
    # sandbox peaked at 32, 36, 48 and 96 threads with ``threads`` 1, 2, 8 and 32 (about
    # 32 + 2 x threads), and 35 with 0 on 2 cores: 256 leaves room up to about 100 threads per
    # kernel and still stops a thread or fork bomb at a few hundred.
    processes: int = dataclasses.field(
        default=256,
        metadata=_about(
            "Processes and threads per kernel, counted together, the sandbox's own included.", COUNT
        ),
    )
    disk: Bytes = dataclasses.field(
        default=Bytes(1 * _GIB),
        metadata=_about(
            "Files a kernel may keep in /tmp (its working folder) and /dev/shm, in GiB.", GIB
        ),
    )
    allow_unenforced: bool = dataclasses.field(
        default=False,
        metadata=_about(
            "Grade even where prlimit is missing, without the memory, file-size and open-file "
            "limits (not recommended)."
        ),
    )

    def __post_init__(self) -> None:
        for field in (
            "cell_timeout",
            "total_timeout",
            "memory",
            "file_size",
            "startup_timeout",
            "output_size",
            "processes",
            "disk",
        ):
            if getattr(self, field) <= 0:
                raise ValueError(f"Limits.{field} must be positive, got {getattr(self, field)}")

    def for_workers(self, workers: int) -> Limits:
        """Return these limits with ``threads`` 0 made the cores shared among ``workers`` jobs."""
        if self.threads:
            return self
        return dataclasses.replace(self, threads=max(1, (os.cpu_count() or 1) // max(1, workers)))


def _field(name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(Limits) if f.name == name)


def _setting(name: str) -> TraitType[Any, Any]:
    """Return the trait of the :class:`Limits` field ``name``: its default, in its unit, and help."""
    field = _field(name)
    unit, help_text = field.metadata["unit"], field.metadata["help"]
    trait: TraitType[Any, Any]
    if isinstance(field.default, bool):
        trait = Bool(field.default, help=help_text)
    elif unit.whole:
        trait = Int(cast(int, field.default), help=help_text)
    else:
        trait = Float(field.default / unit.size, help=help_text)
    return trait.tag(config=True, limit=name)


class GradingLimits(Configurable):
    """The limits per submission as nbgrader settings (``c.GradingLimits.cell_timeout = 600``).

    Each setting is a :class:`Limits` field, named after it with its unit's suffix, with its
    default and help; the grading command's flags override the configuration.
    """

    cell_timeout = _setting("cell_timeout")
    total_timeout = _setting("total_timeout")
    memory_gib = _setting("memory")
    disk_gib = _setting("disk")
    max_processes = _setting("processes")
    output_mib = _setting("output_size")
    threads = _setting("threads")
    allow_unenforced = _setting("allow_unenforced").tag(flag="allow-unenforced-limits")

    def limits(self, *, workers: int) -> Limits:
        """Return these settings as :class:`Limits` for ``workers`` parallel jobs."""
        values: dict[str, Any] = {}
        for name, trait in self.traits(limit=lambda v: v is not None).items():
            field = _field(trait.metadata["limit"])
            unit = field.metadata["unit"]
            value = getattr(self, name)
            values[field.name] = value if unit is None else unit.to_base(value)
        return Limits(**values).for_workers(workers)


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


@dataclasses.dataclass
class Workspace:
    """The throwaway folders of one submission's kernel.

    ``root`` holds ``work`` (the kernel's current folder and HOME: in a sandbox a fresh tmpfs
    at the same path), ``pkg`` (the read-only in-kernel ``autograder`` modules and ``cache``,
    the staged course data), ``run``
    (connection file and sockets) and ``model_file``, the host file that a sandboxed kernel
    sees as ``work/model.keras``.
    """

    root: Path
    logs: list[IO[bytes]] = dataclasses.field(default_factory=list)

    @property
    def work(self) -> Path:
        return self.root / "w"

    @property
    def pkg(self) -> Path:
        return self.root / "p"

    @property
    def run(self) -> Path:
        return self.root / "r"

    @property
    def model_file(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def cache(self) -> Path:
        """Return the kernel's read-only course-data cache (``$NN_COURSE_CACHE``), inside ``pkg``."""
        return self.pkg / "cache"

    def host_bytes(self) -> int | None:
        """Return the bytes the kernel has put in host folders (socket folder, saved model).

        The socket folder counts whole, subfolders included, links not followed. Returns None
        when it holds more than :data:`HOST_ENTRIES` entries or folders deeper than
        :data:`HOST_DEPTH`: too many to count, which counts as over any limit.
        """
        total = 0
        with contextlib.suppress(FileNotFoundError):
            total += _stored_bytes(self.model_file.lstat())
        tree = _tree_bytes(self.run, max_entries=HOST_ENTRIES, max_depth=HOST_DEPTH)
        return None if tree is None else total + tree

    def cleanup(self) -> None:
        """Close the kernel log and delete every file of the workspace."""
        for log in self.logs:
            log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _stored_bytes(info: os.stat_result) -> int:
    """Return what a file takes: its size, or its blocks when more (folders, small files)."""
    return max(info.st_size, info.st_blocks * 512)


_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

#: What opening a folder just listed raises when it was removed or replaced by a file or link.
_GONE = (FileNotFoundError, NotADirectoryError)


def _open_listing(
    name: str | Path, dir_fd: int | None = None
) -> tuple[int, os._ScandirIterator[str]]:
    """Open the folder ``name`` (relative to ``dir_fd``) without following a link; list it."""
    fd = os.open(name, _OPEN_FOLDER, dir_fd=dir_fd)
    try:
        return fd, os.scandir(fd)
    except BaseException:
        os.close(fd)
        raise


def _tree_bytes(folder: Path, *, max_entries: int, max_depth: int) -> int | None:
    """Return the bytes of everything under ``folder``, or None past either bound.

    Each folder is opened once, with ``O_NOFOLLOW``, relative to its parent: a link is counted,
    never followed, and no path grows long. An entry that vanishes, or stops being a folder,
    while it is counted is skipped (the next count sees what replaced it); a tree that cannot
    be read for any other reason counts as None, over the limit.
    """
    try:
        stack = [_open_listing(folder)]
    except FileNotFoundError:
        return 0
    except OSError:
        return None
    total, entries = 0, 0
    try:
        while stack:
            fd, listing = stack[-1]
            entry = next(listing, None)
            if entry is None:
                stack.pop()
                listing.close()
                os.close(fd)
                continue
            entries += 1
            if entries > max_entries:
                return None
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            total += _stored_bytes(info)
            if stat.S_ISDIR(info.st_mode):
                # Only the folders being read are open: at most max_depth + 1 (two descriptors
                # each, scandir's own copy included).
                if len(stack) > max_depth:
                    return None
                try:
                    stack.append(_open_listing(entry.name, fd))
                except _GONE:
                    continue
                except OSError as err:
                    if err.errno != errno.ELOOP:  # ELOOP: replaced by a link
                        raise
        return total
    except OSError:
        return None
    finally:
        for fd, listing in stack:
            listing.close()
            os.close(fd)


def make_workspace(model: bytes = b"") -> Workspace:
    """Create a workspace with the in-kernel modules and ``model`` as its model file."""
    # Short paths: a Unix socket path must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="nng-", dir="/tmp" if os.path.isdir("/tmp") else None))
    space = Workspace(root)
    for folder in (space.work, space.pkg / "autograder", space.run):
        folder.mkdir(parents=True)
    (space.pkg / "autograder" / "__init__.py").write_text(
        '"""In-kernel part of the grader (probes only; the checks run outside)."""\n'
    )
    shutil.copytree(
        KERNEL_PACKAGE,
        space.pkg / "autograder" / "kernel",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    space.model_file.write_bytes(model)
    return space


def stage_digits(space: Workspace) -> None:
    """Copy the grader's processed digits into ``space.cache``, so the kernel need not build them.

    A copy, not a link: even an unsandboxed kernel can change only its own. When the grader's
    cache cannot be written, nothing is staged and the kernel builds the digits itself.
    """
    from lab_utils import data

    cached = data.ensure_digits_cache()
    if cached is not None:
        space.cache.mkdir(exist_ok=True)
        shutil.copyfile(cached, space.cache / cached.name)


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


def _ro_binds_for_python() -> list[Path]:
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


def bwrap_prefix(space: Workspace, limits: Limits) -> list[str]:
    """Return the bubblewrap command line that confines a kernel to ``space``."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(BWRAP_MISSING)
    cmd = [bwrap, "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    for name in _ETC_ENTRIES:
        path = Path("/etc") / name
        if path.exists():
            cmd += ["--ro-bind", str(path), str(path)]
    shm = min(64 * _MIB, limits.disk // 8)
    cmd += [
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(shm), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
        "--size", str(limits.disk - shm), "--tmpfs", "/tmp",
    ]  # fmt: skip
    for folder in _ro_binds_for_python():
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


def kernel_sandbox(space: Workspace, limits: Limits, *, sandboxed: bool) -> KernelSandbox:
    """Return a kernel manager whose kernel runs confined to ``space`` under ``limits``."""
    prefix, env = confinement(space, limits, sandboxed=sandboxed)
    km = SandboxedKernelManager(
        prefix=prefix,
        transport="ipc",
        ip=str(space.run / "k"),
        connection_file=str(space.run / "kernel.json"),
        kernel_name="python3",
    )
    return KernelSandbox(km=km, env=env, space=space)


class ProcessWatch:
    """Kill a kernel, and everything it started, past ``limit`` threads or its host bytes.

    A thread counts the threads of ``pid`` (the sandbox, or the kernel without one) and of
    every process under it (a process is at least one thread, so processes count too), and the
    bytes the kernel left in the host folders of ``space`` (:meth:`Workspace.host_bytes`),
    every ``interval`` seconds, so a fork bomb, a thread bomb or a disk filler is stopped
    within about that time. The kernel's death then ends the running cell. ``RLIMIT_NPROC``
    cannot do this job: it counts every thread of the grading user, across all kernels, and
    does not apply to root.
    """

    def __init__(
        self,
        pid: int,
        limit: int,
        *,
        space: Workspace | None = None,
        host_bytes: int = HOST_BYTES,
        interval: float = 0.2,
    ) -> None:
        self.limit = limit
        self.host_limit = host_bytes
        self.exceeded = False
        self.disk_exceeded = False
        self._space = space
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="process-watch", daemon=True)

    def start(self) -> None:
        """Start watching in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        try:
            root = psutil.Process(self._pid)
            while not self._stop.wait(self._interval):
                found = root.children(recursive=True)
                self.exceeded = _threads(root, found) > self.limit
                used = None if self._space is None else self._space.host_bytes()
                self.disk_exceeded = self._space is not None and (
                    used is None or used > self.host_limit
                )
                if self.exceeded or self.disk_exceeded:
                    # The sandbox first: its PID namespace ends with it, taking every child.
                    for process in (root, *found):
                        with contextlib.suppress(psutil.Error):
                            process.kill()
                    return
        except psutil.Error:  # the kernel has ended
            return


def _threads(root: psutil.Process, children: list[psutil.Process]) -> int:
    """Return the threads of ``root`` and ``children``, one for a process it cannot read."""
    total = 0
    for process in (root, *children):
        try:
            total += process.num_threads()
        except psutil.Error:  # ended, a zombie, or hidden: still (at least) a process
            total += 1
    return total
