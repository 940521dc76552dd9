"""Execute one submission's notebook in a sandboxed kernel: the job a Dask worker runs.

The kernel is a subprocess of the worker (inside bubblewrap), so whatever the student's code
does to it (exit, crash, run forever, exhaust memory, flood its output) ends only that
kernel: the job records a status and returns normally. Only the worker's own death makes Dask
run the job elsewhere. After the kernel has stopped, the model it saved (if any) is described
without running student code (:mod:`autograder.grading.model_file`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError

from autograder import notebooks
from autograder.grading import kernel_pool, model_file, sandbox, workspace
from autograder.grading.limits import Limits
from autograder.grading.options import GradingOptions
from autograder.grading.output_cap import CappedClient
from autograder.grading.process_watch import ProcessWatch
from autograder.kernel.protocol import Status

_MEMORY_SIGNS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "Resource exhausted")


@dataclasses.dataclass
class Execution:
    """What running a notebook produced: the executed notebook and how it ended."""

    nb: nbformat.NotebookNode
    status: Status
    reason: str
    completed: list[int]
    seconds: float
    model_facts: dict[str, Any] | None = None


def _has_memory_error(text: str) -> bool:
    return any(sign in text for sign in _MEMORY_SIGNS)


def _outputs_text(cell: nbformat.NotebookNode) -> str:
    parts: list[str] = []
    for output in cell.get("outputs", []):
        parts.append(str(output.get("ename", "")))
        parts.append(str(output.get("evalue", "")))
        parts.append(str(output.get("text", "")))
    return "\n".join(parts)


def _why_dead(
    client: CappedClient,
    watch: ProcessWatch | None,
    limits: Limits,
    index: int | None = None,
) -> tuple[Status, str]:
    """Return the status and reason for a kernel that died (while running cell ``index``)."""
    where = "the notebook" if index is None else f"cell {index}"
    if client.output_exceeded:
        return Status.OUTPUT_LIMIT, (
            f"{where} was stopped: the notebook's output passed the limit of "
            f"{limits.output_size} bytes"
        )
    if watch is not None and watch.exceeded:
        return Status.PROCESS_LIMIT, (
            f"{where} was stopped: the kernel had more than {limits.processes} processes and "
            "threads (counted together)"
        )
    if watch is not None and watch.disk_exceeded:
        return Status.DISK_LIMIT, (
            f"{where} was stopped: the kernel wrote more than {watch.host_limit} bytes (or "
            f"{workspace.HOST_ENTRIES} files and folders) outside its working folder"
        )
    return Status.KERNEL_DIED, "the kernel died" + (
        "" if index is None else f" while running {where}"
    )


def _why_stopped(
    run: notebooks.CellsRun,
    client: CappedClient,
    watch: ProcessWatch,
    limits: Limits,
) -> tuple[Status, str]:
    """Return the status and reason of a run of cells (OK and "" if it ran to the end)."""
    index, total = run.index, f"{limits.total_timeout:g} s"
    if run.stop is None:
        return Status.OK, ""
    if run.stop == notebooks.Stop.TOTAL_TIMEOUT:
        if run.error is None:
            return Status.TOTAL_TIMEOUT, f"the notebook ran past the total limit of {total}"
        return Status.TOTAL_TIMEOUT, f"cell {index} was stopped at the total limit of {total}"
    if run.stop == notebooks.Stop.CELL_TIMEOUT:
        return (
            Status.CELL_TIMEOUT,
            f"cell {index} ran past the per-cell limit of {client.timeout} s",
        )
    if run.stop == notebooks.Stop.KERNEL_DIED:
        return _why_dead(client, watch, limits, index)
    return (
        Status.KERNEL_PROTOCOL_ERROR,
        f"cell {index}: the kernel sent messages the grader cannot read ({run.error})",
    )


def _memory_error(
    nb: nbformat.NotebookNode, completed: list[int], limits: Limits
) -> tuple[Status, str]:
    """Return MEMORY and the first finished cell whose outputs say it ran out of memory."""
    for index in completed:
        if _has_memory_error(_outputs_text(nb.cells[index])):
            return Status.MEMORY, f"cell {index} ran out of memory (limit {limits.memory} bytes)"
    return Status.OK, ""


def _kernel_pid(km: AsyncKernelManager) -> int:
    """Return the process id of the kernel ``km`` started (a local subprocess)."""
    provisioner = km.provisioner
    assert isinstance(provisioner, LocalProvisioner), "the sandbox starts kernels locally"
    assert provisioner.pid is not None, "a started kernel has a process"
    return provisioner.pid


def execute(
    nb: nbformat.NotebookNode,
    *,
    limits: Limits,
    sandboxed: bool,
    stop_after: int | None = None,
    describe_model: bool = True,
    model_seed: int = 0,
    ready: sandbox.KernelSandbox | None = None,
) -> Execution:
    """Run the code cells of ``nb`` (up to index ``stop_after``) in a fresh sandboxed kernel.

    The kernel is ``ready`` (started for this run alone, :mod:`~autograder.grading.kernel_pool`)
    or one started here. With ``describe_model``, the model file the kernel saved is then
    described, with its outputs on the probe inputs of ``model_seed``
    (:mod:`autograder.grading.model_file`). Returns an :class:`Execution`; ``completed`` lists
    the indices of cells that finished.
    """
    start = time.monotonic()
    deadline = start + limits.total_timeout
    box = ready or sandbox.fresh_kernel_sandbox(limits, sandboxed=sandboxed)
    space = box.space
    client = _capped_client(nb, box, limits)
    status = Status.OK  # what the model file's description goes by if the run raised
    model_facts: dict[str, Any] | None = None
    try:
        status, reason, completed = _run_watched(
            nb, client, box, limits, deadline=deadline, stop_after=stop_after
        )
    finally:
        log_text = _stop_kernel(box)
        try:
            if describe_model and status != Status.KERNEL_STARTUP_FAILED:
                model_facts = model_file.describe(
                    space.model_file, limits, sandboxed=sandboxed, seed=model_seed
                )
        finally:
            space.cleanup()
    status, reason = _after_run(status, reason, client, log_text, limits)
    return Execution(nb, status, reason, completed, time.monotonic() - start, model_facts)


def _capped_client(
    nb: nbformat.NotebookNode, box: sandbox.KernelSandbox, limits: Limits
) -> CappedClient:
    """Return the client that runs ``nb`` in ``box``'s kernel under ``limits``."""
    return CappedClient(
        nb,
        output_limit=limits.output_size,
        km=box.km,
        timeout=limits.cell_timeout,
        startup_timeout=int(limits.startup_timeout),
        allow_errors=True,
        record_timing=False,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(box.space.work)}},
    )


