"""Benchmark: latency from ``nbgrader submit`` to feedback a student can fetch, with the watcher.

On a temporary copy of the course with its own exchange, a watcher
(``python -m autograder watch C2_W2_Assignment --poll 1``) runs as the instructor would leave
it running. Students then submit the reference solution with nbgrader's exchange, one at a
time (``--single`` rounds) and all together (``--burst`` students); a submission's latency is
the time from the end of its ``nbgrader submit`` to the moment its feedback page is in the
exchange (where ``nbgrader fetch_feedback`` finds it). Printed with p50 and p95 beside the
floor: a plain kernel that starts, imports TensorFlow and runs the graded cells, serially.

Each latency is broken down into the watcher's stages (``watch.STAGES``: wait, collect,
grade, feedback, release), from the times the watcher records in its queue at the end of
each (read with ``nn-autograde queue --json``); what they leave of the latency (the
benchmark's own look for the page, clocks) is printed as "unaccounted".

    .venv/bin/python benchmarks/watch_bench.py --single 3 --burst 30
"""

from __future__ import annotations

import argparse
import copy
import datetime
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.utils import notebook_hash

from autograder.grading import execute, preparation
from autograder.grading.limits import Limits
from autograder.grading.watch import STAGES
from autograder.kernel.protocol import Status

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "C2_W2_Assignment"
SOURCE = REPO_ROOT / "assignment" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# watch_support imports the tests' own packages (the mini assignment, the course support).
sys.path.insert(0, str(REPO_ROOT / "tests"))
ws = _load("watch_support", REPO_ROOT / "tests" / "watch_support.py")


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values``, linearly interpolated."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure_floor(*, samples: int) -> float:
    """Return the median seconds for a plain kernel to import TensorFlow and run the graded cells."""
    nb = nbformat.read(SOURCE, as_version=4)
    stop = preparation.last_graded_index(nb)
    limits = Limits(threads=os.cpu_count() or 1)
    times = []
    for _ in range(samples):
        run = execute.execute(
            copy.deepcopy(nb), limits=limits, sandboxed=False, stop_after=stop, describe_model=False
        )
        if run.status != Status.OK:
            raise RuntimeError(f"floor run failed: {run.status} {run.reason}")
        times.append(run.seconds)
    return statistics.median(times)


def _feedback_page(course: Path, student: str) -> Path:
    """Return where ``student``'s latest submission's feedback will be released."""
    cache = course.parent.parent / "students" / student / ".nbgrader_cache" / ws.COURSE_ID
    (latest,) = sorted(cache.glob(f"{student}+{ASSIGNMENT}+*"))[-1:]
    secret = (latest / "submission_secret.txt").read_text()
    digest = notebook_hash(secret=secret, notebook_id=ASSIGNMENT)
    return ws.exchange_of(course) / ws.COURSE_ID / "feedback" / f"{digest}.html"


Submitted = dict[str, tuple[float, datetime.datetime]]


def submit_and_wait(course: Path, students: list[str], nb, *, timeout: float) -> Submitted:
    """Submit ``nb`` as each of ``students`` at once; return each one's latency and submit end.

    Latencies are seconds (monotonic clock); the end of each ``nbgrader submit`` is aware UTC
    wall-clock time, which the watcher's queue records its stage ends in too.
    """
    submitted, ended = {}, {}
    for student in students:
        ws.submit(course, student, nb, ASSIGNMENT)
        submitted[student] = time.monotonic()
        ended[student] = datetime.datetime.now(datetime.timezone.utc)
    pages = {s: _feedback_page(course, s) for s in students}
    latency: dict[str, float] = {}
    end = time.monotonic() + timeout
    while len(latency) < len(students) and time.monotonic() < end:
        for student, page in pages.items():
            if student not in latency and page.exists():
                latency[student] = time.monotonic() - submitted[student]
        time.sleep(0.2)
    missing = sorted(set(students) - set(latency))
    if missing:
        raise RuntimeError(f"no feedback within {timeout:.0f} s for {missing}")
    return {s: (latency[s], ended[s]) for s in students}


