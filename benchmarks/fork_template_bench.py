"""Benchmark the kernel pool's two kinds of kernel: started in bubblewrap, or forked from a template.

Measures, side by side in one run, on this machine: --kernels kernels readied one after the
other as the pool readies them with ``--no-fork-kernels`` (each started in a fresh bubblewrap
sandbox, then importing NumPy and TensorFlow), then the worker's template starting
(:mod:`autograder.grading.kernel_template`: it imports them once) and --kernels kernels forked
from it, as the grading command readies them by default. Each kernel then runs the same
workload, the assignment's network trained for one epoch on random digits. Prints each kernel's
time from request to ready and the workload's, with the medians side by side.

Usage: .venv/bin/python benchmarks/fork_template_bench.py [--kernels N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from jupyter_client.blocking.client import BlockingKernelClient

from autograder.grading import kernel_pool, kernel_template, sandbox
from autograder.grading.limits import Limits

#: What each kernel runs: the assignment's network trained for one epoch on random digits.
WORKLOAD = """\
import numpy as np, tensorflow as tf
model = tf.keras.Sequential([tf.keras.Input((400,)), tf.keras.layers.Dense(25, activation="relu"),
    tf.keras.layers.Dense(15, activation="relu"), tf.keras.layers.Dense(10)])
model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=tf.keras.optimizers.Adam(0.001))
model.fit(np.random.rand(1000, 400), np.random.randint(0, 10, 1000), epochs=1, verbose=0)
"""

#: What the pool's kernels import ahead here (the assignment's kernels import more).
PRELOAD = ("numpy", "tensorflow")


def run_workload(box: sandbox.KernelSandbox) -> float:
    """Run :data:`WORKLOAD` in the kernel of ``box``; return its seconds."""
    client = BlockingKernelClient()
    client.load_connection_info(box.km.get_connection_info())
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        start = time.perf_counter()
        reply = client.execute_interactive(WORKLOAD, timeout=300, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the workload failed: {reply['content'].get('evalue')}")
        return time.perf_counter() - start
    finally:
        client.stop_channels()


def ready_kernels(count: int, key: kernel_pool.PoolKey) -> list[dict]:
    """Ready ``count`` kernels for ``key`` one after the other; time each and its workload."""
    runs = []
    for _ in range(count):
        start = time.perf_counter()
        box = kernel_pool.start_warm(key)
        ready = time.perf_counter() - start
        try:
            forked = isinstance(box.km, kernel_template.ForkedKernelManager)
            runs.append({"ready_s": ready, "workload_s": run_workload(box), "forked": forked})
        finally:
            kernel_pool.discard(box)
    return runs


def report(started: list[dict], template_s: float, forked: list[dict]) -> list[str]:
    """Return the figures side by side, with their medians."""
    lines = [
        f"{'kernel':<10} {'started: ready':>15} {'workload':>9}   {'forked: ready':>14} {'workload':>9}"
    ]
    for index, (a, b) in enumerate(zip(started, forked, strict=True)):
        lines.append(
            f"{index:<10} {a['ready_s']:13.2f} s {a['workload_s']:7.2f} s   "
            f"{b['ready_s']:12.2f} s {b['workload_s']:7.2f} s"
        )

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    lines.append(
        f"{'median':<10} {median(started, 'ready_s'):13.2f} s {median(started, 'workload_s'):7.2f} s   "
        f"{median(forked, 'ready_s'):12.2f} s {median(forked, 'workload_s'):7.2f} s"
    )
    lines.append(f"the template's own start (once per worker): {template_s:.2f} s")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure both ways of readying kernels and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=4, help="kernels readied each way")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if not sandbox.sandbox_available():
        print(sandbox.BWRAP_MISSING, file=sys.stderr)
        return 1
    key = kernel_pool.PoolKey(Limits(threads=1), True, PRELOAD, fork=False)
    started = ready_kernels(args.kernels, key)
    forking = kernel_pool.PoolKey(key.limits, True, PRELOAD, fork=True)
    start = time.perf_counter()
    kernel_template.template_for(forking)
    template_s = time.perf_counter() - start
    forked = ready_kernels(args.kernels, forking)
    kernel_template.close()
    if not all(run["forked"] for run in forked):
        print("no kernel was forked: the template could not start here", file=sys.stderr)
        return 1
    print("\n".join(report(started, template_s, forked)))
    if args.json:
        figures = {"started": started, "template_s": template_s, "forked": forked}
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
