"""Tests for the `nn-autograde` command line (a thin layer over grade_assignment)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3

import pytest
from adversarial import course

from autograder import __main__ as cli
from autograder import grade, report, sandbox


def test_grade_refuses_without_bubblewrap_unless_no_sandbox(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    assert cli.main(["grade", "C2_W2_Assignment", "--course-root", str(tmp_path)]) == 2
    assert "--no-sandbox" in capsys.readouterr().err


def test_grade_forwards_arguments_and_leaves_defaults_to_grade_assignment(monkeypatch):
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return []

    monkeypatch.setattr(grade, "grade_assignment", fake)
    assert cli.main(["grade", "A", "--workers", "3", "--student", "s1", "--force"]) == 0
    assert seen["assignment"] == "A" and seen["workers"] == 3 and seen["student"] == "s1"
    assert seen["force"] is True and seen["sandboxed"] is True
    assert seen["skip_after_last_graded"] is True and seen["scheduler"] is None
    assert seen["limits"] == sandbox.Limits()
    assert seen["verify_model_file"] is True
    cli.main(["grade", "A", "--no-sandbox", "--run-all-cells", "--cell-timeout", "5"])
    assert seen["sandboxed"] is False and seen["skip_after_last_graded"] is False
    assert seen["limits"] == dataclasses.replace(sandbox.Limits(), cell_timeout=5.0)
    cli.main(["grade", "A", "--max-processes", "16"])
    assert seen["limits"] == dataclasses.replace(sandbox.Limits(), processes=16)
    cli.main(["grade", "A", "--disk-gib", "0.5"])
    assert seen["limits"] == dataclasses.replace(sandbox.Limits(), disk=512 * 1024**2)
    cli.main(["grade", "A", "--trust-model-facts"])
    assert seen["verify_model_file"] is False


def test_limits_reject_non_positive_values():
    with pytest.raises(ValueError, match="cell_timeout"):
        sandbox.Limits(cell_timeout=0)
    with pytest.raises(ValueError, match="processes"):
        sandbox.Limits(processes=0)


def test_table_says_when_a_submission_ran_without_the_sandbox():
    rows = [
        grade.Outcome("ann", 4.0, 4.0, 1.25, "ok", sandbox=True),
        grade.Outcome("bob", 0.0, 4.0, 0.0, "corrupt_notebook", sandbox=False),
    ]
    lines = report.format_table(rows).splitlines()
    assert lines[0].split() == ["student", "score", "max", "time_s", "status", "sandbox"]
    assert lines[1].split() == ["ann", "4", "4", "1.2", "ok", "yes"]
    assert "NO (--no-sandbox)" in lines[2]


def test_a_kernel_that_cannot_start_is_a_grading_error_and_nothing_is_recorded(
    monkeypatch, tmp_path, capsys
):
    course_root = course.make_course(tmp_path)
    course.submit(course_root, "ann", course.submission(course_root))
    # A `bwrap` first on PATH that exits at once: the Dask workers (new processes) find it too.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    args = ["grade", course.ASSIGNMENT, "--course-root", str(course_root), "--workers", "1"]
    assert cli.main([*args, "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "grading_error" in out
    db = sqlite3.connect(course_root / "gradebook.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM grade").fetchone() == (0,)
    finally:
        db.close()
    assert not (course_root / "autograded").exists()
