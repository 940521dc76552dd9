"""benchmarks/fork_template_bench.py: its report, and what a kernel forked from its template sees."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from autograder.grading import sandbox
from autograder.grading.limits import Limits

from conftest import REPO_ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("fork_template_bench")


def test_report_puts_both_ways_side_by_side_with_their_medians(bench):
    def run(ready, workload):
        return {"ready_s": ready, "workload_s": workload, "facts": {"processes": [1]}}

    sandboxed = [run(0.5, 3.0), run(0.7, 2.0), run(0.6, 2.5)]
    forked = [run(0.4, 0.8), run(0.2, 0.9), run(0.3, 1.0)]
    lines = bench.report(sandboxed, 2.5, forked)
    median = next(line for line in lines if line.startswith("median"))
    assert median.split() == ["median", "0.60", "s", "2.50", "s", "0.30", "s", "0.90", "s"]
    assert "the template's own start (once per worker): 2.50 s" in lines
    assert lines[-1] == "  processes: [1]"


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)")
def test_a_forked_kernel_sees_no_sibling_no_template_and_holds_no_capability(bench):
    forked = bench.forked_kernels(2, Limits(threads=1))
    for index, run in enumerate(forked["runs"]):
        facts = run["facts"]
        assert facts["processes"] == [1]  # its own PID namespace: not the template, no sibling
        assert facts["CapEff"] == facts["CapBnd"] == "0000000000000000"
        assert facts["NoNewPrivs"] == "1"
        # The spool folder shows this kernel's folder only, and /tmp is a fresh tmpfs.
        assert facts["folder above the working folder"] == [f"k{index}"]
        # /tmp holds only the way to the Python the kernel runs, when that is under /tmp.
        assert facts["tmp"] == sorted(
            {
                f.relative_to("/tmp").parts[0]
                for f in bench.python_folders()
                if Path("/tmp") in f.parents
            }
        )
        # Nothing it writes reaches the template's memory or the template's pipes.
        assert facts["writable shared mappings"] == 0
        assert not set(facts["pipes"]) & set(forked["template_pipes"])
