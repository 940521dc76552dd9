"""Tests for the `nn-autograde` command line (a thin layer over grade_assignment)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3

import pytest
from traitlets.config import Config

from autograder import __main__ as cli
from autograder.grading import grade, report, sandbox

from adversarial import course


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
    assert "limits" not in seen and "GradingLimits" not in seen["config"]
    assert seen["verify_model_file"] is True
    cli.main(["grade", "A", "--no-sandbox", "--run-all-cells", "--cell-timeout", "5"])
    assert seen["sandboxed"] is False and seen["skip_after_last_graded"] is False
    assert dict(seen["config"].GradingLimits) == {"cell_timeout": 5.0}
    cli.main(["grade", "A", "--max-processes", "16", "--disk-gib", "0.5"])
    assert dict(seen["config"].GradingLimits) == {"max_processes": 16, "disk_gib": 0.5}
    cli.main(["grade", "A", "--trust-model-facts"])
    assert seen["verify_model_file"] is False


def test_limits_come_from_the_configuration_with_flags_on_top():
    """Does c.GradingLimits in nbgrader_config.py set a limit, and a flag override it?"""
    config = Config()
    config.GradingLimits.cell_timeout = 42.0
    config.GradingLimits.disk_gib = 0.25
    config.GradingLimits.threads = 3
    limits = grade.GradingLimits(config=config).limits(workers=2)
    assert limits == dataclasses.replace(
        sandbox.Limits(), cell_timeout=42.0, disk=256 * 1024**2, threads=3
    )
    flags = Config()
    flags.GradingLimits.cell_timeout = 5.0
    config.merge(flags)
    assert grade.GradingLimits(config=config).limits(workers=2).cell_timeout == 5.0


def test_limits_default_to_the_sandboxs_defaults_with_threads_shared_among_workers():
    limits = grade.GradingLimits().limits(workers=1)
    assert dataclasses.replace(limits, threads=0) == sandbox.Limits()
    assert limits.threads == max(1, os.cpu_count() or 1)


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


@pytest.mark.slow  # waits out a kernel's start-up timeout
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


def test_the_course_configuration_file_sets_the_grading_limits(tmp_path):
    course_root = course.make_course(tmp_path)
    with (course_root / "nbgrader_config.py").open("a") as handle:
        handle.write("\nc.GradingLimits.cell_timeout = 42\n")
    plan = grade.make_plan(course_root=course_root, assignment=course.ASSIGNMENT)
    assert grade.GradingLimits(config=plan.config).limits(workers=1).cell_timeout == 42.0
    flags = Config()
    flags.GradingLimits.cell_timeout = 7.0
    plan = grade.make_plan(course_root=course_root, assignment=course.ASSIGNMENT, overrides=flags)
    assert grade.GradingLimits(config=plan.config).limits(workers=1).cell_timeout == 7.0


def test_watch_switches_turn_a_setting_on_or_off_and_leave_it_alone_when_absent(monkeypatch):
    from autograder.grading import watch

    seen = {}
    monkeypatch.setattr(watch, "watch", lambda **kwargs: seen.update(kwargs))
    assert cli.main(["watch", "A", "--once", "--no-check-owner", "--known-students-only"]) == 0
    assert dict(seen["config"].Watch) == {"check_owner": False, "known_students_only": True}
    cli.main(["watch", "A", "--once", "--check-owner"])
    assert dict(seen["config"].Watch) == {"check_owner": True}
    cli.main(["watch", "A", "--once"])
    assert dict(seen["config"].Watch) == {}
