"""benchmarks/notebook_bench.py: its options, figures and report, on fake timings (no kernels)."""

from __future__ import annotations

import importlib
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import REPO_ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("notebook_bench")


def _fake(bench):
    cells = (
        bench.CellTime(0, "import tensorflow as tf", 4.0),
        bench.CellTime(3, "model.fit(X, y, epochs=40)", 9.5),
        bench.CellTime(7, "plot_digits(X)", 1.25),
    )
    return [
        bench.NotebookTime("C2_W2_Relu", 3.0, (bench.CellTime(1, "x = 1", 0.1),)),
        bench.NotebookTime("C2_W2_Assignment", 20.0, cells),
    ]


def test_bench_lists_the_six_reproduced_notebooks_that_exist(bench):
    assert len(bench.REPRODUCED) == 6
    assert all((REPO_ROOT / rel).is_file() for rel in bench.REPRODUCED)


def test_bench_options_default_and_parse(bench, tmp_path):
    args = bench.parse_args([])
    assert (args.repeat, args.top, args.json) == (1, 3, None)
    args = bench.parse_args(["--repeat", "5", "--top", "2", "--json", str(tmp_path / "f.json")])
    assert (args.repeat, args.top, args.json) == (5, 2, tmp_path / "f.json")
    with pytest.raises(SystemExit):
        bench.parse_args(["--repeat", "0"])


def test_figures_take_the_median_floor_and_total_in_floors(bench):
    fig = bench.figures([6.0, 4.0, 5.0], _fake(bench))
    assert fig["floor_s"] == 5.0
    assert [nb["x_floor"] for nb in fig["notebooks"]] == [0.6, 4.0]
    assert fig["total_s"] == 23.0
    assert fig["total_x_floor"] == pytest.approx(4.6)
    assert json.loads(json.dumps(fig)) == fig  # what --json writes


def test_report_shows_ratios_total_verdict_and_slowest_cells_first(bench):
    report = bench.format_report(bench.figures([5.0, 5.0, 5.0], _fake(bench)), top=2)
    assert "C2_W2_Assignment      20.0    4.00" in report
    assert "4.60   (within the target of 7 F)" in report
    assignment = report.split("  C2_W2_Assignment\n")[1].splitlines()
    assert assignment[0].split() == ["cell", "3", "9.50", "s", "model.fit(X,", "y,", "epochs=40)"]
    assert "import tensorflow" in assignment[1]
    assert "plot_digits" not in report  # only the top 2


def test_report_says_how_busy_the_machine_was_at_the_start_and_end(bench):
    fig = bench.figures([5.0], _fake(bench), load_start=(3.5, 2.0, 1.0))
    first = bench.format_report(fig).splitlines()[0]
    assert "at the start 3.50, 2.00, 1.00, at the end" in first


def test_report_says_when_the_total_is_over_the_target(bench):
    report = bench.format_report(bench.figures([2.0], _fake(bench)))
    assert "11.50   (over the target of 7 F)" in report


def test_cell_times_read_nbclient_timestamps(bench):
    code = new_code_cell("\n  model.fit(X, y)\nprint(1)")
    code.metadata["execution"] = {
        "iopub.status.busy": "2026-11-30T13:00:00.000000Z",
        "iopub.execute_input": "2026-11-30T13:00:00.500000Z",
        "shell.execute_reply": "2026-11-30T13:00:03.000000Z",
    }
    unexecuted = new_code_cell("pass")
    nb = nbformat.from_dict(new_notebook(cells=[new_markdown_cell("# t"), code, unexecuted]))
    assert bench.cell_times(nb) == (bench.CellTime(1, "model.fit(X, y)", 2.5),)
