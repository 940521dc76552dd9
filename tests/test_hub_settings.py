"""The class hub's course settings file, its roster in the gradebook, and what root writes in
the instructor's folder (``autograder/hub/settings.py``, ``gradebook.py``, ``prepare.py``)."""

from __future__ import annotations

import datetime
import os
import pwd
import tempfile
from pathlib import Path

import pytest
from nbgrader.plugins import LateSubmissionPlugin
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.grading.watch import Watch
from autograder.hub import prepare
from autograder.hub.accounts import Account
from autograder.hub.config import HubSettings, configure, course_config_text
from autograder.hub.layout import COURSE_CONFIG, SOURCE_DIRECTORY, HubLayout
from autograder.hub.prepare import HubSetupError
from autograder.hub.roster import DEFAULT_CLASS_FILE, load_roster
from autograder.hub.settings import (
    LATE_PENALTIES,
    SETTINGS_FILE,
    AssignmentSettings,
    CourseSettings,
    SettingsError,
    create_nofollow,
    default_text,
    load_settings,
    parse_settings,
)
from autograder.hub.settings import main as settings_main

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes owners: needs root")


def _stranger() -> Account:
    entry = pwd.getpwnam("nobody")
    return Account("nobody", entry.pw_uid, entry.pw_gid, Path("/nonexistent"))


@needs_root
def test_root_replaces_a_link_the_instructor_planted_instead_of_writing_through_it(tmp_path):
    """Does the hub's write of the course root's nbgrader_config.py leave a link's target alone?"""
    instructor = _stranger()
    course = tmp_path / "course"
    course.mkdir()
    os.chown(course, instructor.uid, instructor.gid)
    target = tmp_path / "root-only"
    target.write_text("root's\n", encoding="utf-8")
    os.chmod(target, 0o600)
    (course / "nbgrader_config.py").symlink_to(target)

    prepare._write(course / "nbgrader_config.py", "c = get_config()\n", owner=instructor)

    assert target.read_text(encoding="utf-8") == "root's\n"
    assert target.stat().st_uid == 0
    written = course / "nbgrader_config.py"
    assert not written.is_symlink()
    assert written.read_text(encoding="utf-8") == "c = get_config()\n"
    assert written.stat().st_uid == instructor.uid


# -- the settings file --------------------------------------------------------------------

ASSIGNMENTS = ("C2_W2_Assignment",)


def _parse(text: str) -> CourseSettings:
    return parse_settings(text, Path("course-settings.toml"), ASSIGNMENTS)


def test_the_default_file_is_every_setting_at_its_default_and_each_assignment_without_due():
    limit = Watch.class_traits()["max_graded_per_hour"].default_value
    penalty = LateSubmissionPlugin.class_traits()["penalty_method"].default_value

    settings = _parse(default_text(ASSIGNMENTS, limit))

    assert settings.late_penalty == penalty == "none"
    assert settings.counts == "latest-on-time-unless-later-scores-higher"
    assert settings.max_graded_per_hour == limit
    assert settings.cull_idle_after_s == 3600
    assert settings.assignments == (AssignmentSettings("C2_W2_Assignment", None),)


def test_the_late_penalties_are_nbgraders():
    assert set(LATE_PENALTIES) == set(LateSubmissionPlugin.class_traits()["penalty_method"].values)


