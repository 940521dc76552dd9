"""benchmarks/grading_bench.py: its stage breakdown, on fake work (no kernels, no cluster)."""

from __future__ import annotations

import contextlib
import importlib
import time

import pytest

from autograder.grading import cluster, grade

from conftest import REPO_ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("grading_bench")


def test_timed_stages_adds_up_each_stage_and_puts_the_grading_code_back(bench, monkeypatch):
    @contextlib.contextmanager
    def fake_client(*args, **kwargs):
        time.sleep(0.05)
        yield "client"
        time.sleep(0.02)

    monkeypatch.setattr(cluster, "open_client", fake_client)
    monkeypatch.setattr(grade, "prepare", lambda *a: time.sleep(0.01) or "prepared")
    monkeypatch.setattr(grade, "record", lambda *a, **k: time.sleep(0.03) or "recorded")
    originals = (grade.prepare, grade.record, cluster.open_client)
    with bench.timed_stages(bench.Stages()) as stages:
        assert [grade.prepare(), grade.prepare(), grade.record()] == ["prepared"] * 2 + ["recorded"]
        with cluster.open_client(workers=2) as client:
            assert client == "client"
    assert (grade.prepare, grade.record, cluster.open_client) == originals
    assert 0.02 <= stages.prepare_s < 0.5 and 0.03 <= stages.record_s < 0.5
    assert 0.05 <= stages.cluster_start_s < 0.5 and 0.02 <= stages.cluster_close_s < 0.5


def test_stage_lines_give_the_jobs_per_worker(bench):
    stages = bench.Stages(cluster_start_s=1.4, cluster_close_s=0.3, prepare_s=0.6, record_s=2.0)
    stages.jobs_s = 22.0
    lines = stages.lines(17.1, workers=2)
    assert lines[0] == "where the grading command's 17.1 s went (the default run):"
    assert "jobs on the workers: 22.0 s in all = 11.0 s per worker" in lines[2]
    assert "preparing 0.6 s, recording 2.0 s" in lines[3]
    assert "the rest, per worker: 4.4 s" in lines[4]  # 17.1 - 1.4 - 0.3 - 11.0
