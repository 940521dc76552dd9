"""Benchmark the headless course run against its floor, in one run.

Measures, on this machine and in this order:
  (a) the floor: start one kernel and import TensorFlow (best of --repeat),
  (b) each notebook executed alone (serially, one job),
  (c) the whole course run with --jobs concurrent notebooks, scheduled longest first from
      the times recorded in (b), as a re-run of the course is,
then prints each notebook's time / floor and the ratios
course / (notebooks x floor) and course / sum(notebook times).

Usage: .venv/bin/python benchmarks/course_bench.py [--jobs N] [--repeat R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder import runner as course


def measure_floor(repeat: int) -> float:
    """Return the best time to start a kernel and import TensorFlow."""
    return min(floor_times(repeat))


def floor_times(repeat: int) -> list[float]:
    """Return the time of each of ``repeat`` fresh kernels starting and importing TensorFlow."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floor.ipynb"
        nb = new_notebook(cells=[new_code_cell("import tensorflow as tf")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, path)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            course.execute_notebook(path, timeout=300)
            times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=3, help="floor repetitions (best is kept)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()

    notebooks = course.course_notebooks()
    floor = measure_floor(args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        serial = {}
        for nb in notebooks:
            (result,) = course.run_course(notebooks=[nb], out_dir=Path(tmp), jobs=1)
            if not result.ok:
                raise SystemExit(f"{nb.name} failed: {result.error}")
            serial[nb.name] = result.seconds
        start = time.perf_counter()
        # Same folder: like any re-run, the course run is scheduled from the recorded times.
        results = course.run_course(notebooks=notebooks, out_dir=Path(tmp), jobs=args.jobs)
        course_time = time.perf_counter() - start
    if not all(r.ok for r in results):
        raise SystemExit("course run failed: " + "; ".join(r.error for r in results if not r.ok))

    total = sum(serial.values())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"floor (kernel start + import tensorflow): {floor:.1f} s")
    width = max(len(n) for n in serial)
    print(f"{'notebook':<{width}}  {'seconds':>8}  {'x floor':>8}")
    for name, seconds in serial.items():
        print(f"{name:<{width}}  {seconds:8.1f}  {seconds / floor:8.2f}")
    print(f"sum of notebooks run alone: {total:.1f} s")
    print(f"whole course run, --jobs {args.jobs}: {course_time:.1f} s")
    print(f"course / (notebooks x floor) = {course_time / (len(serial) * floor):.2f}")
    print(f"course / sum(notebooks)      = {course_time / total:.2f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "floor_s": floor,
                    "notebooks_s": serial,
                    "course_s": course_time,
                    "jobs": args.jobs,
                    "cores": os.cpu_count(),
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
