"""Kernels forked from a template (``autograder.grading.kernel_template``): each gets the sandbox
a kernel started in bubblewrap gets, and neither a kernel nor its siblings can reach the
template, another kernel or the spool folder."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from autograder.grading import kernel_pool, kernel_template, sandbox
from autograder.grading.limits import Limits

needs_bwrap = pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap")

LIMITS = Limits(cell_timeout=60, total_timeout=120, threads=1, processes=64)
FORKED = kernel_pool.PoolKey(LIMITS, True, ("numpy",), fork=True)
#: What the assignment's kernels import ahead (TensorFlow, Keras, matplotlib through lab_utils).
ASSIGNMENT_IMPORTS = ("numpy", "tensorflow", "tensorflow.keras", "lab_utils", "lab_utils.data")

#: What a kernel sees of its sandbox, with its workspace's folder written ``<root>``.
SANDBOX_FACTS = """\
import json, os, resource, socket, sys
root = os.path.dirname(os.getcwd())
def writable(folder):
    probe = os.path.join(folder, ".nn-probe")
    try:
        with open(probe, "w"):
            pass
    except OSError:
        return False
    os.remove(probe)
    return True
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
folders = ["/", "/tmp", "/dev", "/dev/shm", "/usr", "/etc", "/stage", sys.prefix, root,
           os.getcwd(), os.path.join(root, "p"), os.path.join(root, "r")]
