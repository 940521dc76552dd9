"""benchmarks/fork_template_bench.py: its report, and a run that readies both kinds of kernel."""

from __future__ import annotations

import importlib
import json

import pytest

from autograder.grading import sandbox

from conftest import REPO_ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("fork_template_bench")


def test_report_puts_both_ways_side_by_side_with_their_medians(bench):
    def run(ready, workload):
        return {"ready_s": ready, "workload_s": workload, "forked": False}

    started = [run(0.5, 3.0), run(0.7, 2.0), run(0.6, 2.5)]
    forked = [run(0.4, 0.8), run(0.2, 0.9), run(0.3, 1.0)]
    lines = bench.report(started, 2.5, forked)
    median = next(line for line in lines if line.startswith("median"))
    assert median.split() == ["median", "0.60", "s", "2.50", "s", "0.30", "s", "0.90", "s"]
    assert lines[-1] == "the template's own start (once per worker): 2.50 s"


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)")
def test_the_benchmark_readies_started_then_forked_kernels(bench, tmp_path):
    assert bench.main(["--kernels", "1", "--json", str(tmp_path / "figures.json")]) == 0
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert [run["forked"] for run in figures["started"]] == [False]
    assert [run["forked"] for run in figures["forked"]] == [True]
    assert figures["template_s"] > 0
