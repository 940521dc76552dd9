"""The class hub's services: the grading watcher, the status page and the idle culler, on a
real hub (slow, root).

The hub starts with the command of docs/class-hub.md, in a temporary state folder whose
course settings file the instructor wrote before: a due date, an hourly limit and a half-minute
idle timeout. Then: the roster and the due date are in the gradebook; the watcher service runs
as the instructor, without the hub's token, logs where the instructor (and no student) reads,
and comes back when killed; the status page runs as the instructor on loopback, sends a
request without a login to the hub's, and shows a logged-in student their page; an idle
student's server is stopped.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import pwd
import re
import shlex
import signal
import time
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest
from hub_harness import ClassHub, can_run_hub, readme_hub_blocks

from autograder.hub import status_service, watch_service
from autograder.hub.layout import HubLayout
from autograder.hub.settings import SETTINGS_FILE

ASSIGNMENT = "C2_W2_Assignment"
SETTINGS = (
    "max_graded_per_hour = 2\n"
    'counts = "latest"\n'
    "cull_idle_after_minutes = 0.5\n"
    f"[assignments.{ASSIGNMENT}]\n"
    "due = 2026-12-07T18:00:00+01:00\n"
)


# -- the log, without a hub ------------------------------------------------------------------


def test_the_watchers_log_is_a_private_file_in_a_private_folder(tmp_path):
    fd = watch_service.open_log(tmp_path, ASSIGNMENT)
    os.write(fd, b"line\n")
    os.close(fd)
    log = tmp_path / watch_service.LOG_FOLDER / watch_service.log_name(ASSIGNMENT)
    assert log.read_bytes() == b"line\n"
    assert (log.stat().st_mode & 0o777, log.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    fd = watch_service.open_log(tmp_path, ASSIGNMENT)
    os.write(fd, b"more\n")
    os.close(fd)
    assert log.read_bytes() == b"line\nmore\n", "appended across restarts"


@pytest.mark.parametrize("linked", ["file", "folder"])
def test_the_watcher_does_not_write_its_log_through_a_link(tmp_path, linked):
    """Is a link at the log's place (or its folder's) refused, its target left alone?"""
    course = tmp_path / "course"
    course.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / watch_service.log_name(ASSIGNMENT)).write_text("kept\n", encoding="utf-8")
    if linked == "folder":
        (course / watch_service.LOG_FOLDER).symlink_to(target)
    else:
        (course / watch_service.LOG_FOLDER).mkdir()
        (course / watch_service.LOG_FOLDER / watch_service.log_name(ASSIGNMENT)).symlink_to(
            target / watch_service.log_name(ASSIGNMENT)
        )

    with pytest.raises(watch_service.LogError):
        watch_service.open_log(course, ASSIGNMENT)

    assert (target / watch_service.log_name(ASSIGNMENT)).read_text(encoding="utf-8") == "kept\n"


# -- on a hub ----------------------------------------------------------------------------------


def on_a_hub(test):
    for mark in (pytest.mark.slow, pytest.mark.timeout(900)):
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def hub():
    """A hub started by the page's command on a state folder with the instructor's settings."""
    reason = can_run_hub()
    if reason:
        pytest.skip(reason)
    started = ClassHub(readme_hub_blocks()[0].strip())
    instructor = pwd.getpwnam("nnc-instructor")  # the class file's; created if missing
    course = HubLayout(started.state).course_root
    course.mkdir(parents=True)
    (course / SETTINGS_FILE).write_text(SETTINGS, encoding="utf-8")
    for path in (course, course / SETTINGS_FILE):
        os.chown(path, instructor.pw_uid, instructor.pw_gid)
    started.start()
    yield started
    leftovers = started.stop()
    started.remove_state()
    assert leftovers == [], f"class processes outlived the hub: {leftovers}"


def processes_of(hub: ClassHub, user: str, needle: str) -> list[psutil.Process]:
    """Return ``user``'s processes of this hub whose command line holds ``needle``."""
    uid = pwd.getpwnam(user).pw_uid
    found = []
    for process in hub.class_processes():
        with contextlib.suppress(psutil.Error):
            if process.uids().real == uid and needle in " ".join(process.cmdline()):
                found.append(process)
    return found


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(1)


