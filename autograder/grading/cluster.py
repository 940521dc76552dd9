"""Run grading jobs on Dask: a local cluster by default, or a running ``dask scheduler``.

Each job is :func:`autograder.grading.execute.run_job` for one submission. A job never raises for
what the student's code does (its kernel is a sandboxed subprocess of the worker), so an
exception here means the worker itself was lost: Dask then runs the job on another worker
(up to ``allowed-failures`` times) and only after that reports it as lost.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator

import dask
from distributed import Client, LocalCluster, as_completed

from autograder.grading import execute

#: Times a job may be on a worker that dies before Dask gives up on it.
ALLOWED_FAILURES = 3


@contextlib.contextmanager
def open_client(*, workers: int, scheduler: str | None = None) -> Iterator[Client]:
    """Yield a Dask client: to ``scheduler`` if given, else to a local cluster of processes.

    The local cluster has ``workers`` single-threaded worker processes, one job each at a time.
    """
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if scheduler:
            with Client(scheduler, timeout="30s") as client:
                yield client
            return
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client


def run_jobs(
    prepared: Iterable,
    *,
    on_done: Callable,
    on_lost: Callable,
    workers: int,
    scheduler: str | None = None,
    client: Client | None = None,
    window: int | None = None,
) -> None:
    """Run each item's ``.job`` on Dask; call ``on_done(item, result)`` in this process.

    Results are handled one at a time in the calling process (the single writer).
    ``on_lost(item, error)`` is called for jobs Dask gave up on. At most ``window`` jobs
    (default four per worker) are queued at once, so a large class does not flood the
    scheduler's memory with notebooks.
    """
    if client is None:
        with open_client(workers=workers, scheduler=scheduler) as own:
            run_jobs(
                prepared,
                on_done=on_done,
                on_lost=on_lost,
                workers=workers,
                client=own,
                window=window,
            )
        return
    window = window or 4 * max(workers, len(client.scheduler_info().get("workers", {})), 1)
    items = iter(prepared)
    pending: dict = {}
    completed = as_completed()

    def submit_next() -> bool:
        item = next(items, None)
        if item is None:
            return False
        key = f"grade-{item.job.student}-{item.job.sha256[:12]}-{uuid.uuid4().hex[:8]}"
        future = client.submit(execute.run_job, item.job, key=key, pure=False, retries=0)
        pending[future] = item
        completed.add(future)
        return True

    while len(pending) < window and submit_next():
        pass
    for future in completed:
        item = pending.pop(future)
        try:
            result = future.result()
        except Exception as err:  # KilledWorker and friends: the worker, not the student
            on_lost(item, err)
        else:
            on_done(item, result)
        finally:
            future.release()
        submit_next()
