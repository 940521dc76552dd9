"""Kernels started ahead (``autograder.grading.kernel_pool``): nothing one submission does in its
kernel reaches the next, and every limit applies to a pooled kernel as to one started by the job."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from autograder.grading import execute, kernel_pool, kernel_template, sandbox
from autograder.grading.limits import Limits
from autograder.kernel.protocol import Status

LIMITS = Limits(cell_timeout=60, total_timeout=120, threads=1, processes=64)
KEY = kernel_pool.PoolKey(LIMITS, sandboxed=True, preload=("numpy",))

needs_bwrap = pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap")

#: What the previous submission leaves behind, everywhere a kernel can reach.
LEAVE_BEHIND = """\
import builtins, os, random, threading, time
import numpy as np
np.mean = lambda *args, **kwargs: 42.0
builtins.LEFT_BEHIND = "canary"
os.environ["LEFT_BEHIND"] = "canary"
for path in ("left_behind.txt", "/tmp/left_behind.txt", "/dev/shm/left_behind.txt"):
    with open(path, "w") as handle:
        handle.write("canary")
np.random.seed(1234)
random.seed(1234)
threading.Thread(target=time.sleep, args=(600,), name="left-behind", daemon=True).start()
LEFT_IN_GLOBALS = "canary"
print("left behind")
"""

#: What the next submission looks at, first thing in its kernel.
LOOK = """\
import sys
preloaded = "numpy" in sys.modules
import builtins, json, os, random, threading
import numpy as np
print(json.dumps({
    "preloaded": preloaded,
    "mean": float(np.mean([1.0, 2.0])),
    "builtin": hasattr(builtins, "LEFT_BEHIND"),
    "environ": os.environ.get("LEFT_BEHIND"),
    "files": [os.path.exists(p) for p in ("left_behind.txt", "/tmp/left_behind.txt",
                                           "/dev/shm/left_behind.txt")],
    "np_random": float(np.random.rand()),
    "random": random.random(),
    "threads": [t.name for t in threading.enumerate()],
    "names": sorted(n for n in globals() if not n.startswith("_") and n not in
                    ("In", "Out", "exit", "quit", "get_ipython", "preloaded")),
}))
"""


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    return nb


@pytest.fixture(params=[False, True], ids=["started", "forked"])
def fork(request):
    """Whether the pool forks its kernels from a template or starts each in bubblewrap."""
    return request.param


def _run(
    pool: kernel_pool.KernelPool | None, *sources: str, limits: Limits = LIMITS, fork: bool = False
):
    ready = None
    if pool is not None:
        key = kernel_pool.PoolKey(limits, True, KEY.preload, fork)
        pool.fill(key)
        ready = pool.take(key)
        assert ready is not None, "the pool started no kernel"
        assert fork == isinstance(ready.km, kernel_template.ForkedKernelManager)
    return execute.execute(_notebook(*sources), limits=limits, sandboxed=True, ready=ready)


def _looked(run: execute.Execution) -> dict:
    assert run.status == Status.OK, run.reason
    return json.loads(run.nb.cells[0].outputs[0]["text"])


def test_preload_modules_are_the_notebooks_top_level_imports_once_each():
    nb = _notebook(
        "%matplotlib widget\nimport os\nimport numpy as np\nfrom tensorflow.keras import layers",
        "import numpy\nfrom . import sibling\ndef f():\n    import hidden\n",
        "this is not python (",
        "from lab_utils import data, style\nfrom x import *",
    )
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("import markdown_is_not_code"))
    assert kernel_pool.preload_modules(nb) == (
        "os",
        "numpy",
        "tensorflow.keras",
        "tensorflow.keras.layers",
        "lab_utils",
        "lab_utils.data",
        "lab_utils.style",
        "x",
    )


@needs_bwrap
@pytest.mark.slow
def test_nothing_a_submission_does_in_a_pooled_kernel_reaches_the_next_one(fork):
    pool = kernel_pool.KernelPool()
    try:
        first = _run(pool, LEAVE_BEHIND, fork=fork)
        assert first.status == Status.OK and "left behind" in json.dumps(first.nb.cells[0].outputs)
        pooled = _looked(_run(pool, LOOK, fork=fork))
    finally:
        pool.close()
    cold = _looked(_run(None, LOOK))
    assert pooled["preloaded"], "the pooled kernel had not imported the assignment's modules"
    assert pooled["mean"] == 1.5 and not pooled["builtin"] and pooled["environ"] is None
    assert pooled["files"] == [False, False, False]
    assert pooled["np_random"] != 0.1915194503788923  # np.random.seed(1234)'s first draw
    assert pooled["random"] != 0.9664535356921388  # random.seed(1234)'s first draw
    assert "left-behind" not in pooled["threads"]
    # The names a cell sees, and its execution count, are those of a kernel started for it.
    assert pooled["names"] == cold["names"]


@needs_bwrap
@pytest.mark.slow
def test_a_pooled_kernels_first_cell_counts_one_as_in_a_fresh_kernel(fork):
    pool = kernel_pool.KernelPool()
    try:
        run = _run(pool, "1 + 1", fork=fork)
    finally:
        pool.close()
    assert run.status == Status.OK, run.reason
    assert run.nb.cells[0].execution_count == 1


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "status", "limits", "completed"),
    [
        (
            "import subprocess, time\nkids = [subprocess.Popen(['sleep', '60']) for _ in range(20)]\n"
            "time.sleep(60)",
            Status.PROCESS_LIMIT,
            Limits(cell_timeout=60, total_timeout=120, threads=1, processes=24),
            [0],
        ),
        # The MemoryError ends the cell, which counts as finished; the status says why.
        (
            "x = bytearray(3 * 1024**3)",
            Status.MEMORY,
            Limits(threads=1, memory=2 * 1024**3),
            [0, 1],
        ),
        (
            "import time\ntime.sleep(30)",
            Status.TOTAL_TIMEOUT,
            Limits(cell_timeout=60, total_timeout=8, threads=1),
            [0],
        ),
    ],
    ids=["processes", "memory", "total-time"],
)
def test_each_limit_applies_in_a_pooled_kernel(source, status, limits, completed, fork):
    pool = kernel_pool.KernelPool()
    try:
        pool.fill(kernel_pool.PoolKey(limits, True, KEY.preload, fork))
        time.sleep(4)  # a kernel waits in the pool: that is not the job's time (8 s at most)
        run = _run(pool, "print('first')", source, limits=limits, fork=fork)
    finally:
        pool.close()
    assert run.status == status, run.reason
    assert run.completed == completed


@needs_bwrap
def test_a_kernel_started_for_other_limits_is_not_handed_out():
    pool = kernel_pool.KernelPool()
    other = kernel_pool.PoolKey(Limits(threads=1, memory=3 * 1024**3), True, KEY.preload)
    try:
        pool.fill(other)
        assert pool.take(KEY) is None
        assert pool.take(other) is None  # taken off when it did not match: nothing is ready
        pool.fill(other)
        matching = pool.take(other)
        assert matching is not None, "a kernel started for the same limits is handed out"
        kernel_pool.discard(matching)
    finally:
        pool.close()
