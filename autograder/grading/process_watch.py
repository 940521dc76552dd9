"""Stop a kernel that starts too many processes or threads, or fills its host folders.

The limits ``prlimit`` applies hold per process; these two hold for the kernel and everything
it starts together, so a thread in the worker counts them while the notebook runs.
"""

from __future__ import annotations

import contextlib
import threading

import psutil

from autograder.grading.workspace import HOST_BYTES, Workspace


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
