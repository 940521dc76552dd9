"""The kernel template's own program: import once, fork one confined kernel per request.

Runs inside the template's bubblewrap sandbox (``python -c`` with this file's text, see
:mod:`autograder.grading.kernel_template`), which keeps ``CAP_SYS_ADMIN`` in a user namespace
of its own; it imports only the standard library, ipykernel and the modules it is asked to
preload. It reads one JSON request per line on stdin and answers one line on stdout: the
kernel's process id in the template's PID namespace, or what went wrong.

Each request forks a child that, before any student code can run, gives itself the sandbox a
kernel started by bubblewrap gets (:func:`autograder.grading.sandbox.bwrap_prefix`): its own
mount, PID, IPC, network, UTS and cgroup namespaces; a fresh sized ``/tmp`` holding its working
folder, its read-only modules, its socket folder and its model file at the paths the grader
uses; a fresh ``/dev/shm`` and ``/proc``; its resource limits; no capability, an empty bounding
set and ``no_new_privs``; the kernel's environment and nothing of the template's open files.
Any step that fails ends the child before the kernel starts.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import resource
import sys
import tempfile
import traceback
from typing import Any

_LIBC = ctypes.CDLL(None, use_errno=True)

_NEWNS, _NEWCGROUP, _NEWUTS = 0x00020000, 0x02000000, 0x04000000
_NEWIPC, _NEWPID, _NEWNET = 0x08000000, 0x20000000, 0x40000000
_RDONLY, _NOSUID, _NODEV, _NOEXEC = 1, 2, 4, 8
_REMOUNT, _BIND, _REC, _PRIVATE = 32, 4096, 16384, 262144
_DETACH = 2
_PR_CAPBSET_READ, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 23, 24, 38
_CAP_V3 = 0x20080522

#: Where the child holds what it binds back after mounting its fresh /tmp (a folder of the
#: template's read-only root, made by bubblewrap; each child mounts a tmpfs of its own there).
STAGE = "/stage"

#: One fork request, as :class:`autograder.grading.kernel_template.Template` writes it.
Request = dict[str, Any]

#: Marks the template's answers on stdout, so that nothing else printed there counts.
MARK = "nn-template "


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _LIBC.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _bind(source: str, target: str, *, read_only: bool) -> None:
    _mount(source, target, None, _BIND | _REC)
    if read_only:
        _mount("none", target, None, _REMOUNT | _BIND | _RDONLY | _NOSUID | _NODEV)


def _tmpfs(target: str, size: int) -> None:
    _mount("tmpfs", target, "tmpfs", _NOSUID | _NODEV, f"size={int(size)},mode=0755")


def _make_point(path: str, *, folder: bool) -> None:
    """Make ``path`` (and its parents) as a folder or an empty file to mount on."""
    os.makedirs(path if folder else os.path.dirname(path), exist_ok=True)
    if not folder:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))


def _mount_views(request: Request) -> None:
    """Give this (new) mount namespace the kernel's view: fresh /tmp, /dev/shm, bound folders.

    What stays visible through the fresh ``/tmp`` (the Python folders under ``/tmp``, and the
    workspace's modules, socket folder and model file, which sit in the spool under ``/tmp``)
    is first bound into a tmpfs of this child's own at :data:`STAGE`, then bound back at its
    path, and the stage is unmounted: nothing here is a mount another child shares.
    """
    # (source, target, is a folder, read-only)
    binds = [(path, path, True, True) for path in request["keep"]]
    binds += [
        (request["pkg"], request["pkg"], True, True),
        (request["run"], request["run"], True, False),
        (request["model_file"], request["model_in_work"], False, False),
    ]
    _tmpfs(STAGE, 64 * 1024)
    for index, (source, _, folder, _) in enumerate(binds):
        _make_point(f"{STAGE}/{index}", folder=folder)
        _bind(source, f"{STAGE}/{index}", read_only=False)
    _tmpfs("/tmp", request["disk"] - request["shm"])
    os.makedirs(request["work"])
    for index, (_, target, folder, read_only) in enumerate(binds):
        _make_point(target, folder=folder)
        _bind(f"{STAGE}/{index}", target, read_only=read_only)
    _check(_LIBC.umount2(STAGE.encode(), _DETACH), f"umount {STAGE}")
    _tmpfs("/dev/shm", request["shm"])


def _drop_privileges() -> None:
    """Drop the bounding set and every capability, set no_new_privs, and check all of it."""
    for cap in range(64):
        if _LIBC.prctl(_PR_CAPBSET_READ, cap, 0, 0, 0) == 1:
            _check(_LIBC.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
    header, data = (ctypes.c_uint32 * 2)(_CAP_V3, 0), (ctypes.c_uint32 * 6)()
    _check(_LIBC.capset(header, data), "capset")
    _check(_LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(fields[name], 16):
            raise OSError(f"{name} is {fields[name].strip()} after dropping every capability")
    if fields["NoNewPrivs"].strip() != "1":
        raise OSError("no_new_privs did not stick")


def _uncache(function: object) -> None:
    """Have a function memoized by matplotlib's ``_logged_cached`` compute its value again."""
    code = getattr(function, "__code__", None)
    closure = getattr(function, "__closure__", None)
    if code is not None and closure and "called" in code.co_freevars:
        closure[code.co_freevars.index("called")].cell_contents = False


def _forget_template_paths() -> None:
    """Drop what the template's imports derived from its own environment (folders, mostly).

    A started kernel's modules read ``TMPDIR``, ``HOME`` and ``MPLCONFIGDIR`` when it imports
    them; the template imported them with its own. Each value is computed again from the
    kernel's environment, as its module computes it.
    """
    tempfile.tempdir = None
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        for name in ("get_configdir", "get_cachedir"):
            _uncache(getattr(matplotlib, name, None))
    config = sys.modules.get("keras.src.backend.config")
    if config is not None:
        importlib.reload(config)  # its folder, and the keras.json it reads and writes there


#: What the template's imports put in its environment (TensorFlow sets a few variables): a
#: kernel that imported them itself would have them too.
_SET_BY_IMPORTS: dict[str, str] = {}


def _init(kernel: int) -> None:
    """Reap every process of the namespace until ``kernel`` ends, then end with its status.

    As bubblewrap's init does: the kernel is not PID 1, so its signals to itself (``SIGKILL``
    included) act as in a started kernel, and its orphans are reaped.
    """
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == kernel:
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _become_kernel(request: Request) -> None:
    """Finish confining this process (PID 1 of its namespace); run the kernel in a child."""
    os.setsid()
    _mount("proc", "/proc", "proc", _NOSUID | _NODEV | _NOEXEC)
    _check(_LIBC.sethostname(b"grading", 7), "sethostname")
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (request["file_size"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (request["open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _drop_privileges()
    kernel = os.fork()
    if kernel:
        _init(kernel)
    os.chdir(request["work"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(_SET_BY_IMPORTS)
    os.environ["PWD"] = request["work"]  # as bubblewrap's --chdir sets it
    _forget_template_paths()
    # As ipykernel_launcher leaves it: $PYTHONPATH first, no current folder (IPython adds '').
    sys.path[:] = [request["pkg"], *(p for p in sys.path if p not in ("", request["pkg"]))]
    importlib.invalidate_caches()
    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # a stream of its own, as a fresh kernel has
    from ipykernel import kernelapp

    kernelapp.IPKernelApp.launch_instance(["-f", request["connection_file"]])


def _child(request: Request, report: int) -> None:
    """Confine this fresh fork, fork its new PID namespace's init, report the init's pid."""
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        null = os.open("/dev/null", os.O_RDWR)
        for target, source in ((0, null), (1, log), (2, log)):
            os.dup2(source, target)
        os.closerange(3, report)  # the template's pipes, and everything else it holds
        os.closerange(report + 1, 2**31 - 1)  # close_range(2) on Linux: one call
        os.setsid()
        flags = _NEWNS | _NEWUTS | _NEWIPC | _NEWPID | _NEWNET
        if _LIBC.unshare(flags | _NEWCGROUP) != 0:
            _check(_LIBC.unshare(flags), "unshare")
        _mount("none", "/", None, _REC | _PRIVATE)
        _mount_views(request)
        pid = os.fork()
    except BaseException as err:
        os.write(report, (json.dumps({"error": f"{type(err).__name__}: {err}"}) + "\n").encode())
        os._exit(1)
    if pid:
        os.write(report, (json.dumps({"pid": pid}) + "\n").encode())
        os._exit(0)
    os.close(report)
    try:
        _become_kernel(request)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _answer(reply: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(reply) + "\n")
    sys.stdout.flush()


def serve(preload: list[str]) -> None:
    """Import ``preload``, say ready, then fork one kernel for each request line on stdin."""
    before = dict(os.environ)
    import ipykernel.kernelapp  # noqa: F401 (imported once, before any fork)

    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:
            continue
    _SET_BY_IMPORTS.update((k, v) for k, v in os.environ.items() if before.get(k) != v)
    # What the imports made is never collected: a child's collector then leaves those objects
    # (and the memory pages it shares with the template) untouched.
    gc.freeze()
    _answer({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                _child(request, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as report:
            said = report.readline()
        os.waitpid(pid, 0)
        try:
            reply = json.loads(said)
        except ValueError:
            reply = {"error": "the child ended before it reported"}
        _answer(reply)


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