def read_queue(course: Path, env: dict[str, str]) -> dict[str, dict]:
    """Return each student's queue entry, as ``nn-autograde queue --json`` prints it."""
    shown = subprocess.run(
        [sys.executable, "-m", "autograder", "queue", ASSIGNMENT, "--json"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {entry["student"]: entry for entry in map(json.loads, shown.splitlines())}


def stage_seconds(latency: float, ended: datetime.datetime, entry: dict) -> dict[str, float]:
    """Return the seconds of each stage of one submission, and what they leave unaccounted."""
    seconds, start = {}, ended
    for stage, field in STAGES.items():
        if not entry.get(field):
            raise RuntimeError(f"{entry['student']}: the queue has no {field}: {entry}")
        end = datetime.datetime.fromisoformat(entry[field])
        seconds[stage], start = (end - start).total_seconds(), end
    seconds["unaccounted"] = latency - sum(seconds.values())
    return seconds


def summarize(submitted: Submitted, queue: dict[str, dict]) -> dict:
    """Return p50/p95 of the latency and of each stage, with each stage's mean share of it."""
    latencies = [latency for latency, _ in submitted.values()]
    rows = [stage_seconds(*submitted[s], queue[s]) for s in submitted]
    stages = {}
    for stage in [*STAGES, "unaccounted"]:
        values = [row[stage] for row in rows]
        shares = [row[stage] / latency for row, latency in zip(rows, latencies, strict=True)]
        stages[stage] = {
            "p50_s": percentile(values, 0.5),
            "p95_s": percentile(values, 0.95),
            "mean_share": statistics.fmean(shares),
        }
    return {
        "n": len(latencies),
        "p50_s": percentile(latencies, 0.5),
        "p95_s": percentile(latencies, 0.95),
        "stages": stages,
    }


def print_figures(name: str, row: dict, floor_s: float) -> None:
    """Print one group's latency against the floor, and its stages."""
    print(
        f"{name:12s} submit -> feedback: p50 {row['p50_s']:6.1f} s  p95 {row['p95_s']:6.1f} s"
        f"  (= {row['p50_s'] / floor_s:.1f} / {row['p95_s'] / floor_s:.1f} x floor)"
    )
    print(f"  {'stage':12s} {'p50 s':>8s} {'p95 s':>8s} {'mean share':>11s}")
    for stage, figures in row["stages"].items():
        print(
            f"  {stage:12s} {figures['p50_s']:8.2f} {figures['p95_s']:8.2f}"
            f" {figures['mean_share']:10.1%}"
        )


def run_benchmark(*, single: int, burst: int, floor_samples: int, json_path: str | None) -> dict:
    """Run the benchmark; print and return the figures."""
    floor_s = measure_floor(samples=floor_samples)
    print(f"floor (kernel + TensorFlow + graded cells): {floor_s:.1f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="nn-watch-bench-") as tmp:
        course = ws.make_course(Path(tmp), assignment=ASSIGNMENT, source=SOURCE)
        nb = nbformat.read(SOURCE, as_version=4)  # the reference solution: 16/16
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        log = open(Path(tmp) / "watch.log", "w")  # noqa: SIM115
        watcher = subprocess.Popen(
            [sys.executable, "-m", "autograder", "watch", ASSIGNMENT, "--poll", "1"],
            cwd=course,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=ws.default_sigint,  # a shell's background job ignores SIGINT
        )
        try:
            time.sleep(5)
            one: Submitted = {}
            for k in range(single):
                one |= submit_and_wait(course, [f"single{k}"], nb, timeout=900)
                print(f"1 student, round {k + 1}: {one[f'single{k}'][0]:.1f} s", flush=True)
            many = submit_and_wait(
                course, [f"burst{k:02d}" for k in range(burst)], nb, timeout=3600
            )
            queue = read_queue(course, env)
        finally:
            os.killpg(watcher.pid, 2)
            watcher.wait(timeout=60)
            log.close()
    figures = {
        "cores": os.cpu_count(),
        "floor_s": round(floor_s, 1),
        "single": summarize(one, queue),
        "burst": summarize(many, queue),
    }
    for name, row in (("1 student", figures["single"]), (f"{burst} students", figures["burst"])):
        print_figures(name, row, floor_s)
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=1))
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=3, help="rounds of one student alone")
    parser.add_argument("--burst", type=int, default=30, help="students submitting together")
    parser.add_argument("--floor-samples", type=int, default=2, help="kernel runs for the floor")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    run_benchmark(
        single=args.single, burst=args.burst, floor_samples=args.floor_samples, json_path=args.json
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