def test_a_due_date_with_its_time_zone_is_kept_in_utc():
    settings = _parse(
        'late_penalty = "zero"\nmax_graded_per_hour = 2\ncull_idle_after_minutes = 0.5\n'
        "[assignments.C2_W2_Assignment]\ndue = 2026-12-07T18:00:00+01:00\n"
    )
    (assignment,) = settings.assignments
    assert assignment.due == datetime.datetime(2026, 12, 7, 17, tzinfo=datetime.timezone.utc)
    assert assignment.due_utc_text == "2026-12-07 17:00:00 UTC"
    assert (settings.late_penalty, settings.max_graded_per_hour) == ("zero", 2)
    assert settings.cull_idle_after_s == 30


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (
            '[assignments.C2_W2_Assignment]\ndue = "2026-12-07 17:00"\n',
            "due is the text '2026-12-07 17:00'; write the date without quotes",
        ),
        (
            "[assignments.C2_W2_Assignment]\ndue = 2026-12-07T17:00:00\n",
            "has no time zone; add one \\(Z for UTC\\)",
        ),
        (
            "[assignments.C2_W2_Assignment]\ndue = 2026-12-07\n",
            "not a date and time; write it as due = 2026-12-07T17:00:00Z",
        ),
        (
            "[assignments.C2_W2_Assignment]\ndue = 2026-13-07T17:00:00Z\n",
            "is not valid TOML: .*without quotes and with its time zone",
        ),
        ("due = 2026-12-07T17:00:00Z\n", "due is not a setting; .*\\[assignments.NAME\\]"),
        ("late_penalty = 'half'\n", "late_penalty is 'half'; write one of 'none', 'zero'"),
        ("counts = 'best'\n", "counts is 'best'; write one of"),
        ("max_graded_per_hour = -1\n", "write a whole number of submissions, 0 for no limit"),
        ("max_graded_per_hour = 2.5\n", "write a whole number"),
        ("cull_idle_after_minutes = 0.1\n", "at least 0.5, or 0 to never"),
        ("cull_idle_after_minutes = 'an hour'\n", "write minutes"),
        ("[assignments.C2_W3]\n", "names no assignment of the course; the assignments are C2_W2"),
        ("[assignments.C2_W2_Assignment]\npoints = 3\n", "points is not a setting"),
    ],
)
def test_a_broken_settings_file_is_refused_saying_what_and_how_to_fix_it(text, complaint):
    with pytest.raises(SettingsError, match=complaint):
        _parse(text)


def test_no_assignment_table_means_no_watcher_and_no_culler_with_zero_minutes():
    settings = _parse("cull_idle_after_minutes = 0\n")
    assert settings.assignments == ()
    assert settings.cull_idle_after_s == 0
    config = _hub_config(settings)
    assert list(config.JupyterHub.services) == []


@needs_root
def test_root_does_not_read_the_settings_through_a_link(tmp_path):
    """Does the hub refuse a settings file that is a link to a root-only file (whose keys an
    error message would otherwise show)?"""
    course = tmp_path / "course"
    course.mkdir()
    secret = tmp_path / "root-only.toml"
    secret.write_text('root_password = "hunter2"\n', encoding="utf-8")
    os.chmod(secret, 0o600)
    (course / SETTINGS_FILE).symlink_to(secret)

    with pytest.raises(SettingsError) as refused:
        load_settings(course, ASSIGNMENTS)

    assert "not a link" in str(refused.value)
    assert "root_password" not in str(refused.value)


@needs_root
def test_the_default_file_is_the_instructors_and_never_written_through_a_link(tmp_path):
    instructor = _stranger()
    course = tmp_path / "course"
    course.mkdir()
    assert create_nofollow(course, SETTINGS_FILE, "late_penalty = 'none'\n", instructor.uid, 0)
    written = (course / SETTINGS_FILE).stat()
    assert (written.st_uid, written.st_mode & 0o777) == (instructor.uid, 0o600)
    assert not create_nofollow(course, SETTINGS_FILE, "changed", 0, 0), "an edited file stays"
    assert (course / SETTINGS_FILE).read_text(encoding="utf-8") == "late_penalty = 'none'\n"

    target = tmp_path / "root-only"
    target.write_text("root's\n", encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / SETTINGS_FILE).symlink_to(target)
    assert not create_nofollow(other, SETTINGS_FILE, "x", instructor.uid, 0)
    assert target.read_text(encoding="utf-8") == "root's\n"
    assert target.stat().st_uid == 0


def test_the_check_command_says_what_the_file_sets_or_what_is_wrong(tmp_path, capsys):
    path = tmp_path / SETTINGS_FILE
    path.write_text(
        "max_graded_per_hour = 0\n[assignments.C2_W2_Assignment]\ndue = 2026-12-07T17:00:00Z\n",
        encoding="utf-8",
    )
    assert settings_main([str(path)]) == 0
    shown = capsys.readouterr().out
    assert "C2_W2_Assignment: graded on submission, due 2026-12-07 17:00:00 UTC" in shown
    assert "submissions graded per student per hour: no limit" in shown
    assert "applies when the hub restarts" in shown

    path.write_text("[assignments.C2_W2_Assignment]\ndue = 2026-12-07T17:00:00\n", "utf-8")
    assert settings_main([str(path)]) == 1
    assert "has no time zone" in capsys.readouterr().err


# -- what the settings become ---------------------------------------------------------------