facts = {
    "capabilities": {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
    "no_new_privs": status["NoNewPrivs"].strip(),
    "uid": os.getuid(),
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "my process": os.getpid(),
    "hostname": socket.gethostname(),
    "network": sorted(name for _, name in socket.if_nameindex()),
    "limits": {n: resource.getrlimit(getattr(resource, n)) for n in
               ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE")},
    "environment": dict(os.environ),
    "path": sys.path,
    "root folder": sorted(set(os.listdir("/")) - {"stage"}),
    "tmp besides the workspace": sorted(set(os.listdir("/tmp")) - {root.split("/")[2]}),
    "workspace": sorted(os.listdir(root)),
    "writable": [folder for folder in folders if os.path.isdir(folder) and writable(folder)],
    "tmp bytes": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize,
    "shm bytes": os.statvfs("/dev/shm").f_blocks * os.statvfs("/dev/shm").f_frsize,
    "model file": os.path.isfile("model.keras"),
    "writable shared mappings": [line.split()[-1] for line in open("/proc/self/maps")
                                 if line.split()[1][1] == "w" and line.split()[1][3] == "s"],
    "preloaded": sorted(m for m in ("tensorflow", "matplotlib", "lab_utils") if m in sys.modules),
}
import tempfile, matplotlib, keras
facts["folders modules use"] = [tempfile.gettempdir(), matplotlib.get_configdir(),
                                matplotlib.get_cachedir(), keras.src.backend.config.keras_home()]
m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
m.save("model.keras")  # Keras writes its weights through a temporary folder
facts["saved"] = os.path.getsize("model.keras") > 1000
print(json.dumps(facts).replace(root, "<root>"))
"""

#: A kernel that makes a user namespace of its own and tries to uncover what its mounts hide
#: (in a forked child: only a process with one thread may make a user namespace).
UNMOUNT = """\
import ctypes, json, os
def attack():
    libc = ctypes.CDLL(None, use_errno=True)
    def umount(target):
        return "unmounted" if libc.umount2(target.encode(), 2) == 0 else os.strerror(ctypes.get_errno())
    tried = {"/tmp as it is": umount("/tmp")}
    made = libc.unshare(0x10000000 | 0x00020000) == 0  # CLONE_NEWUSER | CLONE_NEWNS
    tried["user namespace"] = "made" if made else os.strerror(ctypes.get_errno())
    for target in ("/tmp", "/proc", "/dev/shm"):
        tried[target] = umount(target)
    remounted = libc.mount(b"none", b"/", None, 32 | 4096, None) == 0  # MS_REMOUNT | MS_BIND
    tried["remount / writable"] = "remounted" if remounted else "refused"
    tried["tmp"] = os.listdir("/tmp")
    return tried
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write_end, json.dumps(attack()).encode())
    os._exit(0)
os.close(write_end)
with os.fdopen(read_end) as said:
    print(said.read())
os.waitpid(pid, 0)
"""


def _execute(client: BlockingKernelClient, code: str) -> str:
    """Run ``code`` in the kernel of ``client``; return what it printed (an error raises)."""
    printed: list[str] = []

    def keep(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise AssertionError(
                f"the kernel raised {msg['content']['ename']}: {msg['content']['evalue']}"
            )

    client.execute_interactive(code, timeout=60, output_hook=keep)
    return "".join(printed)


class Kernel:
    """A pooled kernel (started or forked) and a client connected to it."""

    def __init__(self, key: kernel_pool.PoolKey) -> None:
        self.box = kernel_pool.start_warm(key)
        self.client = BlockingKernelClient()
        self.client.load_connection_info(self.box.km.get_connection_info())
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str) -> str:
        return _execute(self.client, code)

    def facts(self, code: str) -> dict:
        return json.loads(self.run(code).strip().splitlines()[-1])

    def close(self) -> None:
        self.client.stop_channels()
        kernel_pool.discard(self.box)


@pytest.fixture
def kernels():
    """Open kernels with ``kernels(key)``; each is stopped at the end of the test."""
    opened: list[Kernel] = []

    def open_kernel(key: kernel_pool.PoolKey) -> Kernel:
        opened.append(Kernel(key))
        return opened[-1]

    yield open_kernel
    for kernel in opened:
        kernel.close()


def test_a_forked_process_is_polled_waited_and_killed_through_its_pidfd():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        process = kernel_template.ForkedProcess(child.pid)
        assert process.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
        process.kill()
        child.wait(timeout=10)  # reaped by its parent, as the template's init reaps a kernel
        assert process.wait(timeout=10) == -9
        assert process.poll() == -9
        process.kill()  # ended: nothing is signalled, not even a process that took its id
    finally:
        child.kill()
        child.wait()


@needs_bwrap
@pytest.mark.slow
def test_a_forked_kernel_gets_the_sandbox_a_started_kernel_gets(kernels):
    key = kernel_pool.PoolKey(LIMITS, True, ASSIGNMENT_IMPORTS, fork=True)
    forked = kernels(key)
    assert isinstance(forked.box.km, kernel_template.ForkedKernelManager)
    seen = forked.facts(SANDBOX_FACTS)
    started = kernels(dataclasses.replace(key, fork=False)).facts(SANDBOX_FACTS)
    # Bubblewrap leaves the bounding set (no capability can come back from it under
    # no_new_privs); a forked kernel empties it too.
    assert seen["capabilities"].pop("CapBnd") == "0000000000000000"
    started["capabilities"].pop("CapBnd")
    assert seen == started
    # And that sandbox, in full:
    assert set(seen["capabilities"].values()) == {"0000000000000000"}
    assert seen["no_new_privs"] == "1" and seen["hostname"] == "grading"
    assert seen["network"] == ["lo"]
    assert seen["writable"] == ["/tmp", "/dev/shm", "<root>", "<root>/w", "<root>/r"]
    assert seen["workspace"] == ["p", "r", "w"] and seen["model file"] and seen["saved"]
    assert seen["preloaded"] == ["lab_utils", "matplotlib", "tensorflow"]
    assert seen["folders modules use"] == [
        "<root>/w",
        "<root>/w/.matplotlib",
        "<root>/w/.matplotlib",
        "<root>/w/.keras",
    ]
    assert seen["tmp bytes"] + seen["shm bytes"] == LIMITS.disk
    assert seen["writable shared mappings"] == []  # nothing it writes reaches the template
    assert seen["limits"]["RLIMIT_AS"] == [LIMITS.memory] * 2
    declared = sandbox.kernel_environment(forked.box.space, LIMITS, sandboxed=True)
    expected = json.loads(json.dumps(declared).replace(str(forked.box.space.root), "<root>"))
    assert seen["environment"].items() >= expected.items()
    assert seen["environment"]["TF2_BEHAVIOR"] == "1"  # set by TensorFlow's import


@needs_bwrap
@pytest.mark.slow
def test_a_forked_kernel_cannot_unmount_what_hides_the_spool_and_the_template(kernels):
    kernel = kernels(FORKED)
    tried = kernel.facts(UNMOUNT)
    assert tried["/tmp as it is"] == "Operation not permitted"  # no capability left
    # In a user namespace of its own it holds every capability, over mounts locked together.
    assert tried["user namespace"] == "made"
    assert tried["/tmp"] == tried["/proc"] == tried["/dev/shm"] == "Invalid argument"
    assert tried["remount / writable"] == "refused"
    # /tmp shows the way to its own workspace (in the spool) and to a Python under /tmp only.
    ways = {
        Path(f).relative_to("/tmp").parts[0] for f in kernel_template._python_folders_under_tmp()
    }
    assert set(tried["tmp"]) == {kernel.box.space.root.parts[2], *ways}


@needs_bwrap
@pytest.mark.slow
def test_a_forked_kernel_holds_none_of_the_templates_open_files(kernels):
    kernel = kernels(FORKED)
    template = kernel_template.template_for(FORKED)
    process = template._process
    held = {f"pipe:[{os.fstat(pipe.fileno()).st_ino}]" for pipe in (process.stdin, process.stdout)}
    held.add(str(template.spool / "template.log"))  # the template's stderr
    files = kernel.facts(
        "import json, os\n"
        "found = []\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        found.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
        "    except OSError:\n"
        "        pass\n"
        "print(json.dumps(found))\n"
    )
    assert any(name.startswith("pipe:") for name in files)  # its own output capture
    assert not held & set(files)


#: A kernel that leaves a decoy: PID 1 of a PID namespace of its own, as each kernel's sandbox
#: is, to be taken for the next kernel the template forks.
DECOY = """\
import ctypes, json, os, time
libc = ctypes.CDLL(None, use_errno=True)
read_end, write_end = os.pipe()
if os.fork() == 0:
    libc.unshare(0x10000000 | 0x20000000)  # CLONE_NEWUSER | CLONE_NEWPID
    decoy = os.fork()
    if decoy == 0:
        time.sleep(120)
        os._exit(0)
    os.write(write_end, str(decoy).encode())
    time.sleep(120)
    os._exit(0)
os.close(write_end)
print(json.dumps({"decoy": int(os.read(read_end, 100))}))
"""


@needs_bwrap
@pytest.mark.slow
def test_a_kernels_decoy_namespace_is_never_taken_for_a_forked_kernel(kernels):
    template = kernel_template.template_for(FORKED)
    inner = kernels(FORKED).facts(DECOY)["decoy"]  # its id in the kernel's namespace
    decoys = [
        p.pid
        for p in psutil.Process(template._process.pid).children(recursive=True)
        if kernel_template._nspid(p.pid)[-2:] == [inner, 1]
        and len(kernel_template._nspid(p.pid)) == template._kernel_depth() + 1
    ]
    assert len(decoys) == 1, "the decoy did not start"
    try:
        found = template._host_pid(inner)
    except kernel_template.TemplateUnavailable:
        found = None
    assert found != decoys[0]
    assert kernels(FORKED).run("print('forked')").strip() == "forked"


@needs_bwrap
@pytest.mark.slow
def test_forked_kernels_alive_together_see_nothing_of_each_other(kernels):
    first, second = kernels(FORKED), kernels(FORKED)
    first.run(
        "import os, socket\n"
        "for path in ('/tmp/canary', '/dev/shm/canary', 'canary', '../r/canary'):\n"
        "    open(path, 'w').write('canary')\n"
        "held = socket.socket(socket.AF_UNIX)\n"
        "held.bind('\\0nn-canary')\n"
        "held.listen()\n"
    )
    looked = second.facts(
        "import glob, json, os, socket\n"
        "found = [p for p in ('/tmp/canary', '/dev/shm/canary', 'canary', '../r/canary') if os.path.exists(p)]\n"
        "found += glob.glob('/tmp/**/canary', recursive=True)\n"
        "probe = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    probe.connect('\\0nn-canary')\n"
        "    reached = True\n"
        "except OSError:\n"
        "    reached = False\n"
        "print(json.dumps({'found': found, 'reached': reached,\n"
        "                  'processes': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}))\n"
    )
    assert looked == {"found": [], "reached": False, "processes": [1, 2]}
    assert first.box.space.root != second.box.space.root
    assert (first.box.space.run / "canary").read_text() == "canary"  # it wrote its own folder


@needs_bwrap
@pytest.mark.slow
def test_a_kernel_that_signals_everything_it_can_leaves_the_template_forking(kernels):
    template = kernel_template.template_for(FORKED)
    kernel = kernels(FORKED)
    kernel.client.execute(
        "import os, signal\n"
        "for pid in (-1, os.getppid(), 1, 0):  # 0 last: its own process group, itself included\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    kernel.box.km.provisioner.process.wait(timeout=30)  # its sandbox ends with it
    assert template.alive()
    assert kernel_template.template_for(FORKED) is template
    assert kernels(FORKED).run("print(6 * 7)").strip() == "42"


@needs_bwrap
@pytest.mark.slow
def test_a_template_that_died_is_replaced(kernels):
    template = kernel_template.template_for(FORKED)
    template._process.kill()
    template._process.wait()
    assert kernels(FORKED).run("print('forked again')").strip() == "forked again"
    assert kernel_template.template_for(FORKED) is not template
    assert not template.spool.exists()


@needs_bwrap
@pytest.mark.slow
def test_without_a_template_the_pool_starts_kernels_in_bubblewrap(kernels, monkeypatch, caplog):
    other = kernel_pool.PoolKey(Limits(threads=1, processes=48), True, ("numpy",), fork=True)
    monkeypatch.setattr(kernel_template, "template_command", lambda *args: ["false"])
    with caplog.at_level(logging.WARNING, logger=kernel_pool.__name__):
        kernel = kernels(other)
    assert type(kernel.box.km) is sandbox.SandboxedKernelManager
    assert "kernels start in bubblewrap: the kernel template ended" in caplog.text
    assert kernel.run("print('started')").strip() == "started"
