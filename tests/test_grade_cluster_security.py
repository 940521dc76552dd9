"""The grading cluster under a hostile classmate: nobody but the grader can use its ports.

On a class hub every student has a shell on the machine that runs the watcher, so every port of
its Dask cluster (scheduler, nannies, workers) is reachable from their terminal: a student
finds them in ``/proc/net/tcp``. Whoever can talk to a Dask scheduler or worker can run any
function there, as the instructor. These tests play that student against the cluster the
watcher and the grading command start, and against the addresses they accept.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import urllib.error
import urllib.request
from pathlib import Path

import dask
import psutil
import pytest
from distributed import Client
from distributed.core import rpc
from distributed.security import Security
from distributed.utils import sync

from autograder.grading import cluster

pytestmark = pytest.mark.timeout(120)


def _plant(marker: str) -> str:
    Path(marker).write_text("ran as the grader")
    return "planted"


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _try_scheduler(address: str, marker: Path, security: Security | None = None) -> None:
    """Connect to ``address`` as a client and run ``_plant`` on the scheduler, if it lets us."""
    try:
        with Client(address, timeout=5, security=security) as attacker:
            attacker.run_on_scheduler(_plant, str(marker))
    except Exception:  # refused, in whichever way: what we want
        pass


def _try_worker(address: str, marker: Path, security: Security | None = None) -> None:
    """Call a worker's or nanny's ``run`` handler at ``address``, if it lets us."""
    connection_args = security.get_connection_args("client") if security else {}

    async def attack() -> None:
        async with rpc(address, timeout=5, connection_args=connection_args) as remote:
            await remote.run(function=pickle.dumps(_plant), args=pickle.dumps((str(marker),)))

    from distributed.utils import LoopRunner

    runner = LoopRunner(asynchronous=False)
    runner.start()
    try:
        sync(runner.loop, attack)
    except Exception:  # refused, in whichever way: what we want
        pass
    finally:
        runner.stop()


@pytest.fixture(scope="module")
def grading_cluster():
    """Yield (client, addresses of every listening part) of the grader's local cluster."""
    with cluster.open_client(workers=1) as client:
        info = client.scheduler_info()
        workers = list(info["workers"])
        nannies = [w["nanny"] for w in info["workers"].values() if w.get("nanny")]
        yield client, client.scheduler.address, [*workers, *nannies]


def test_the_local_cluster_listens_with_tls_only(grading_cluster):
    _, scheduler, others = grading_cluster
    assert scheduler.startswith("tls://127.0.0.1:"), scheduler
    assert others and all(a.startswith("tls://") for a in others), others


#: How a classmate comes: over plain TCP, or over TLS with a key and certificate of their own.
ATTACKERS = pytest.mark.parametrize(
    "scheme, credentials",
    [("tcp", lambda: None), ("tls", Security.temporary)],
    ids=["over_plain_tcp", "with_their_own_certificate"],
)


@ATTACKERS
def test_a_classmate_cannot_run_code_on_the_local_scheduler(
    grading_cluster, tmp_path, scheme, credentials
):
    _, scheduler, _ = grading_cluster
    marker = tmp_path / "owned"
    _try_scheduler(f"{scheme}://127.0.0.1:{_port(scheduler)}", marker, credentials())
    assert not marker.exists()


@ATTACKERS
def test_a_classmate_cannot_run_code_on_a_local_worker_or_nanny(
    grading_cluster, tmp_path, scheme, credentials
):
    _, _, others = grading_cluster
    marker = tmp_path / "owned"
    for address in others:
        _try_worker(f"{scheme}://127.0.0.1:{_port(address)}", marker, credentials())
    assert not marker.exists()


#: What Dask serves over plain, unauthenticated HTTP by default: a health check, the
#: scheduler's identity and task counts, its info pages (workers, call stacks, logs) and metrics.
HTTP_ROUTES = ("/health", "/json/identity.json", "/info/main/workers.html", "/metrics")


def listening_ports(pid: int, *, descendants: bool = True) -> set[int]:
    """Return the TCP ports process ``pid`` (and its descendants) listen on."""
    root = psutil.Process(pid)
    return {
        conn.laddr.port
        for proc in (root, *(root.children(recursive=True) if descendants else ()))
        for conn in proc.net_connections("tcp")
        if conn.status == psutil.CONN_LISTEN
    }