@on_a_hub
def test_the_hub_puts_the_roster_and_the_due_date_into_the_gradebook(hub):
    shown = hub.run_as(
        hub.settings.instructor,
        "python -c 'from nbgrader.api import Gradebook\n"
        'with Gradebook("sqlite:///gradebook.db") as gb:\n'
        '    print(gb.find_assignment("' + ASSIGNMENT + '").duedate)\n'
        "    for s in gb.students: print(s.id, s.first_name, s.last_name, s.email)'",
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "2026-12-07 17:00:00"
    assert "nnc-alan Alan Turing nnc-alan@example.edu" in lines


@on_a_hub
def test_the_watcher_service_runs_as_the_instructor_logs_privately_and_comes_back(hub):
    instructor, student = hub.settings.instructor, hub.settings.students[0]
    course = hub.layout.course_root
    log = course / watch_service.LOG_FOLDER / watch_service.log_name(ASSIGNMENT)
    # Before the release the service waits, and says so in its log.
    wait_for(lambda: log.exists() and "waiting for" in log.read_text(), 120, "the waiting line")
    released = hub.run_as(
        instructor,
        f"nbgrader generate_assignment {ASSIGNMENT} && nbgrader release_assignment {ASSIGNMENT}",
    )
    assert released.returncode == 0, released.stderr[-3000:]
    watcher = hub.wait_for_watcher(ASSIGNMENT, timeout_s=60)
    command = watcher.cmdline()
    assert command[command.index("--max-graded-per-hour") + 1] == "2"
    assert command[command.index("--counts") + 1] == "latest"
    environment = watcher.environ()
    assert "JUPYTERHUB_API_TOKEN" not in environment, "student code would run beside the token"
    assert environment["HOME"] == str(hub.layout.home(instructor))
    assert watcher.cwd() == str(course)

    # Its log: the instructor reads it, a student cannot.
    read = hub.run_as(instructor, f"cat {shlex.quote(str(log))}")
    assert read.returncode == 0 and f"watcher service of {ASSIGNMENT} started" in read.stdout
    tried = hub.run_as(student, f"cat {shlex.quote(str(log))}")
    assert tried.returncode != 0 and "Permission denied" in tried.stderr

    # Killed, it is started again by the hub (which looks every 30 s or so).
    os.kill(watcher.pid, signal.SIGKILL)
    again = hub.wait_for_watcher(ASSIGNMENT, other_than=watcher.pid, timeout_s=90)
    assert again.username() == instructor
    assert read.stdout.count("started") < hub.run_as(instructor, f"cat {log}").stdout.count(
        "started"
    )


def log_in(hub: ClassHub, user: str) -> urllib.request.OpenerDirector:
    """Log ``user`` in through the hub's login form, which starts their server; return the
    opener that holds the login's cookies."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{hub.url}/hub/login", timeout=30).read().decode()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    form = {"username": user, "password": hub.password(user), "_xsrf": xsrf}
    with contextlib.suppress(urllib.error.HTTPError, TimeoutError):
        opener.open(f"{hub.url}/hub/login", urllib.parse.urlencode(form).encode(), timeout=30)
    return opener


class _Unfollowed(urllib.request.HTTPRedirectHandler):
    """Leave a redirect to the caller (urllib raises it as an HTTPError)."""

    def redirect_request(self, *args, **kwargs):
        return None


def redirect_of(url: str) -> tuple[int, str, str]:
    """GET ``url`` without a cookie nor following a redirect: its status, location and body."""
    try:
        answer = urllib.request.build_opener(_Unfollowed).open(url, timeout=30)
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location", ""), err.read().decode()
    return answer.status, "", answer.read().decode()


STATUS_MODULE = "autograder.hub.status_service"


@on_a_hub
def test_the_status_page_runs_as_the_instructor_on_loopback_behind_the_hubs_login(hub):
    instructor, student = hub.settings.instructor, hub.settings.students[0]
    # Exactly one (a service the hub restarts may briefly overlap with the one on its way out).
    (service,) = wait_for(
        lambda: len(found := processes_of(hub, instructor, STATUS_MODULE)) == 1 and found,
        60,
        "one status page",
    )
    prefix = f"/services/{status_service.SERVICE}/"
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in service.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {("127.0.0.1", hub.settings.status_port)}
    # Without a login, through the hub's proxy or straight at its port (a classmate's shell):
    # sent to the hub's login, with nothing of anybody's.
    for url in (f"{hub.url}{prefix}", f"http://127.0.0.1:{hub.settings.status_port}{prefix}"):
        code, location, body = redirect_of(url)
        assert code == 302 and "/hub/api/oauth2/authorize?" in location, (url, code, location)
        assert student not in body
    # Logged in, a student goes through the hub's OAuth (no page to confirm) to their own page.
    page = log_in(hub, student).open(f"{hub.url}{prefix}", timeout=60).read().decode()
    assert f"Submissions of {student}" in page, page[-2000:]
    assert "No submission of yours has reached the grader yet." in page


@on_a_hub
def test_an_idle_students_server_is_stopped_by_the_culler(hub):
    student = hub.settings.students[-1]
    log_in(hub, student)
    (server,) = wait_for(
        lambda: processes_of(hub, student, "jupyterhub-singleuser"), 150, "the student's server"
    )
    started = time.monotonic()
    # Nobody uses it: half a minute idle, and the culler looks every 15 s.
    wait_for(lambda: not server.is_running(), 150, "the culler stopping the idle server")
    assert time.monotonic() - started >= 10, "stopped by something else than idleness"
    # The culler's own line, in the hub's output (a managed service writes there).
    assert f"Culling server {student} (inactive for" in hub.log_tail(500_000)
