"""Benchmark issue 24's stretch goal: kernels forked from a template against sandboxed kernels.

Measures, side by side in one run, on this machine:
  (a) --kernels kernels started as the grading command starts each one: a fresh bubblewrap
      sandbox (``autograder.grading.sandbox``), then the workload below run in it;
  (b) one template in a bubblewrap sandbox that keeps CAP_SYS_ADMIN in its own user namespace
      and imports ipykernel and TensorFlow once, then --kernels kernels forked from it. Before
      it starts its kernel, each child makes its own mount, PID, IPC, network and UTS
      namespaces, mounts a fresh /tmp and /proc, hides the spool folder but for its own
      folder, sets its resource limits, drops every capability and sets no_new_privs;
then prints each kernel's time from request to ready and the workload's time, the medians
side by side, and what a forked kernel sees around it (processes, capabilities, the spool
folder, /tmp, writable shared mappings, the pipes it holds).

The grading command does not fork its kernels: this measures what the stretch goal would gain
and shows the isolation a forked kernel gets, as the start of building it (docs/performance.md).

Usage: .venv/bin/python benchmarks/fork_template_bench.py [--kernels N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_core.utils import run_sync

from autograder import notebooks
from autograder.grading import sandbox
from autograder.grading.limits import Limits

#: What each kernel runs: the assignment's network trained for one epoch on random digits,
#: then one JSON line of what the kernel sees around it.
WORKLOAD = """\
import json, os, numpy as np, tensorflow as tf
model = tf.keras.Sequential([tf.keras.Input((400,)), tf.keras.layers.Dense(25, activation="relu"),
    tf.keras.layers.Dense(15, activation="relu"), tf.keras.layers.Dense(10)])
model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=tf.keras.optimizers.Adam(0.001))
model.fit(np.random.rand(1000, 400), np.random.randint(0, 10, 1000), epochs=1, verbose=0)
def pipes():
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the folder's own descriptor, closed since
            continue
        if target.startswith("pipe:"):
            yield target
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
maps = [line for line in open("/proc/self/maps") if line.split()[1].startswith("rw") and line.split()[1][3] == "s"]
print(json.dumps({
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "CapEff": status["CapEff"].strip(), "CapBnd": status["CapBnd"].strip(),
    "NoNewPrivs": status["NoNewPrivs"].strip(),
    "folder above the working folder": sorted(os.listdir(os.path.dirname(os.getcwd()))),
    "tmp": sorted(os.listdir("/tmp")),
    "writable shared mappings": len(maps),
    "pipes": sorted(pipes()),
}))
"""

#: Where the template sees its spool folder, the host folder that holds each kernel's folder.
SPOOL = "/spool"

#: The template (run with ``python -c``): import once, fork one confined kernel per request.
TEMPLATE = r"""
import ctypes, json, os, resource, sys
libc = ctypes.CDLL(None, use_errno=True)
NEWNS, NEWUTS, NEWIPC, NEWPID, NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 262144
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38

def check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")

def mount(source, target, fstype, flags, data=None):
    check(libc.mount(source.encode(), target.encode(), fstype and fstype.encode(), flags,
                     data and data.encode()), f"mount {target}")

import ipykernel.ipkernel, ipykernel.kernelapp, numpy, tensorflow
SPOOL, KEEP = sys.argv[1], json.loads(sys.argv[2])

