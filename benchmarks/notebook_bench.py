"""Benchmark the six reproduced notebooks against F, a fresh kernel importing TensorFlow.

Measures, on this machine, in one run:
  (a) F: a fresh Jupyter kernel starting and importing TensorFlow, --repeat times before each
      notebook and after the last one, so that F meets the same load as the notebooks on a
      shared machine (F is the median of all these runs),
  (b) each reproduced notebook executed alone in a fresh kernel, one after the other, the way
      the tests execute them (``autograder.runner.execute_notebook``, TF_CPP_MIN_LOG_LEVEL=2,
      the kernel's default threads),
then prints each notebook's wall time and its ratio to F, the total in F (issue 21's target:
at most 7 F) and each notebook's slowest cells (0-based index, first source line, seconds, from
the timestamps nbclient records in each cell's metadata).

Usage: .venv/bin/python benchmarks/notebook_bench.py [--repeat R] [--top K] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from autograder import runner as course

#: The notebooks issue 12 reproduces from the original week, in teaching order.
REPRODUCED = (
    "labs/C2_W2_Relu.ipynb",
    "labs/C2_W2_SoftMax.ipynb",
    "labs/C2_W2_Multiclass_TF.ipynb",
    "labs/C2_W2_Derivatives.ipynb",
    "labs/C2_W2_Backprop.ipynb",
    "assignment/C2_W2_Assignment/C2_W2_Assignment.ipynb",
)
#: Issue 21's target for the six notebooks run one by one, in units of F (issue 12's was 9).
TARGET_F = 7.0


@dataclasses.dataclass(frozen=True)
class CellTime:
    """Hold how long one code cell ran."""

    index: int  # 0-based, as cells are numbered in the issues
    first_line: str
    seconds: float


@dataclasses.dataclass(frozen=True)
class NotebookTime:
    """Hold one notebook's wall time (kernel start included) and its cells' times."""

    name: str
    seconds: float
    cells: tuple[CellTime, ...]


def _stamp(text: str) -> datetime:
    # nbclient writes UTC times ending in "Z", which Python 3.10's fromisoformat rejects.
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cell_times(nb) -> tuple[CellTime, ...]:
    """Return each executed code cell's time, from the timestamps nbclient records."""
    found = []
    for index, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in stamps:
            continue
        start = stamps.get("iopub.execute_input") or stamps.get("iopub.status.busy")
        if start is None:
            continue
        seconds = (_stamp(stamps["shell.execute_reply"]) - _stamp(start)).total_seconds()
        first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
        found.append(CellTime(index, first, seconds))
    return tuple(found)


def time_notebook(path: Path, *, timeout: int = 900) -> NotebookTime:
    """Execute one notebook in a fresh kernel as the tests do and return its times."""
    start = time.perf_counter()
    nb = course.execute_notebook(path, timeout=timeout)
    seconds = time.perf_counter() - start
    return NotebookTime(path.stem, seconds, cell_times(nb))


def figures(floor_runs: list[float], notebooks: list[NotebookTime], *, load_start=None) -> dict:
    """Return the benchmark's figures: F, each notebook in seconds and in F, the total in F."""
    floor = statistics.median(floor_runs)
    total = sum(nb.seconds for nb in notebooks)
    return {
        "floor_s": floor,
        "floor_runs_s": list(floor_runs),
        "notebooks": [
            {
                "name": nb.name,
                "seconds": nb.seconds,
                "x_floor": nb.seconds / floor,
                "cells": [dataclasses.asdict(c) for c in nb.cells],
            }
            for nb in notebooks
        ],
        "total_s": total,
        "total_x_floor": total / floor,
        "target_x_floor": TARGET_F,
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        # Other work on a shared machine moves F and the notebooks apart: say how busy it was.
        "load_avg_end": list(os.getloadavg()),
        "load_avg_start": list(load_start) if load_start is not None else None,
    }


def format_report(fig: dict, *, top: int = 3) -> str:
    """Return the figures as a plain-text table followed by each notebook's slowest cells."""
    floor = fig["floor_s"]
    runs = ", ".join(f"{t:.1f}" for t in fig["floor_runs_s"])
    start = fig.get("load_avg_start")
    lines = [
        f"machine: {fig['machine']}, {fig['cores']} cores, Python {fig['python']}, load average "
        + (f"at the start {', '.join(f'{x:.2f}' for x in start)}, " if start else "")
        + f"at the end {', '.join(f'{x:.2f}' for x in fig['load_avg_end'])} (1, 5, 15 min)",
        f"F (fresh kernel + import tensorflow, median of {len(fig['floor_runs_s'])}): "
        f"{floor:.1f} s  (runs: {runs})",
    ]
    width = max([len(nb["name"]) for nb in fig["notebooks"]] + [8])
    lines.append(f"{'notebook':<{width}}  {'seconds':>8}  {'x F':>6}")
    for nb in fig["notebooks"]:
        lines.append(f"{nb['name']:<{width}}  {nb['seconds']:8.1f}  {nb['x_floor']:6.2f}")
    verdict = "within" if fig["total_x_floor"] <= fig["target_x_floor"] else "over"
    lines.append(
        f"{'total':<{width}}  {fig['total_s']:8.1f}  {fig['total_x_floor']:6.2f}"
        f"   ({verdict} the target of {fig['target_x_floor']:g} F)"
    )
    lines.append("")
    lines.append(f"slowest cells (top {top} per notebook; 0-based index, first line, seconds):")
    for nb in fig["notebooks"]:
        lines.append(f"  {nb['name']}")
        slowest = sorted(nb["cells"], key=lambda c: -c["seconds"])[:top]
        for c in slowest:
            first = c["first_line"] if len(c["first_line"]) <= 60 else c["first_line"][:57] + "..."
            lines.append(f"    cell {c['index']:>3}  {c['seconds']:6.2f} s  {first}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=1, help="F runs before each notebook and after the last"
    )
    parser.add_argument("--top", type=int, default=3, help="slowest cells shown per notebook")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.top < 0:
        parser.error("--repeat must be at least 1 and --top at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure F and the reproduced notebooks, print the report, optionally write JSON."""
    args = parse_args(argv)
    # As tests/conftest.py does for the notebooks the tests execute.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Imported here so that the formatting above can be tested without the course's kernels.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from course_bench import floor_times

    load_start = os.getloadavg()
    floor_runs = []
    timed = []
    for rel in REPRODUCED:
        floor_runs += floor_times(args.repeat)
        try:
            timed.append(time_notebook(course.REPO_ROOT / rel, timeout=args.timeout))
        except course.NotebookFailed as err:
            print(f"{rel} failed:\n{err}", file=sys.stderr)
            return 1
    floor_runs += floor_times(args.repeat)
    fig = figures(floor_runs, timed, load_start=load_start)
    print(format_report(fig, top=args.top))
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
