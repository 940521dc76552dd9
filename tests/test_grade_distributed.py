"""Distributed grading on Dask: a worker killed mid-batch, and a real scheduler with workers.

Does every submission get graded exactly once when a worker dies mid-job? Does
`--scheduler tcp://...` send the same jobs to `dask scheduler` / `dask worker` processes?
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

from autograder.grading import grade, sandbox

from adversarial import course

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)"),
]

LIMITS = sandbox.Limits(cell_timeout=60, total_timeout=120, memory=2 * 1024**3, threads=1)


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
    from distributed import Client, LocalCluster

    course_root = _course_with_slow_submissions(tmp_path, count=6, seconds=4)
    students = [f"student{k:02d}" for k in range(6)]
    seen = []
    killed = []
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 3}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
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
            scheduler=cluster.scheduler_address,
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


def test_real_scheduler_and_two_workers_on_loopback_grade_the_class(tmp_path):
    course_root = _course_with_slow_submissions(tmp_path, count=4, seconds=2)
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
        assert address.startswith("tcp://127.0.0.1:")
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
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
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
    assert [(r.score, r.status) for r in rows] == [(course.FULL_SCORE, "ok")] * 4
    assert len({r.worker for r in rows}) == 2, [r.worker for r in rows]