def confine_and_run(request):
    mine = os.path.join(SPOOL, request["id"])
    log = os.open(os.path.join(mine, "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0); os.dup2(log, 1); os.dup2(log, 2)
    os.closerange(3, 65536)  # the template's pipes and anything else it holds
    os.setsid()
    check(libc.unshare(NEWNS | NEWUTS | NEWIPC | NEWPID | NEWNET), "unshare")
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    # A fresh /tmp, through which the Python this runs (a virtual environment under /tmp, as
    # in CI's clone) stays visible: held on a tmpfs of this child's own at /stage while /tmp
    # is replaced, then /stage is an empty folder of the read-only root again.
    mount("tmpfs", "/stage", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k")
    for index, folder in enumerate(KEEP):
        os.mkdir(f"/stage/{index}")
        mount(folder, f"/stage/{index}", None, MS_BIND | MS_REC)
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={request['disk']}")
    for index, folder in enumerate(KEEP):
        os.makedirs(folder)
        mount(f"/stage/{index}", folder, None, MS_BIND | MS_REC)
    check(libc.umount2(b"/stage", 2), "umount /stage")
    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m")
    os.mkdir("/tmp/own")
    mount(mine, "/tmp/own", None, MS_BIND)
    mount("tmpfs", SPOOL, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    os.mkdir(mine)
    mount("/tmp/own", mine, None, MS_BIND)
    check(libc.umount2(b"/tmp/own", 2), "umount /tmp/own")
    os.rmdir("/tmp/own")
    mount("none", SPOOL, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    if os.fork():
        os._exit(0)
    # PID 1 of the new PID namespace: its own /proc, limits, no capabilities.
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    libc.sethostname(b"grading", 7)
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (request["disk"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header, data = (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()
    check(libc.capset(header, data), "capset")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    os.chdir(mine)
    os.environ.clear()
    os.environ.update(request["env"])
    numpy.random.seed()  # each child its own stream, as a fresh kernel has
    app = ipykernel.kernelapp.IPKernelApp.instance()
    app.initialize(["-f", request["connection_file"]])
    app.start()

print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            confine_and_run(request)
        finally:
            os._exit(1)
    os.waitpid(pid, 0)
    print(json.dumps({"id": request["id"]}), flush=True)
"""


def run_workload(client: BlockingKernelClient) -> tuple[float, dict]:
    """Run :data:`WORKLOAD` through ``client``; return its seconds and the facts it printed."""
    printed: list[str] = []

    def keep(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise RuntimeError(f"the workload failed: {msg['content']['evalue']}")

    start = time.perf_counter()
    client.execute_interactive(WORKLOAD, timeout=300, output_hook=keep)
    seconds = time.perf_counter() - start
    return seconds, json.loads("".join(printed).strip().splitlines()[-1])


def sandboxed_kernels(count: int, limits: Limits) -> list[dict]:
    """Start ``count`` kernels as the grading command does, one after the other; time each."""
    runs = []
    for _ in range(count):
        start = time.perf_counter()
        box = sandbox.fresh_kernel_sandbox(limits, sandboxed=True)
        try:
            run_sync(box.km.start_kernel)(**box.start_kwargs())
            client = BlockingKernelClient()
            client.load_connection_info(box.km.get_connection_info())
            client.start_channels()
            client.wait_for_ready(timeout=120)
            ready = time.perf_counter() - start
            seconds, facts = run_workload(client)
            client.stop_channels()
        finally:
            run_sync(box.km.shutdown_kernel)(now=True)
            box.space.cleanup()
        runs.append({"ready_s": ready, "workload_s": seconds, "facts": facts})
    return runs


def python_folders() -> list[Path]:
    """Return the folders of the Python this runs (its virtual environment and base)."""
    return sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()})


def template_command(spool: Path, limits: Limits) -> list[str]:
    """Return the bubblewrap command of the template (user namespace, CAP_SYS_ADMIN kept)."""
    cmd = ["bwrap", *sandbox.system_binds()]
    cmd += ["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for folder in python_folders():
        cmd += ["--ro-bind", str(folder), str(folder)]
    # At a fixed path outside /tmp, over which each child mounts a fresh /tmp.
    cmd += ["--bind", str(spool), SPOOL, "--dir", "/stage", "--remount-ro", "/"]
    cmd += ["--unshare-user", "--cap-add", "CAP_SYS_ADMIN", "--unshare-net", "--unshare-pid"]
    cmd += ["--unshare-ipc", "--new-session", "--die-with-parent", "--clearenv"]
    env = {
        "HOME": "/tmp",
        "MPLCONFIGDIR": "/tmp",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONNOUSERSITE": "1",
    }
    env.update(notebooks.thread_env(limits.threads))
    for name, value in env.items():
        cmd += ["--setenv", name, value]
    keep = json.dumps([str(f) for f in python_folders() if Path("/tmp") in f.parents])
    return [*cmd, sandbox.python_executable(), "-c", TEMPLATE, SPOOL, keep]


def forked_kernels(count: int, limits: Limits) -> dict:
    """Start a template, then fork ``count`` kernels from it one after the other; time each.

    Returns the template's start time (``template_s``), each kernel's figures (``runs``) and
    the template's own pipes (``template_pipes``, as ``/proc/PID/fd`` names them).
    """
    spool = Path(tempfile.mkdtemp(prefix="nn-fork-bench-"))
    start = time.perf_counter()
    template = subprocess.Popen(
        template_command(spool, limits),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert template.stdin is not None and template.stdout is not None
    try:
        if template.stdout.readline().strip() != "ready":
            raise RuntimeError("the template did not start (is bubblewrap installed?)")
        template_s = time.perf_counter() - start
        pipes = [f"pipe:[{os.fstat(f.fileno()).st_ino}]" for f in (template.stdin, template.stdout)]
        runs = []
        for index in range(count):
            start = time.perf_counter()
            folder = spool / f"k{index}"
            folder.mkdir()
            inside = f"{SPOOL}/{folder.name}"  # the same folder as the kernel sees it
            connection = folder / "kernel.json"
            write_connection_file(str(connection), transport="ipc", ip=f"{inside}/k")
            env = {"HOME": inside, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
            request = {"id": folder.name, "connection_file": f"{inside}/kernel.json", "env": env}
            request.update(memory=int(limits.memory), disk=int(limits.disk))
            template.stdin.write(json.dumps(request) + "\n")
            template.stdin.flush()
            template.stdout.readline()
            client = BlockingKernelClient()
            client.load_connection_file(str(connection))
            client.ip = str(folder / "k")  # the kernel's sockets, at their path out here
            client.start_channels()
            client.wait_for_ready(timeout=120)
            ready = time.perf_counter() - start
            seconds, facts = run_workload(client)
            client.shutdown()
            client.stop_channels()
            runs.append({"ready_s": ready, "workload_s": seconds, "facts": facts})
        return {"template_s": template_s, "runs": runs, "template_pipes": pipes}
    finally:
        template.stdin.close()
        try:
            template.wait(timeout=30)
        except subprocess.TimeoutExpired:
            template.kill()
        shutil.rmtree(spool, ignore_errors=True)


def report(sandboxed: list[dict], template_s: float, forked: list[dict]) -> list[str]:
    """Return the figures side by side, then what the last forked kernel saw."""
    lines = [
        f"{'kernel':<10} {'sandboxed: ready':>17} {'workload':>9}   {'forked: ready':>14} {'workload':>9}"
    ]
    for index, (a, b) in enumerate(zip(sandboxed, forked, strict=True)):
        lines.append(
            f"{index:<10} {a['ready_s']:15.2f} s {a['workload_s']:7.2f} s   "
            f"{b['ready_s']:12.2f} s {b['workload_s']:7.2f} s"
        )

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    lines.append(
        f"{'median':<10} {median(sandboxed, 'ready_s'):15.2f} s {median(sandboxed, 'workload_s'):7.2f} s   "
        f"{median(forked, 'ready_s'):12.2f} s {median(forked, 'workload_s'):7.2f} s"
    )
    lines.append(f"the template's own start (once per worker): {template_s:.2f} s")
    lines.append("what the last forked kernel saw:")
    lines += [f"  {key}: {value}" for key, value in forked[-1]["facts"].items()]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure both ways of starting kernels and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=4, help="kernels started each way")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if not sandbox.sandbox_available():
        print(sandbox.BWRAP_MISSING, file=sys.stderr)
        return 1
    limits = Limits(threads=1)
    sandboxed = sandboxed_kernels(args.kernels, limits)
    forked = forked_kernels(args.kernels, limits)
    print("\n".join(report(sandboxed, forked["template_s"], forked["runs"])))
    if args.json:
        args.json.write_text(json.dumps({"sandboxed": sandboxed, **forked}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
