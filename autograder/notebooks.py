"""Run a notebook's cells in a Jupyter kernel: the core the grader and the course runner share.

:func:`run_cells` executes the code cells of a notebook one by one through an nbclient
client, with a per-cell limit and an optional deadline for the whole notebook, and says how
the run ended (:class:`CellsRun`) instead of raising. The grader
(:mod:`autograder.grading.execute`) runs it in a sandboxed kernel on a hostile notebook; the
course runner (:mod:`autograder.runner`) and the tests run it on the course's own notebooks.
Imports nothing else of ours.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import time
from pathlib import Path
from typing import IO

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


class Stop(str, enum.Enum):
    """Why a run of cells ended before its last cell."""

    CELL_TIMEOUT = "cell_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    KERNEL_DIED = "kernel_died"
    CELL_ERROR = "cell_error"
    PROTOCOL_ERROR = "protocol_error"


@dataclasses.dataclass
class CellsRun:
    """How a run of cells ended: the cells that finished, and where and why it stopped."""

    completed: list[int]
    stop: Stop | None = None
    index: int | None = None
    error: BaseException | None = None


def run_cells(
    client: NotebookClient,
    *,
    cell_timeout: float,
    deadline: float | None = None,
    stop_after: int | None = None,
) -> CellsRun:
    """Execute the code cells of ``client.nb`` (up to index ``stop_after``) in its kernel.

    Each cell may run ``cell_timeout`` seconds, and none past ``deadline`` (a
    :func:`time.monotonic` value). With ``client.allow_errors`` False, the first cell that
    raises stops the run (:attr:`Stop.CELL_ERROR`). The kernel must be started
    (``client.setup_kernel()``).
    """
    completed: list[int] = []
    for index, cell in enumerate(client.nb.cells):
        if stop_after is not None and index > stop_after:
            break
        if cell.cell_type != "code":
            continue
        remaining = cell_timeout if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return CellsRun(completed, Stop.TOTAL_TIMEOUT, index)
        client.timeout = max(1, int(min(cell_timeout, remaining)))
        try:
            client.execute_cell(cell, index)
        except CellTimeoutError as err:
            stop = Stop.TOTAL_TIMEOUT if client.timeout < cell_timeout else Stop.CELL_TIMEOUT
            return CellsRun(completed, stop, index, err)
        except DeadKernelError as err:
            return CellsRun(completed, Stop.KERNEL_DIED, index, err)
        except CellExecutionError as err:
            return CellsRun(completed, Stop.CELL_ERROR, index, err)
        except Exception as err:  # the kernel's messages broke the client
            return CellsRun(completed, Stop.PROTOCOL_ERROR, index, err)
        completed.append(index)
    return CellsRun(completed)


def thread_env(threads: int) -> dict[str, str]:
    """Return the environment that holds OpenMP, BLAS and TensorFlow to ``threads`` threads."""
    value = str(max(1, threads))
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    names += ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")  # type: ignore[assignment]
    return dict.fromkeys(names, value)


def error_lines(nb: nbformat.NotebookNode) -> list[str]:
    """Return one line per error output, naming the cell (1-based) and its first source line."""
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                found.append(
                    f"cell {number} ({first.strip()[:40]!r}): {out.get('ename')}: {out.get('evalue')}"
                )
    return found


def execute_notebook(
    nb: nbformat.NotebookNode,
    *,
    cwd: str | Path,
    cell_timeout: float,
    kernel_name: str = "python3",
    kernel_log: IO[bytes] | None = None,
) -> CellsRun:
    """Execute a trusted notebook top to bottom in a fresh kernel, outputs stored in ``nb``.

    Stops at the first cell that raises. ``kernel_log`` (an open file) receives what the
    kernel process writes to its stderr (TensorFlow's start-up lines) instead of the terminal.
    """
    client = NotebookClient(
        nb, kernel_name=kernel_name, resources={"metadata": {"path": os.fspath(cwd)}}
    )
    start_kwargs = {"stderr": kernel_log} if kernel_log is not None else {}
    try:
        with client.setup_kernel(**start_kwargs):
            assert client.kc is not None, "setup_kernel starts a kernel client"
            info = client.wait_for_reply(client.kc.kernel_info())
            if info is not None and "language_info" in info["content"]:
                nb.metadata["language_info"] = info["content"]["language_info"]
            run = run_cells(client, cell_timeout=cell_timeout)
            client.set_widgets_metadata()
    except (DeadKernelError, RuntimeError, TimeoutError) as err:  # did not start, or died
        return CellsRun([], Stop.KERNEL_DIED, None, err)
    return run
