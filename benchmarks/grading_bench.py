"""Benchmark: stock serial ``nbgrader autograde`` against ``python -m autograder grade``.

In one run, on a temporary copy of the course: grade N submissions (copies of the sample
submissions) with stock nbgrader, then with the grading command without its kernel pool
(``--no-kernel-pool``: each job starts its kernel), with a pool of kernels started in
bubblewrap (``--no-fork-kernels``) and as it grades by default (each worker readies its next
kernel, forked from a template that imported the assignment's modules once), and measure the
per-submission floor: a plain kernel that starts, imports TensorFlow and runs the cells grading needs, one
submission at a time.

The default run also prints where its wall time went: the local Dask cluster's start
and close, the jobs (each job's time on its worker, summed, and that sum over the workers) and
the driver's own work (preparing each submission and recording each result).

Usage: .venv/bin/python benchmarks/grading_bench.py [--copies N] [--workers W] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.grading import cluster, execute, grade, preparation, sandbox
from autograder.grading.limits import Limits
from autograder.kernel.protocol import Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support import courses

ASSIGNMENT = courses.ASSIGNMENT


def measure_floor(*, samples: int, sandboxed: bool) -> float:
    """Return the median seconds to start a kernel and run the cells grading needs, serially."""
    nb = nbformat.read(courses.SOURCE, as_version=4)
    stop = preparation.last_graded_index(nb)
    limits = Limits(threads=os.cpu_count() or 1)
    times = []
    for _ in range(samples):
        run = execute.execute(
            copy.deepcopy(nb),
            limits=limits,
            sandboxed=sandboxed,
            stop_after=stop,
            describe_model=False,
        )
        if run.status != Status.OK:
            raise RuntimeError(f"floor run failed: {run.status} {run.reason}")
        times.append(run.seconds)
    return statistics.median(times)


@dataclasses.dataclass
class Stages:
    """Where one grading run's wall time went (seconds), timed around the grading code."""

    cluster_start_s: float = 0.0
    cluster_close_s: float = 0.0
    prepare_s: float = 0.0
    record_s: float = 0.0
    jobs_s: float = 0.0  # each job's time on its worker, summed

    def lines(self, wall_s: float, workers: int) -> list[str]:
        """Return the breakdown as printable lines."""
        rest = wall_s - self.cluster_start_s - self.cluster_close_s - self.jobs_s / workers
        return [
            f"where the grading command's {wall_s:.1f} s went (the default run):",
            f"  local Dask cluster: start {self.cluster_start_s:.1f} s, close {self.cluster_close_s:.1f} s",
            f"  jobs on the workers: {self.jobs_s:.1f} s in all = {self.jobs_s / workers:.1f} s"
            f" per worker",
            f"  driver: preparing {self.prepare_s:.1f} s, recording {self.record_s:.1f} s"
            " (on the same cores, beside the jobs)",
            f"  the rest, per worker: {rest:.1f} s (the pool starting the next kernels, which"
            " a job's time leaves out, and waiting)",
        ]