def http_answers(ports: set[int]) -> list[str]:
    """Return ``port route`` for each of :data:`HTTP_ROUTES` a port answers over plain HTTP."""
    answered = []
    for port in sorted(ports):
        for route in HTTP_ROUTES:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{route}", timeout=3) as reply:
                    answered.append(f"{port} {route} ({reply.status})")
            except (urllib.error.URLError, OSError, ValueError):
                pass  # refused, not HTTP, or 404: nothing served
    return answered


def test_no_port_of_the_local_cluster_serves_a_classmate_anything_over_http(grading_cluster):
    client, _, _ = grading_cluster
    # The scheduler and the nanny run in this process, the worker in a process of its own.
    cluster_pids = {os.getpid(), *client.run(os.getpid).values()}
    ports = set().union(*(listening_ports(pid, descendants=False) for pid in cluster_pids))
    assert len(ports) >= 3, ports  # the scheduler, the nanny, the worker at least
    assert http_answers(ports) == []


def test_the_grader_itself_still_runs_jobs_on_its_cluster(grading_cluster):
    client, _, _ = grading_cluster
    assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "ws://h:1"])
def test_an_unencrypted_scheduler_address_is_refused_with_how_to_secure_it(address):
    with (
        pytest.raises(cluster.ClusterError, match=r"tls://.*cluster-tls"),
        cluster.open_client(workers=1, scheduler=address),
    ):
        pass


def test_grade_command_refuses_a_plain_tcp_scheduler_before_grading_anything(tmp_path, capsys):
    from autograder import __main__ as cli

    code = cli.main(
        ["grade", "A", "--course-root", str(tmp_path), "--scheduler", "tcp://127.0.0.1:8786"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "refusing the unencrypted scheduler tcp://127.0.0.1:8786" in err
    assert not (tmp_path / "gradebook.db").exists() and not (tmp_path / "reports").exists()


def test_cluster_tls_writes_a_private_key_and_a_config_that_requires_tls(tmp_path):
    folder = tmp_path / "tls"
    config = cluster.write_tls_config(folder)
    assert config == folder / cluster.TLS_CONFIG
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "key.pem").stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" in (folder / "key.pem").read_text()
    assert "CERTIFICATE" in (folder / "cert.pem").read_text()
    # As `export DASK_CONFIG=folder` does for a process that imports dask afterwards.
    dask.config.refresh(paths=[*dask.config.paths, str(folder)])
    try:
        security = Security()
        assert security.require_encryption is True
        assert security.tls_ca_file == str(folder / "cert.pem")
        for role in cluster.ROLES:
            assert getattr(security, f"tls_{role}_key") == str(folder / "key.pem")
        assert security.get_listen_args("scheduler")["ssl_context"] is not None
        assert dask.config.get("distributed.comm.default-scheme") == "tls"
        assert dask.config.get("temporary-directory") == str(folder / "scratch")
        assert dask.config.get("distributed.scheduler.http.routes") == []
        assert dask.config.get("distributed.worker.http.routes") == []
        assert (folder / "scratch").stat().st_mode & 0o777 == 0o700
    finally:
        dask.config.refresh()


def test_a_classmates_dask_scratch_space_in_the_shared_tmp_is_never_used(tmp_path):
    """A student creates dask's default scratch folder in the shared /tmp before the grader starts.

    Each Dask server puts its scratch folder first on ``sys.path``, so a module planted there
    would be imported by the grader's process or its workers, as the instructor.
    """
    shared_tmp = tmp_path / "shared-tmp"
    planted = shared_tmp / "dask-scratch-space"
    planted.mkdir(parents=True)
    marker = tmp_path / "owned"
    (planted / "nn_planted_module.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran as the grader')\n"
    )
    os.chmod(shared_tmp, 0o1777)
    os.chmod(planted, 0o777)
    with (
        dask.config.set({"temporary-directory": str(shared_tmp)}),
        cluster.open_client(workers=1) as client,
    ):
        paths = [*client.run(lambda: __import__("sys").path).values(), list(sys.path)]
        for path in paths:
            assert not any(str(planted) in entry for entry in path), path
        for directory in client.run(lambda dask_worker: dask_worker.local_directory).values():
            assert str(shared_tmp) not in directory
        with contextlib.suppress(ModuleNotFoundError):
            client.run(__import__, "nn_planted_module")
    assert not marker.exists()
