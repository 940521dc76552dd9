"""Distributed grading on Dask: a worker killed mid-batch, and a real scheduler with workers.

Does every submission get graded exactly once when a worker dies mid-job? Does
`--scheduler tls://...` send the same jobs to `dask scheduler` / `dask worker` processes that
run with the credentials `nn-autograde cluster-tls` wrote, and refuse everyone else?
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed import Client
from distributed.security import Security
from test_grade_cluster_security import http_answers, listening_ports

from autograder.grading import grade, sandbox
from autograder.grading.limits import Limits

from adversarial import course

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)"),
]

LIMITS = Limits(cell_timeout=60, total_timeout=120, memory=2 * 1024**3, threads=1)


def _course_with_slow_submissions(root: Path, count: int, seconds: float) -> Path:
    course_root = course.make_course(root)
    for k in range(count):
        nb = course.submission(course_root, before_tests=[f"import time\ntime.sleep({seconds})"])
        course.submit(course_root, f"student{k:02d}", nb)
    return course_root


def _submissions_per_student(course_root: Path) -> dict[str, int]:
    db = sqlite3.connect(course_root / "gradebook.db")
    try:
        rows = db.execute(
            "SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id"
        ).fetchall()
    finally:
        db.close()
    return dict(rows)


def test_killing_a_worker_mid_batch_grades_every_submission_exactly_once(tmp_path):
    import dask
    from distributed import LocalCluster

    course_root = _course_with_slow_submissions(tmp_path, count=6, seconds=4)
    students = [f"student{k:02d}" for k in range(6)]
    seen = []
    killed = []
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 3}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            security=Security.temporary(),
        ) as cluster,
        Client(cluster) as client,
    ):

        def kill_a_busy_worker(outcome):
            seen.append(outcome)
            if killed:
                return
            busy = [w for w, tasks in client.processing().items() if tasks]
            pids = client.run(os.getpid, workers=busy[:1])
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        rows = grade.grade_assignment(
            assignment=course.ASSIGNMENT,
            course_root=course_root,
            scheduler=client,
            workers=2,
            limits=LIMITS,
            show_progress=False,
            on_result=kill_a_busy_worker,
        )
    assert killed, "no worker was busy to kill"
    assert sorted(o.student for o in seen) == students
    assert [(r.student, r.score, r.status) for r in rows] == [
        (s, course.FULL_SCORE, "ok") for s in students
    ]
    assert _submissions_per_student(course_root) == {s: 1 for s in students}


def _dask(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "dask"), *args]


def _classmate_can_run_code_on(address: str, marker: Path) -> bool:
    """Try, as a student with no key, to run code on the scheduler at ``address``."""
    port = address.rsplit(":", 1)[1]
    attempts = [
        (f"tcp://127.0.0.1:{port}", {"security": Security(require_encryption=False)}),
        (f"tls://127.0.0.1:{port}", {"security": Security.temporary()}),
    ]
    for target, kwargs in attempts:
        try:
            with Client(target, timeout=5, **kwargs) as attacker:
                attacker.run_on_scheduler(Path(marker).touch)
        except Exception:  # refused, in whichever way
            continue
    return marker.exists()


def test_real_scheduler_and_two_workers_behind_tls_grade_the_class_and_refuse_others(
    tmp_path, monkeypatch
):
    import dask

    course_root = _course_with_slow_submissions(tmp_path, count=4, seconds=2)
    tls = tmp_path / "tls"
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "cluster-tls", str(tls)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"export DASK_CONFIG={tls}" in done.stdout
    # `export DASK_CONFIG=tls`: for the dask processes, and for this one (imported already).
    monkeypatch.setenv("DASK_CONFIG", str(tls))
    dask.config.refresh(paths=[*dask.config.paths, str(tls)])
    scheduler_file = tmp_path / "scheduler.json"
    logs = (tmp_path / "dask.log").open("w")
    processes = [
        subprocess.Popen(
            _dask(
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--protocol",
                "tls",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ),
            stdout=logs,
            stderr=logs,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://127.0.0.1:")
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    _dask(
                        "worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                    ),
                    stdout=logs,
                    stderr=logs,
                )
            )
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        assert not _classmate_can_run_code_on(address, tmp_path / "owned")
        # The config `cluster-tls` wrote leaves every HTTP server of theirs without routes.
        ports = set().union(*(listening_ports(process.pid) for process in processes))
        assert http_answers(ports) == []
        rows = grade.grade_assignment(
            assignment=course.ASSIGNMENT,
            course_root=course_root,
            scheduler=address,
            limits=LIMITS,
            show_progress=False,
        )
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        logs.close()
        monkeypatch.delenv("DASK_CONFIG")
        dask.config.refresh()
    assert [(r.score, r.status) for r in rows] == [(course.FULL_SCORE, "ok")] * 4
    assert len({r.worker for r in rows}) == 2, [r.worker for r in rows]
