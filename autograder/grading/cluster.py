"""Run grading jobs on Dask: a local cluster by default, or a running ``dask scheduler``.

Every part of the cluster speaks TLS with mutual authentication, never plain TCP: whoever can
talk to a Dask scheduler, nanny or worker can run any function there, and on a class hub every
student has a shell on the machine, from which loopback ports are one ``/proc/net/tcp`` away.
The local cluster gets a key and self-signed certificate made for it in memory
(``Security.temporary()``), held by no file, so only this process and the workers it starts can
connect. A running scheduler must be a ``tls://`` address, with the credentials Dask's own
configuration names (:func:`write_tls_config` writes them, ``nn-autograde cluster-tls``).
Dask's HTTP servers (the scheduler's dashboard port and each worker's) take no credentials at
all, so they serve nothing here (:data:`NO_HTTP_ROUTES`): no identity, info pages, logs or
metrics for a classmate to read.

Each job is :func:`autograder.grading.execute.run_job` for one submission. A job never raises for
what the student's code does (its kernel is a sandboxed subprocess of the worker), so an
exception here means the worker itself was lost: Dask then runs the job on another worker
(up to ``allowed-failures`` times) and only after that reports it as lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import dask
import yaml
from distributed import Client, Future, LocalCluster, as_completed
from distributed.security import Security

from autograder.grading import execute

#: Times a job may be on a worker that dies before Dask gives up on it.
ALLOWED_FAILURES = 3

#: The Dask configuration file :func:`write_tls_config` writes (``DASK_CONFIG`` names its folder).
TLS_CONFIG = "dask.yaml"
#: The parts of a Dask cluster that each present the key.
ROLES = ("scheduler", "worker", "client")
#: Dask configuration that leaves the scheduler's and workers' HTTP servers, which have no
#: authentication, without a single route (each still listens, and answers 404).
NO_HTTP_ROUTES: dict[str, dict[str, dict[str, list[str]]]] = {
    "scheduler": {"http": {"routes": []}},
    "worker": {"http": {"routes": []}},
}


class Runnable(Protocol):
    """An item :func:`run_jobs` runs: anything carrying the job to send to a worker."""

    @property
    def job(self) -> execute.Job | None: ...


Item = TypeVar("Item", bound=Runnable)


class ClusterError(RuntimeError):
    """Raise when a scheduler cannot be used safely (it is not behind TLS)."""


def check_scheduler(address: str) -> None:
    """Raise :class:`ClusterError` unless ``address`` is a TLS address (``tls://HOST:PORT``)."""
    if not address.startswith("tls://"):
        raise ClusterError(
            f"refusing the unencrypted scheduler {address}: anyone who can reach its port can "
            "run code as you. Start the scheduler and workers with TLS and give its tls:// "
            "address: `nn-autograde cluster-tls DIR` writes a key, a certificate and a Dask "
            "configuration that `export DASK_CONFIG=DIR` hands to the scheduler, the workers "
            "and this command (README, Scale-out with Dask)"
        )


def write_tls_config(folder: str | Path) -> Path:
    """Write a key, its self-signed certificate and a Dask configuration using them to ``folder``.

    Every part of a grading cluster (scheduler, workers, the grading command) that runs with
    ``DASK_CONFIG=<folder>`` then requires TLS, accepts only peers holding this key and keeps
    its scratch space in ``<folder>/scratch``; copy the folder to each worker machine as a
    secret. Returns the configuration file.
    """
    folder = Path(folder).resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    made = Security.temporary()
    for name, text, mode in (
        ("key.pem", made.tls_client_key, 0o600),
        ("cert.pem", made.tls_client_cert, 0o644),
    ):
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
    pair = {"cert": str(folder / "cert.pem"), "key": str(folder / "key.pem")}
    settings = {
        "require-encryption": True,
        "default-scheme": "tls",
        "tls": {"ca-file": pair["cert"], **{role: dict(pair) for role in ROLES}},
    }
    # Scratch space (first on each Dask server's sys.path) in this private folder, not /tmp.
    scratch = folder / "scratch"
    scratch.mkdir(mode=0o700, exist_ok=True)
    config = folder / TLS_CONFIG
    config.write_text(
        "# Written by nn-autograde cluster-tls: every part of the grading cluster speaks TLS and\n"
        "# accepts only peers holding key.pem. Copy this folder to the same path on each machine.\n"
        + yaml.safe_dump(
            {
                "temporary-directory": str(scratch),
                "distributed": {"comm": settings, **NO_HTTP_ROUTES},
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    return config


@contextlib.contextmanager
def open_client(*, workers: int, scheduler: str | None = None) -> Iterator[Client]:
    """Yield a Dask client: to ``scheduler`` if given, else to a local cluster of processes.

    The local cluster has ``workers`` single-threaded worker processes, one job each at a time,
    all behind TLS with a key made for this cluster alone, their scratch space in a private
    temporary folder. ``scheduler`` must be a ``tls://`` address; the credentials come from
    Dask's configuration (``DASK_CONFIG``).
    """
    with (
        contextlib.ExitStack() as stack,
        dask.config.set(
            {
                "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                **{f"distributed.{role}.http.routes": [] for role in NO_HTTP_ROUTES},
            }
        ),
    ):
        if scheduler:
            check_scheduler(scheduler)
            with Client(scheduler, timeout="30s", security=Security()) as client:
                yield client
            return
        # Every Dask server puts its scratch folder first on sys.path: never dask's default
        # in the shared /tmp, where a classmate could create it first and plant modules.
        scratch = stack.enter_context(
            tempfile.TemporaryDirectory(prefix="nn-dask-", ignore_cleanup_errors=True)
        )
        stack.enter_context(dask.config.set({"temporary-directory": scratch}))
        with (
            LocalCluster(
                n_workers=workers,
                local_directory=scratch,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                security=Security.temporary(),
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client


def run_jobs(
    prepared: Iterable[Item],
    *,
    on_done: Callable[[Item, execute.JobResult], None],
    on_lost: Callable[[Item, BaseException], None],
    workers: int,
    scheduler: str | Client | None = None,
    window: int | None = None,
) -> None:
    """Run each item's ``.job`` on Dask; call ``on_done(item, result)`` in this process.

    ``scheduler`` is a connected client (the watcher keeps one for its whole run), the address
    of a running scheduler, or None for a local cluster started for this call.

    Results are handled one at a time in the calling process (the single writer).
    ``on_lost(item, error)`` is called for jobs Dask gave up on. At most ``window`` jobs
    (default four per worker) are queued at once, so a large class does not flood the
    scheduler's memory with notebooks.
    """
    if not isinstance(scheduler, Client):
        with open_client(workers=workers, scheduler=scheduler) as own:
            run_jobs(
                prepared,
                on_done=on_done,
                on_lost=on_lost,
                workers=workers,
                scheduler=own,
                window=window,
            )
        return
    window = window or 4 * max(workers, len(scheduler.scheduler_info().get("workers", {})), 1)
    _run_windowed(scheduler, iter(prepared), window, on_done=on_done, on_lost=on_lost)


def _run_windowed(
    client: Client,
    items: Iterator[Item],
    window: int,
    *,
    on_done: Callable[[Item, execute.JobResult], None],
    on_lost: Callable[[Item, BaseException], None],
) -> None:
    """Keep at most ``window`` of the jobs of ``items`` queued on ``client``; handle each result."""
    pending: dict[Future[execute.JobResult], Item] = {}
    completed = as_completed()

    def submit_next() -> bool:
        item = next(items, None)
        if item is None:
            return False
        future = _submit(client, item)
        pending[future] = item
        completed.add(future)
        return True

    while len(pending) < window and submit_next():
        pass
    for future in completed:
        _hand_over(future, pending.pop(future), on_done=on_done, on_lost=on_lost)
        submit_next()


def _submit(client: Client, item: Runnable) -> Future[execute.JobResult]:
    """Submit the job of ``item`` to ``client`` under a key no other job has."""
    job = item.job
    assert job is not None, "only an item with a job is run"
    key = f"grade-{job.student}-{job.sha256[:12]}-{uuid.uuid4().hex[:8]}"
    return client.submit(execute.run_job, job, key=key, pure=False, retries=0)


def _hand_over(
    future: Future[execute.JobResult],
    item: Item,
    *,
    on_done: Callable[[Item, execute.JobResult], None],
    on_lost: Callable[[Item, BaseException], None],
) -> None:
    """Call ``on_done`` with the result of ``future``, or ``on_lost`` with why it has none."""
    try:
        result = future.result()
    except Exception as err:  # KilledWorker and friends: the worker, not the student
        on_lost(item, err)
    else:
        on_done(item, result)
    finally:
        future.release()
