"""Tests of the headless course runner (autograder.runner)."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import runner as course


def _write(path, *sources):
    nb = new_notebook(cells=[new_markdown_cell("# t")] + [new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.fixture
def two_notebooks(tmp_path):
    good = _write(
        tmp_path / "good.ipynb",
        "%matplotlib widget\nimport matplotlib.pyplot as plt",
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])",
        "fig2, ax2 = plt.subplots()\nax2.bar([1, 2], [3, 4])",
    )
    bad = _write(tmp_path / "bad.ipynb", "x = 1", "1 / 0", "print('never')")
    return good, bad


def test_course_notebooks_lists_labs_then_assignment(tmp_path):
    (tmp_path / "labs").mkdir()
    (tmp_path / "assignment" / "A").mkdir(parents=True)
    for name in ("labs/b.ipynb", "labs/a.ipynb", "assignment/A/A.ipynb"):
        (tmp_path / name).write_text("{}")
    names = [p.relative_to(tmp_path).as_posix() for p in course.course_notebooks(tmp_path)]
    assert names == ["labs/a.ipynb", "labs/b.ipynb", "assignment/A/A.ipynb"]


@pytest.mark.slow
def test_run_course_reports_status_and_writes_executed_copies_and_html(two_notebooks, tmp_path):
    good, bad = two_notebooks
    out = tmp_path / "out"
    results = course.run_course(notebooks=[good, bad], out_dir=out, jobs=2, timeout=120)
    assert [r.path for r in results] == [good, bad]
    assert results[0].ok
    assert not results[1].ok
    assert "cell 3 ('1 / 0'): ZeroDivisionError" in results[1].error
    html = (out / "good.html").read_text()
    images = re.findall(r'<img [^>]*src="data:image/png;base64', html)
    assert len(images) == 2, "each figure is an image in the HTML, not a widget placeholder"
    executed = nbformat.read(out / "bad.ipynb", as_version=4)
    assert executed.cells[3].outputs == [], "cells after the failure did not run"


@pytest.mark.slow
def test_main_exits_non_zero_naming_the_failing_notebook(two_notebooks, tmp_path, capsys):
    good, bad = two_notebooks
    code = course.main(["run", str(good), str(bad), "--out", str(tmp_path / "o"), "--jobs", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert "good.ipynb" in captured.out and "ok" in captured.out
    assert f"FAILED {bad}" in captured.err
    assert "ZeroDivisionError" in captured.err


def test_format_table_shows_seconds_and_error_text(tmp_path):
    results = [
        course.NotebookResult(tmp_path / "a.ipynb", 1.5, "ok"),
        course.NotebookResult(tmp_path / "b.ipynb", 2.0, "error", "cell 2: KeyError: 'x'"),
    ]
    table = course.format_table(results).splitlines()
    assert table[0].split() == ["notebook", "seconds", "status"]
    assert table[1].split() == ["a.ipynb", "1.5", "ok"]
    assert table[2].endswith("error: cell 2: KeyError: 'x'")


@pytest.mark.parametrize(
    ("jobs", "cores", "threads"), [(1, 2, "2"), (2, 2, "1"), (4, 2, "1"), (2, 8, "4")]
)
def test_thread_env_shares_cores_among_concurrent_kernels(jobs, cores, threads):
    env = course.thread_env(jobs, cores)
    assert env["TF_NUM_INTRAOP_THREADS"] == threads
    assert env["OMP_NUM_THREADS"] == threads


def _record_start(path, out_dir, timeout):
    with open(out_dir / "started.txt", "a") as log:
        log.write(path.name + "\n")
    return course.NotebookResult(path, {"a.ipynb": 2.0, "b.ipynb": 7.0}.get(path.name, 1.0), "ok")


def test_run_course_starts_the_longest_notebooks_first_and_records_times(tmp_path, monkeypatch):
    # Workers are forked, so they run the patched function.
    monkeypatch.setattr(course, "_run_one", _record_start)
    (tmp_path / course.TIMINGS_FILE).write_text('{"a.ipynb": 1.0, "b.ipynb": 5.0}')
    notebooks = [tmp_path / name for name in ("a.ipynb", "b.ipynb", "new.ipynb")]
    results = course.run_course(notebooks=notebooks, out_dir=tmp_path, jobs=1)
    assert [r.path for r in results] == notebooks, "results come back in the given order"
    started = (tmp_path / "started.txt").read_text().split()
    assert started == ["new.ipynb", "b.ipynb", "a.ipynb"], "unknown first, then longest first"
    recorded = json.loads((tmp_path / course.TIMINGS_FILE).read_text())
    assert recorded == {"a.ipynb": 2.0, "b.ipynb": 7.0, "new.ipynb": 1.0}