def _hub_settings(tmp_path: Path, course: CourseSettings) -> HubSettings:
    roster = load_roster()
    return HubSettings(
        state=str(tmp_path),
        ip="127.0.0.1",
        port=8000,
        hub_port=8081,
        proxy_api_port=8001,
        status_port=8002,
        course_id=roster.course_id,
        instructor=roster.instructor,
        students=roster.students,
        venv_bin="/venv/bin",
        students_bin=str(tmp_path / "students-env" / "bin"),
        proxy_command="/venv/node/node_modules/.bin/configurable-http-proxy",
        watched=tuple(a.name for a in course.assignments),
        max_graded_per_hour=course.max_graded_per_hour,
        cull_idle_after_s=course.cull_idle_after_s,
    )


def _hub_config(course: CourseSettings):
    with tempfile.TemporaryDirectory() as scratch:
        settings = _hub_settings(Path(scratch), course)
        settings.write(Path(scratch) / "hub-settings.json")
        assert HubSettings.read(Path(scratch) / "hub-settings.json") == settings
        c = Config()
        configure(c, Path(scratch) / "hub-settings.json")
        return c


def test_the_watcher_is_a_hub_service_run_as_the_instructor_with_the_hourly_limit():
    course = _parse("max_graded_per_hour = 2\n[assignments.C2_W2_Assignment]\n")
    config = _hub_config(course)
    (watcher, _status, culler) = config.JupyterHub.services
    roster = load_roster()
    assert watcher["name"] == "watch-C2_W2_Assignment"
    assert watcher["user"] == roster.instructor
    command = watcher["command"]
    tail = command[command.index("--") + 1 :]
    assert tail[:3] == ["/venv/bin/nn-autograde", "watch", "C2_W2_Assignment"]
    assert tail[tail.index("--max-graded-per-hour") + 1] == "2"
    assert "--known-students-only" in tail
    assert culler["user"] == roster.instructor
    assert "--timeout=3600" in culler["command"]
    (_status_role, role) = config.JupyterHub.load_roles
    assert role["services"] == [culler["name"]]
    assert "admin:users" not in role["scopes"] and "delete:servers" in role["scopes"]


def test_the_status_page_is_a_hub_service_on_loopback_that_the_class_alone_may_open():
    course = _parse("max_graded_per_hour = 2\n[assignments.C2_W2_Assignment]\n")
    config = _hub_config(course)
    (_watcher, status, _culler) = config.JupyterHub.services
    roster = load_roster()
    assert status["name"] == "submissions"
    assert status["url"] == "http://127.0.0.1:8002"
    assert status["user"] == roster.instructor, "the queues are the instructor's"
    assert status["display"] is True and status["oauth_no_confirm"] is True
    assert status["oauth_client_allowed_scopes"] == [], "a student's login only names them"
    assert set(status["environment"]) == {"PATH", "HOME"}
    assert status["command"][1:3] == ["-m", "autograder.hub.status_service"]
    assert "--assignment=C2_W2_Assignment" in status["command"]
    assert "--max-graded-per-hour=2" in status["command"]
    (role, _culler_role) = config.JupyterHub.load_roles
    assert role["scopes"] == ["access:services!service=submissions"]
    assert role["users"] == list(roster.users)
    assert "services" not in role and "groups" not in role


def test_the_late_penalty_reaches_the_course_roots_nbgrader_config(tmp_path):
    layout = HubLayout(tmp_path / "state")
    path = tmp_path / "nbgrader_config.py"
    path.write_text(
        course_config_text(layout, COURSE_CONFIG, SOURCE_DIRECTORY, late_penalty="zero"), "utf-8"
    )
    config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    assert config.LateSubmissionPlugin.penalty_method == "zero"


@needs_root
def test_the_hub_refuses_to_start_on_a_broken_settings_file_and_says_how_to_fix_it(tmp_path):
    state = tmp_path / "state"
    course = HubLayout(state).course_root
    course.mkdir(parents=True)
    (course / SETTINGS_FILE).write_text(
        "[assignments.C2_W2_Assignment]\ndue = 2026-12-07\n", encoding="utf-8"
    )
    with pytest.raises(HubSetupError) as refused:
        prepare.prepare_hub(class_file=DEFAULT_CLASS_FILE, state=state)
    message = str(refused.value)
    assert "due = 2026-12-07T17:00:00Z" in message
    assert "python -m autograder.hub.settings" in message
    assert not HubLayout(state).students_env.exists(), "it stops before building anything"
