"""Benchmark: stock serial ``nbgrader autograde`` against ``python -m autograder grade``.

In one run, on a temporary copy of the course: grade N submissions (copies of the sample
submissions) with stock nbgrader, then with the grading command, and measure the
per-submission floor: a plain kernel that starts, imports TensorFlow and runs the cells
grading needs, one submission at a time.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.grading import execute, grade, sandbox
from autograder.kernel.protocol import Status

ASSIGNMENT = "C2_W2_Assignment"
PACKAGE_ROOT = Path(__file__).resolve().parent
COURSE_ROOT = PACKAGE_ROOT / "course"
REPO_ROOT = PACKAGE_ROOT.parent
_SAMPLES_SCRIPT = REPO_ROOT / "tests" / "submissions" / "make_submissions.py"


def nbgrader(course: Path, *args: str) -> float:
    """Run an nbgrader command in ``course``; return its wall time in seconds."""
    # nbgrader runs `alembic` from PATH when it creates a gradebook.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stderr.decode()[-3000:]}")
    return time.perf_counter() - start


def sample_notebooks(release: Path) -> dict[str, nbformat.NotebookNode]:
    """Return the sample submissions: the reference solution plus the test fixtures if present."""
    source = REPO_ROOT / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    samples = {"reference_solution": nbformat.read(source, as_version=4)}
    if _SAMPLES_SCRIPT.exists():
        import importlib.util

        spec = importlib.util.spec_from_file_location("make_submissions", _SAMPLES_SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        released = nbformat.read(release, as_version=4)
        for name, answers in module.SUBMISSIONS.items():
            samples[name] = module.make_submission(released, answers)
    return samples


def build_course(root: Path, *, copies: int, names: list[str] | None = None) -> Path:
    """Create a course under ``root`` with ``copies`` submissions cycling through the samples.

    ``names`` picks samples by name (default: all). Returns the course root.
    """
    course = root / "autograder" / "course"
    course.mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "assignment", root / "assignment")
    shutil.copyfile(COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    samples = sample_notebooks(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    chosen = names or list(samples)
    for k in range(copies):
        name = chosen[k % len(chosen)]
        student = f"{name}" if copies == len(chosen) else f"s{k:03d}_{name}"
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(samples[name], folder / f"{ASSIGNMENT}.ipynb")
    return course


def measure_floor(*, samples: int, sandboxed: bool) -> float:
    """Return the median seconds to start a kernel and run the cells grading needs, serially."""
    source = REPO_ROOT / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(source, as_version=4)
    stop = grade.last_graded_index(nb)
    limits = sandbox.Limits(threads=os.cpu_count() or 1)
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
class BenchResult:
    """Wall times of one benchmark run (seconds)."""

    copies: int
    workers: int
    cores: int
    stock_s: float
    grade_s: float
    floor_s: float
    skip_after_last_graded: bool

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
            f"python -m autograder grade:        {self.grade_s:8.1f} s",
            f"ratio (stock / grade):             {self.ratio:8.2f}",
            f"per-submission floor (median):     {self.floor_s:8.1f} s",
            f"per-submission cost (wall x workers / submissions): {self.per_submission_s:.1f} s"
            f" = {self.per_submission_s / self.floor_s:.2f} x floor",
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
        course = build_course(Path(tmp), copies=copies, names=names)
        stock_s = nbgrader(course, "autograde", ASSIGNMENT, "--force")
        print(f"stock: {stock_s:.1f} s", flush=True)
        start = time.perf_counter()
        grade.grade_assignment(
            assignment=ASSIGNMENT,
            course_root=course,
            workers=workers,
            force=True,
            sandboxed=sandboxed,
            skip_after_last_graded=skip_after_last_graded,
            verify_model_file=verify_model_file,
            show_progress=False,
            report_dir=Path(tmp) / "reports",
        )
        grade_s = time.perf_counter() - start
    result = BenchResult(copies, workers, cores, stock_s, grade_s, floor_s, skip_after_last_graded)
    for line in result.lines():
        print(line)
    if json_path:
        Path(json_path).write_text(
            json.dumps({**dataclasses.asdict(result), "ratio": result.ratio}, indent=1)
        )
    return result
