"""Sandboxed kernels started ahead of demand, each used by exactly one submission.

Most of a grading run's time is the same start-up every time: a kernel starting in its
sandbox and importing TensorFlow. A worker keeps one kernel ready for its next job, started
in a fresh :class:`~autograder.grading.workspace.Workspace` and sandbox of its own, with the
modules the assignment imports already imported (:func:`preload_modules`, read from the
instructor's notebook, never from a submission). By default the kernel is forked from the
worker's template, which imported those modules once (:mod:`~autograder.grading.kernel_template`),
and the next one is forked while a job runs; with ``--no-fork-kernels`` it is started in
bubblewrap and imports them itself, after the job. A job takes the ready kernel, runs the
submission in it and stops it as before.

Nothing is shared between submissions: a pooled kernel is a new process in a new sandbox
that has run only the grader's imports (in the kernel, executed ``silent``: no execution
count, no history, no names left in the user namespace; or in the template, before the fork).
The process and disk watch and the total time limit start when the job takes the kernel, as
for a kernel started by the job.

One difference from a kernel started by the job: a module the pool imported is imported
before the notebook runs, so a notebook that sets an environment variable read at import
time (``KERAS_BACKEND``, ``TF_*``) before importing TensorFlow finds TensorFlow already
configured. ``--no-kernel-pool`` grades without the pool.
"""

from __future__ import annotations

import ast
import atexit
import concurrent.futures
import contextlib
import dataclasses
import logging
import threading
from typing import TYPE_CHECKING

import nbformat
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_core.utils import run_sync

from autograder.grading import kernel_template, sandbox
from autograder.grading.limits import Limits

if TYPE_CHECKING:
    from autograder.grading.options import GradingOptions

_LOG = logging.getLogger(__name__)

#: What a pooled kernel runs before it waits: import each module, leave no name behind.
_PRELOAD = """\
def _nn_preload(names):
    import importlib
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass
_nn_preload({names!r})
del _nn_preload
"""


@dataclasses.dataclass(frozen=True)
class PoolKey:
    """What a ready kernel must match to serve a job: its limits, sandbox, imports and origin.

    ``fork``: fork the kernel from the worker's template (:mod:`~autograder.grading.kernel_template`)
    when kernels are sandboxed; otherwise, or when no template can start, start it in bubblewrap.
    """

    limits: Limits
    sandboxed: bool
    preload: tuple[str, ...]
    fork: bool = False

    @property
    def forks(self) -> bool:
        """Return True when these kernels are forked from the worker's template."""
        return self.fork and self.sandboxed

    @classmethod
    def of(cls, options: GradingOptions, preload: tuple[str, ...]) -> PoolKey:
        """Return the key of the kernels a run with ``options`` uses."""
        return cls(options.limits, options.sandboxed, preload, options.fork_kernels)


def preload_modules(nb: nbformat.NotebookNode) -> tuple[str, ...]:
    """Return the modules the top level of ``nb``'s code cells imports, in order, once each.

    ``from a import b`` gives ``a`` and ``a.b`` (which may be a module); relative imports and
    cells that are not Python (magics) are skipped.
    """
    found: dict[str, None] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found[node.module] = None
                found.update(dict.fromkeys(f"{node.module}.{a.name}" for a in node.names))
    return tuple(name for name in found if "*" not in name)


def start_warm(key: PoolKey) -> sandbox.KernelSandbox:
    """Start a kernel confined as ``key`` says and import ``key.preload`` in it, silently.

    A forked kernel's template has imported them already. Raises what starting the kernel
    raised (the workspace is removed first).
    """
    box = _forked(key) if key.forks else None
    forked = box is not None
    if box is None:
        box = sandbox.fresh_kernel_sandbox(key.limits, sandboxed=key.sandboxed)
    try:
        run_sync(box.km.start_kernel)(**box.start_kwargs())
        client = BlockingKernelClient()
        client.load_connection_info(box.km.get_connection_info())
        client.start_channels()
        try:
            client.wait_for_ready(timeout=key.limits.startup_timeout)
            if key.preload and not forked:
                client.execute_interactive(
                    _PRELOAD.format(names=list(key.preload)),
                    silent=True,
                    store_history=False,
                    timeout=key.limits.cell_timeout,
                    output_hook=_drop,  # the imports' own lines (TensorFlow's start-up)
                )
        finally:
            client.stop_channels()
    except BaseException:
        discard(box)
        raise
    return box


def _forked(key: PoolKey) -> sandbox.KernelSandbox | None:
    """Return a sandbox whose kernel the worker's template forks, or None without a template."""
    try:
        return kernel_template.forked_sandbox(key)
    except (kernel_template.TemplateUnavailable, OSError) as err:
        _LOG.warning("kernels start in bubblewrap: %s", err)
        return None


def _drop(message: dict[str, object]) -> None:
    """Drop one of the warm-up's output messages (the default hook prints it here)."""


def discard(box: sandbox.KernelSandbox) -> None:
    """Stop ``box``'s kernel, if it runs, and remove its workspace."""
    with contextlib.suppress(Exception):
        run_sync(box.km.shutdown_kernel)(now=True)
    box.space.cleanup()


class KernelPool:
    """At most one ready kernel, started in a thread; :meth:`take` hands it to one job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # One long-lived thread starts the kernels: bubblewrap's --die-with-parent signals a
        # sandbox when the *thread* that started it ends, so a thread per kernel would kill it.
        self._starter = concurrent.futures.ThreadPoolExecutor(1, "nn-kernel-pool")
        self._next: tuple[PoolKey, concurrent.futures.Future[sandbox.KernelSandbox]] | None = None

    def take(self, key: PoolKey) -> sandbox.KernelSandbox | None:
        """Return the ready kernel for ``key`` (waiting for one being started), or None.

        None when no kernel is ready or being started for ``key``, or when it failed to start
        or has died since: the job then starts its own, as without a pool.
        """
        with self._lock:
            ready, self._next = self._next, None
        if ready is None:
            return None
        made_for, future = ready
        if made_for != key:
            _discard_when_done(future)
            return None
        try:
            box = future.result()
        except Exception:  # the job's own start will say what is wrong
            return None
        if not run_sync(box.km.is_alive)():
            discard(box)
            return None
        return box

    def fill(self, key: PoolKey) -> None:
        """Start a kernel for ``key`` in a thread, unless one is ready or being started."""
        with self._lock:
            if self._next is not None:
                if self._next[0] == key:
                    return
                _discard_when_done(self._next[1])
            self._next = (key, self._starter.submit(start_warm, key))

    def close(self) -> None:
        """Stop the ready kernel, or the one being started once it is."""
        with self._lock:
            ready, self._next = self._next, None
        if ready is not None:
            _discard_when_done(ready[1])


def _discard_when_done(future: concurrent.futures.Future[sandbox.KernelSandbox]) -> None:
    """Discard the kernel of ``future`` now or, if it is still starting, when it has started."""

    def done(finished: concurrent.futures.Future[sandbox.KernelSandbox]) -> None:
        if finished.exception() is None:
            discard(finished.result())

    future.add_done_callback(done)


#: This process's pool (a Dask worker's: one job at a time, so one ready kernel).
POOL = KernelPool()
atexit.register(POOL.close)


def fill(key: PoolKey) -> None:
    """Have this process's pool start a kernel for ``key`` (what ``Client.run`` sends workers)."""
    POOL.fill(key)
