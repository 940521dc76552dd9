"""Tests for the `nn-autograde` command line (a thin layer over grade_assignment)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3

import pytest
from traitlets.config import Config

from autograder import __main__ as cli
from autograder.grading import grade, planning, report, sandbox
from autograder.grading.limits import GradingLimits, Limits
from autograder.grading.recording import Outcome
from autograder.kernel.protocol import Status

from adversarial import course


def test_grade_refuses_without_bubblewrap_unless_no_sandbox(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    assert cli.main(["grade", "C2_W2_Assignment", "--course-root", str(tmp_path)]) == 2
    assert "--no-sandbox" in capsys.readouterr().err


def _options_of(monkeypatch, argv):
    """Return the GradingOptions (and config) the command hands to grade() for ``argv``."""
    seen = {}

    def fake(options, *, config=None, **kwargs):
        seen.update(options=options, config=config)
        return []

    monkeypatch.setattr(grade, "grade", fake)
    assert cli.main(["grade", *argv]) == 0
    return seen["options"]


def test_grade_turns_flags_into_one_options_object_with_the_defaults_of_the_traits(
    monkeypatch, tmp_path
):
    """Do the flags reach GradingOptions, and does everything else keep its trait default?"""
    root = ["--course-root", str(tmp_path)]
    options = _options_of(monkeypatch, ["A", *root, "--workers", "3", "--student", "s1", "--force"])
    assert (options.assignment, options.workers, options.student) == ("A", 3, "s1")
    assert options.force is True and options.sandboxed is True
    assert options.skip_after_last_graded is True and options.scheduler is None
    assert options.verify_model_file is True and options.course_root == tmp_path.resolve()
    assert options.limits == Limits().for_workers(3)
    options = _options_of(
        monkeypatch, ["A", *root, "--no-sandbox", "--run-all-cells", "--cell-timeout", "5"]
    )
    assert options.sandboxed is False and options.skip_after_last_graded is False
    assert options.limits.cell_timeout == 5.0
    options = _options_of(monkeypatch, ["A", *root, "--max-processes", "16", "--disk-gib", "0.5"])
    assert (options.limits.processes, options.limits.disk) == (16, 512 * 1024**2)
    options = _options_of(monkeypatch, ["A", *root, "--trust-model-facts", "--no-progress"])
    assert options.verify_model_file is False and options.show_progress is False
    options = _options_of(monkeypatch, ["A", *root, "--allow-unenforced-limits"])
    assert options.limits.allow_unenforced is True


def test_every_limit_setting_is_a_flag_of_the_grading_command():
    """Is each c.GradingLimits setting a --flag (or switch) of `nn-autograde grade`?"""
    from autograder.grading.app import GradeApp

    options = {f"GradingLimits.{n}" for n in GradingLimits.class_traits(config=True)}
    aliased = set(GradeApp.aliases.values())
    switched = {
        f"{cls}.{n}" for conf, _ in GradeApp.flags.values() for cls in conf for n in conf[cls]
    }
    assert options <= aliased | switched


def test_grade_without_an_assignment_name_says_how_to_call_it(tmp_path, capsys):
    assert cli.main(["grade", "--course-root", str(tmp_path)]) == 2
    assert "give exactly one assignment name" in capsys.readouterr().err


def test_limits_come_from_the_configuration_with_flags_on_top():
    """Does c.GradingLimits in nbgrader_config.py set a limit, and a flag override it?"""
    config = Config()
    config.GradingLimits.cell_timeout = 42.0
    config.GradingLimits.disk_gib = 0.25
    config.GradingLimits.threads = 3
    limits = GradingLimits(config=config).limits(workers=2)
    assert limits == dataclasses.replace(Limits(), cell_timeout=42.0, disk=256 * 1024**2, threads=3)
    flags = Config()
    flags.GradingLimits.cell_timeout = 5.0
    config.merge(flags)
    assert GradingLimits(config=config).limits(workers=2).cell_timeout == 5.0


def test_limits_default_to_the_sandboxs_defaults_with_threads_shared_among_workers():
    limits = GradingLimits().limits(workers=1)
    assert dataclasses.replace(limits, threads=0) == Limits()
    assert limits.threads == max(1, os.cpu_count() or 1)
    assert Limits().for_workers(2 * (os.cpu_count() or 1)).threads == 1


def test_a_missing_prlimit_stops_grading_unless_the_instructor_allows_it(monkeypatch):
    """Is a limit that cannot be applied an error that says how to fix it, not a silent drop?"""
    monkeypatch.setattr(sandbox, "prlimit_path", lambda: None)
    with pytest.raises(sandbox.LimitsUnavailable, match="--allow-unenforced-limits"):
        sandbox.check_available(Limits(), sandboxed=False)
    with pytest.raises(sandbox.LimitsUnavailable, match="prlimit"):
        sandbox.prlimit_prefix(Limits())
    allowed = Limits(allow_unenforced=True)
    sandbox.check_available(allowed, sandboxed=False)
    assert sandbox.prlimit_prefix(allowed) == []


def test_the_grading_command_refuses_to_run_without_prlimit(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "prlimit_path", lambda: None)
    argv = ["grade", "A", "--course-root", str(tmp_path), "--no-sandbox"]
    assert cli.main(argv) == 2
    assert "--allow-unenforced-limits" in capsys.readouterr().err


def test_limits_reject_non_positive_values():
    with pytest.raises(ValueError, match="cell_timeout"):
        Limits(cell_timeout=0)
    with pytest.raises(ValueError, match="processes"):
        Limits(processes=0)


def test_table_says_when_a_submission_ran_without_the_sandbox():
    rows = [
        Outcome("ann", 4.0, 4.0, 1.25, Status.OK, sandbox=True),
        Outcome("bob", 0.0, 4.0, 0.0, Status.CORRUPT_NOTEBOOK, sandbox=False),
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


@pytest.mark.slow  # builds a course with nbgrader
def test_the_course_configuration_file_sets_the_grading_limits(monkeypatch, tmp_path):
    course_root = course.make_course(tmp_path)
    with (course_root / "nbgrader_config.py").open("a") as handle:
        handle.write("\nc.GradingLimits.cell_timeout = 42\n")
    plan = planning.make_plan(course_root=course_root, assignment=course.ASSIGNMENT)
    assert GradingLimits(config=plan.config).limits(workers=1).cell_timeout == 42.0
    flags = Config()
    flags.GradingLimits.cell_timeout = 7.0
    plan = planning.make_plan(
        course_root=course_root, assignment=course.ASSIGNMENT, overrides=flags
    )
    assert GradingLimits(config=plan.config).limits(workers=1).cell_timeout == 7.0

    # On the command line, a flag wins over the file.
    with (course_root / "nbgrader_config.py").open("a") as handle:
        handle.write("c.GradingLimits.disk_gib = 0.5\n")
    root = ["--course-root", str(course_root)]
    options = _options_of(monkeypatch, [course.ASSIGNMENT, *root, "--cell-timeout", "7"])
    assert options.limits.cell_timeout == 7.0 and options.limits.disk == 512 * 1024**2


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


def test_the_grading_side_opens_the_gradebook_with_the_course_id():
    """Does every `Gradebook(...)` of autograder/grading name the course (no `default_course`)?"""
    import ast
    from pathlib import Path

    folder = Path(grade.__file__).parent
    unnamed = []
    for path in sorted(folder.rglob("*.py")):
        if "watch" in path.relative_to(folder).parts[0]:
            continue  # the watcher is being rewritten (issue 22); its edit is in the report
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Gradebook"
                and len(node.args) < 2
                and not any(k.arg == "course_id" for k in node.keywords)
            ):
                unnamed.append(f"{path.name}:{node.lineno}")
    assert not unnamed, f"Gradebook opened without the course id at {unnamed}"