@contextlib.contextmanager
def timed_stages(stages: Stages):
    """Time the cluster, the driver's preparing and recording, while the block runs."""

    def adding(field: str, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                setattr(stages, field, getattr(stages, field) + time.perf_counter() - start)

        return timed

    open_client = cluster.open_client

    @contextlib.contextmanager
    def timed_client(*args, **kwargs):
        start = time.perf_counter()
        with open_client(*args, **kwargs) as client:
            stages.cluster_start_s += time.perf_counter() - start
            try:
                yield client
            finally:
                closing = time.perf_counter()
        stages.cluster_close_s += time.perf_counter() - closing

    saved = (grade.prepare, grade.record, cluster.open_client)
    grade.prepare, grade.record = (
        adding("prepare_s", grade.prepare),
        adding("record_s", grade.record),
    )
    cluster.open_client = timed_client
    try:
        yield stages
    finally:
        grade.prepare, grade.record, cluster.open_client = saved


@dataclasses.dataclass
class BenchResult:
    """Wall times of one benchmark run (seconds)."""

    copies: int
    workers: int
    cores: int
    stock_s: float
    grade_s: float
    floor_s: float
    skip_after_last_graded: bool
    grade_cold_s: float
    grade_started_s: float = 0.0
    stages: Stages = dataclasses.field(default_factory=Stages)

    @property
    def pool_gain(self) -> float:
        """The grading command's wall time without its kernel pool over its time with it."""
        return self.grade_cold_s / self.grade_s

    @property
    def ratio(self) -> float:
        """Stock wall time over the grading command's wall time."""
        return self.stock_s / self.grade_s

    @property
    def per_submission_s(self) -> float:
        """Core-normalised cost of one submission: wall time x workers / submissions."""
        return self.grade_s * self.workers / self.copies

    def lines(self) -> list[str]:
        """Return the report as printable lines."""
        return [
            f"machine: {self.cores} cores; {self.copies} submissions; {self.workers} workers; "
            f"skip cells after the last graded cell: {self.skip_after_last_graded}",
            f"stock nbgrader autograde (serial): {self.stock_s:8.1f} s",
            f"grade --no-kernel-pool:            {self.grade_cold_s:8.1f} s",
            f"grade --no-fork-kernels:           {self.grade_started_s:8.1f} s",
            f"python -m autograder grade:        {self.grade_s:8.1f} s",
            f"ratio (stock / grade):             {self.ratio:8.2f}",
            f"kernel pool (no pool / pool):      {self.pool_gain:8.2f}",
            f"forked kernels (started / forked): {self.grade_started_s / self.grade_s:8.2f}",
            f"per-submission floor (median):     {self.floor_s:8.1f} s",
            f"per-submission cost (wall x workers / submissions): {self.per_submission_s:.1f} s"
            f" = {self.per_submission_s / self.floor_s:.2f} x floor",
            *self.stages.lines(self.grade_s, self.workers),
        ]


def run_benchmark(
    *,
    copies: int = 4,
    workers: int | None = None,
    samples: int = 3,
    skip_after_last_graded: bool = True,
    verify_model_file: bool = True,
    sandboxed: bool = True,
    names: list[str] | None = None,
    json_path: str | None = None,
) -> BenchResult:
    """Run the benchmark on a temporary course and print the figures.

    Args:
        copies: submissions to grade (cycling through the sample submissions).
        workers: parallel jobs for the grading command (default: cores).
        samples: kernel runs for the floor (median).
        names: sample submissions to use (default: all; e.g. ``["reference_solution"]``).
    """
    cores = os.cpu_count() or 1
    workers = workers or cores
    sandboxed = sandboxed and sandbox.sandbox_available()
    floor_s = measure_floor(samples=samples, sandboxed=False)
    print(f"floor: {floor_s:.1f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="nn-bench-") as tmp:
        course = courses.sample_course(Path(tmp), copies=copies, names=names)
        start = time.perf_counter()
        courses.nbgrader(course, "autograde", ASSIGNMENT, "--force", timeout=24 * 3600)
        stock_s = time.perf_counter() - start
        print(f"stock: {stock_s:.1f} s", flush=True)
        seconds = {}
        stages = Stages()
        # No pool; a pool of kernels started in bubblewrap; the default, a pool of forked ones.
        for run in ("no pool", "started", "forked"):
            pool, fork = run != "no pool", run == "forked"
            clock = timed_stages(stages) if fork else contextlib.nullcontext()
            start = time.perf_counter()
            with clock:
                outcomes = grade.grade_assignment(
                    assignment=ASSIGNMENT,
                    course_root=course,
                    workers=workers,
                    force=True,
                    sandboxed=sandboxed,
                    skip_after_last_graded=skip_after_last_graded,
                    verify_model_file=verify_model_file,
                    show_progress=False,
                    report_dir=Path(tmp) / "reports",
                    kernel_pool=pool,
                    fork_kernels=fork,
                )
            seconds[run] = time.perf_counter() - start
            if fork:
                stages.jobs_s = sum(outcome.seconds for outcome in outcomes)
            print(f"grade ({run}): {seconds[run]:.1f} s", flush=True)
    result = BenchResult(
        copies,
        workers,
        cores,
        stock_s,
        seconds["forked"],
        floor_s,
        skip_after_last_graded,
        seconds["no pool"],
        seconds["started"],
        stages,
    )
    for line in result.lines():
        print(line)
    if json_path:
        Path(json_path).write_text(
            json.dumps({**dataclasses.asdict(result), "ratio": result.ratio}, indent=1)
        )
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="submissions to grade")
    parser.add_argument("--workers", type=int, default=None, help="parallel jobs (default: cores)")
    parser.add_argument("--samples", type=int, default=3, help="kernel runs for the floor (median)")
    parser.add_argument(
        "--sample", action="append", help="sample submission to copy (repeatable; default: all)"
    )
    parser.add_argument(
        "--run-all-cells", action="store_true", help="grade without skipping trailing cells"
    )
    parser.add_argument(
        "--trust-model-facts",
        action="store_true",
        help="judge the model checks from the kernel's report, not the saved model file",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    run_benchmark(
        copies=args.copies,
        workers=args.workers,
        samples=args.samples,
        skip_after_last_graded=not args.run_all_cells,
        verify_model_file=not args.trust_model_facts,
        names=args.sample or None,
        json_path=args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