def _run_watched(
    nb: nbformat.NotebookNode,
    client: CappedClient,
    box: sandbox.KernelSandbox,
    limits: Limits,
    *,
    deadline: float,
    stop_after: int | None,
) -> tuple[Status, str, list[int]]:
    """Start the kernel, run the cells under a :class:`ProcessWatch`; return how the run ended.

    Returns the status, its reason and the indices of the cells that finished.
    """
    status, reason, completed = Status.OK, "", []
    watch: ProcessWatch | None = None
    try:
        # A pooled kernel is already running: nbclient then only connects to it.
        with client.setup_kernel(**({} if box.km.has_kernel else box.start_kwargs())):
            watch = ProcessWatch(_kernel_pid(box.km), limits.processes, space=box.space)
            watch.start()
            run = notebooks.run_cells(
                client, cell_timeout=limits.cell_timeout, deadline=deadline, stop_after=stop_after
            )
            completed = run.completed
            status, reason = _why_stopped(run, client, watch, limits)
            if status == Status.OK:
                status, reason = _memory_error(nb, completed, limits)
    except DeadKernelError:
        status, reason = _why_dead(client, watch, limits)
    except (RuntimeError, TimeoutError) as err:
        if status == Status.OK:
            status, reason = Status.KERNEL_STARTUP_FAILED, f"the kernel did not start: {err}"
    finally:
        if watch is not None:
            watch.stop()
    return status, reason, completed


