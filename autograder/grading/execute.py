"""Execute one submission's notebook in a sandboxed kernel: the job a Dask worker runs.

The kernel is a subprocess of the worker (inside bubblewrap), so whatever the student's code
does to it (exit, crash, run forever, exhaust memory, flood its output) ends only that
kernel: the job records a status and returns normally. Only the worker's own death makes Dask
run the job elsewhere. After the kernel has stopped, the model it saved (if any) is described
without running student code (:mod:`autograder.grading.model_file`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard

import nbformat
import zmq
from jupyter_client.client import KernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from jupyter_core.utils import ensure_async, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, DeadKernelError

from autograder import notebooks
from autograder.grading import model_file, sandbox
from autograder.grading.options import GradingOptions
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


#: Messages a client socket queues before it drops (iopub) or stops taking (replies) more; a
#: grading kernel sends a few per cell, a flood is stopped at the output cap.
RECEIVE_QUEUE = 64


def _message_size(msg: dict[str, Any]) -> int:
    """Return about how many bytes a kernel message took on the wire (content and buffers)."""
    size = len(json.dumps(msg.get("content"), default=str))
    for buffer in msg.get("buffers") or ():
        size += memoryview(buffer).nbytes
    return size


def _well_formed(msg: object) -> TypeGuard[dict[str, Any]]:
    """Return True for a message shaped as the Jupyter protocol says (nbclient relies on it)."""
    return (
        isinstance(msg, dict)
        and isinstance(msg.get("msg_type"), str)
        and isinstance(msg.get("content"), dict)
        and isinstance(msg.get("header"), dict)
        and isinstance(msg.get("parent_header"), dict)
        and isinstance(msg.get("metadata", {}), dict)
    )


class CappedClient(NotebookClient):
    """An nbclient that counts every byte the kernel sends and stops it past ``output_limit``.

    Every message received on the kernel's output and reply channels counts, whatever its type
    or parent (widget updates and messages addressed to no cell included), and no single
    message may exceed the limit (``ZMQ_MAXMSGSIZE``): a cell printing in a loop, or a flood of
    widget state, cannot fill the worker's memory while the cell timeout runs. Widget state
    is not kept, and a message the Jupyter protocol does not allow is dropped and counted in
    ``bad_messages`` instead of stopping the grading.
    """

    def __init__(
        self,
        nb: nbformat.NotebookNode,
        *,
        km: AsyncKernelManager,
        output_limit: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(nb, km=km, store_widget_state=False, **kwargs)
        self.comm_open_handlers = {}
        self.output_limit = output_limit
        self.received_bytes = 0
        self.output_exceeded = False
        self.bad_messages = 0
        # The message that crossed the limit, and how many bytes of it still fit.
        self._crossing: tuple[int, int] | None = None

    def _manager(self) -> AsyncKernelManager:
        """Return the kernel manager: the one given, which nbclient keeps (it does not own it)."""
        assert isinstance(self.km, AsyncKernelManager), "CappedClient is given its kernel manager"
        return self.km

    async def async_start_new_kernel_client(self) -> KernelClient:
        # Before the client's sockets exist, so the limits apply to each of them: no frame
        # larger than the whole cap, and at most RECEIVE_QUEUE messages waiting to be counted.
        context = self._manager().context
        context.setsockopt(zmq.MAXMSGSIZE, self.output_limit + 65536)
        context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.iopub_channel, kc.shell_channel):
            channel.get_msg = self._counted(channel.get_msg)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _counted(self, get_msg: Callable[..., Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def get_counted_msg(*args: Any, **kwargs: Any) -> dict[str, Any]:
            while True:
                msg = await ensure_async(get_msg(*args, **kwargs))
                if not _well_formed(msg):
                    self.bad_messages += 1
                    continue
                self._count(msg)
                return msg

        return get_counted_msg

    def _count(self, msg: dict[str, Any]) -> None:
        remaining = self.output_limit - self.received_bytes
        self.received_bytes += _message_size(msg)
        if self.received_bytes > self.output_limit and not self.output_exceeded:
            self.output_exceeded = True
            self._crossing = (id(msg), max(0, remaining))
            # Stopping the kernel ends the cell: nbclient then raises DeadKernelError.
            self._stop_task = asyncio.ensure_future(self._manager().shutdown_kernel(now=True))

    def process_message(
        self, msg: dict[str, Any], cell: nbformat.NotebookNode, cell_index: int
    ) -> nbformat.NotebookNode | None:
        # _crossing is set with output_exceeded, once the output has passed the limit.
        if self._crossing is not None and msg["msg_type"] != "status":
            crossing_id, fits = self._crossing
            if id(msg) != crossing_id or msg["msg_type"] != "stream":
                return None
            # Keep the text up to the limit, so the feedback shows where it stopped.
            text = str(msg["content"].get("text", ""))[:fits]
            msg["content"]["text"] = f"{text}\n[output stopped: over {self.output_limit} bytes]\n"
        try:
            return super().process_message(msg, cell, cell_index)
        except CellControlSignal:
            raise
        except Exception:  # an output nbformat rejects (e.g. `data` that is a list): drop it
            self.bad_messages += 1
            return None

    def handle_comm_msg(
        self, outs: list[nbformat.NotebookNode], msg: dict[str, Any], cell_index: int
    ) -> None:
        """Ignore widget messages: grading keeps no widget state."""


def _why_dead(
    client: CappedClient,
    watch: sandbox.ProcessWatch | None,
    limits: sandbox.Limits,
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
            f"{sandbox.HOST_ENTRIES} files and folders) outside its working folder"
        )
    return Status.KERNEL_DIED, "the kernel died" + (
        "" if index is None else f" while running {where}"
    )


def _why_stopped(
    run: notebooks.CellsRun,
    client: CappedClient,
    watch: sandbox.ProcessWatch,
    limits: sandbox.Limits,
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
    nb: nbformat.NotebookNode, completed: list[int], limits: sandbox.Limits
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
    limits: sandbox.Limits,
    sandboxed: bool,
    stop_after: int | None = None,
    describe_model: bool = True,
    model_seed: int = 0,
) -> Execution:
    """Run the code cells of ``nb`` (up to index ``stop_after``) in a fresh sandboxed kernel.

    With ``describe_model``, the model file the kernel saved is then described, with its
    outputs on the probe inputs of ``model_seed`` (:mod:`autograder.grading.model_file`). Returns an :class:`Execution`; ``completed``
    lists the indices of cells that finished.
    """
    start = time.monotonic()
    deadline = start + limits.total_timeout
    space = sandbox.make_workspace()
    sandbox.stage_digits(space)
    box = sandbox.kernel_sandbox(space, limits, sandboxed=sandboxed)
    client = CappedClient(
        nb,
        output_limit=limits.output_size,
        km=box.km,
        timeout=limits.cell_timeout,
        startup_timeout=int(limits.startup_timeout),
        allow_errors=True,
        record_timing=False,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(space.work)}},
    )
    status, reason, completed = Status.OK, "", []
    model_facts: dict[str, Any] | None = None
    watch: sandbox.ProcessWatch | None = None
    try:
        with client.setup_kernel(**box.start_kwargs()):
            watch = sandbox.ProcessWatch(_kernel_pid(box.km), limits.processes, space=space)
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
        # nbclient leaves a kernel manager it was given running: stop the sandbox ourselves.
        with contextlib.suppress(Exception):
            run_sync(box.km.shutdown_kernel)(now=True)
        log = space.root / "kernel.log"
        log_text = log.read_text(errors="replace")[-20000:] if log.exists() else ""
        try:
            if describe_model and status != Status.KERNEL_STARTUP_FAILED:
                model_facts = model_file.describe(
                    space.model_file, limits, sandboxed=sandboxed, seed=model_seed
                )
        finally:
            space.cleanup()
    if status == Status.OK and client.bad_messages:
        reason = f"{client.bad_messages} kernel messages the Jupyter protocol does not allow were dropped"
    if status == Status.KERNEL_DIED and _has_memory_error(log_text):
        status = Status.MEMORY
        reason = f"{reason}: out of memory (limit {limits.memory} bytes)"
    return Execution(nb, status, reason, completed, time.monotonic() - start, model_facts)


@dataclasses.dataclass(frozen=True)
class Job:
    """One submission to run, as the driver sends it to a worker.

    Attributes:
        notebook: the notebook's JSON text, graded cells already rewritten by the driver.
        options: the run's options (limits, sandbox, whether to describe the model file).
        stop_after: index of the last cell to run (None: all).
        model_seed: the seed of the model file's probe inputs.
    """

    student: str
    sha256: str
    notebook: str
    options: GradingOptions
    stop_after: int | None
    model_seed: int


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
    result = execute(
        nbformat.reads(job.notebook, as_version=4),
        limits=job.options.limits,
        sandboxed=job.options.sandboxed,
        stop_after=job.stop_after,
        describe_model=job.options.verify_model_file,
        model_seed=job.model_seed,
    )
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