def _stop_kernel(box: sandbox.KernelSandbox) -> str:
    """Stop the kernel of ``box`` and return the end of its log."""
    # nbclient leaves a kernel manager it was given running: stop the sandbox ourselves.
    with contextlib.suppress(Exception):
        run_sync(box.km.shutdown_kernel)(now=True)
    log = box.space.root / "kernel.log"
    return log.read_text(errors="replace")[-20000:] if log.exists() else ""


def _after_run(
    status: Status, reason: str, client: CappedClient, log_text: str, limits: Limits
) -> tuple[Status, str]:
    """Return the run's status and reason with what the client and the kernel's log add."""
    if status == Status.OK and client.bad_messages:
        reason = f"{client.bad_messages} kernel messages the Jupyter protocol does not allow were dropped"
    if status == Status.KERNEL_DIED and _has_memory_error(log_text):
        status = Status.MEMORY
        reason = f"{reason}: out of memory (limit {limits.memory} bytes)"
    return status, reason


@dataclasses.dataclass(frozen=True)
class Job:
    """One submission to run, as the driver sends it to a worker.

    Attributes:
        notebook: the notebook's JSON text, graded cells already rewritten by the driver.
        options: the run's options (limits, sandbox, whether to describe the model file).
        stop_after: index of the last cell to run (None: all).
        model_seed: the seed of the model file's probe inputs.
        preload: the modules a pooled kernel imports before it waits (the assignment's).
        warm_next: after this job, start a kernel for the next one (more work is expected).
    """

    student: str
    sha256: str
    notebook: str
    options: GradingOptions
    stop_after: int | None
    model_seed: int
    preload: tuple[str, ...] = ()
    warm_next: bool = False

    @property
    def pool_key(self) -> kernel_pool.PoolKey:
        """Return what a ready kernel must match to run this job."""
        return kernel_pool.PoolKey.of(self.options, self.preload)


@dataclasses.dataclass(frozen=True)
class JobResult:
    """What a worker sends back: the executed notebook and how the run ended."""

    student: str
    sha256: str
    notebook: str
    status: Status
    reason: str
    completed: list[int]
    seconds: float
    model_facts: dict[str, Any] | None
    worker: str


def run_job(job: Job) -> JobResult:
    """Execute one submission; never raise for anything the submission does.

    Raises RuntimeError when the kernel cannot start at all (a machine fault).
    """
    pool = kernel_pool.POOL if job.options.kernel_pool else None
    key = job.pool_key
    ready = pool.take(key) if pool else None
    if pool is not None and ready is None and key.forks:
        # The worker's first job: its template starts now, at about a started kernel's cost.
        pool.fill(key)
        ready = pool.take(key)
    # A fork costs little: the next kernel is readied while this job runs. A kernel started
    # in bubblewrap costs seconds of CPU, so it is started once this job is done.
    early = job.warm_next and key.forks
    if pool is not None and early:
        pool.fill(key)
    try:
        result = execute(
            nbformat.reads(job.notebook, as_version=4),
            limits=job.options.limits,
            sandboxed=job.options.sandboxed,
            stop_after=job.stop_after,
            describe_model=job.options.verify_model_file,
            model_seed=job.model_seed,
            ready=ready,
        )
    finally:
        if pool and job.warm_next and not early:
            pool.fill(key)
    if result.status == Status.KERNEL_STARTUP_FAILED:
        # No student code has run yet: this is the machine's problem (e.g. bwrap cannot create
        # namespaces here), so report it as a grading error instead of scoring zero.
        raise RuntimeError(f"{socket.gethostname()}: {result.reason}")
    return JobResult(
        student=job.student,
        sha256=job.sha256,
        notebook=nbformat.writes(result.nb),
        status=result.status,
        reason=result.reason,
        completed=result.completed,
        seconds=result.seconds,
        model_facts=result.model_facts,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )
