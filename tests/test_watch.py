"""The watcher (`nn-autograde watch`) on a temporary nbgrader exchange, with the mini assignment.

Students submit and fetch feedback with nbgrader's own exchange classes; the watcher runs
in this process (``watch.watch``, with a fake clock where time matters) or as the command.
Each grading of the mini assignment costs a sandboxed kernel start and NumPy.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import watch_support as ws
from nbgrader.api import Gradebook
from traitlets.config import Config

from autograder.grading import deadline, lms, watch
from autograder.grading.watch import collect

# Nearly every test here grades a submission in a sandboxed kernel (5-20 s each).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _by_student(entries) -> dict[str, list[watch.Entry]]:
    found: dict[str, list[watch.Entry]] = {}
    for entry in entries:
        found.setdefault(entry.student, []).append(entry)
    return found


def _gradebook_total(course: Path, student: str) -> float:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return gb.find_submission(ws.MINI, student).score


def _feedback_text(course: Path, student: str) -> str:
    pages = ws.fetch_feedback(course, student)
    assert pages, f"no feedback fetched for {student}"
    return pages[-1].read_text(encoding="utf-8")


def test_watch_grades_each_submission_and_releases_feedback_only_to_its_student(course, run_watch):
    ws.submit(course, "alice", ws.answered(course, ws.CORRECT))
    ws.submit(course, "bob", ws.answered(course, ws.NAIVE))

    entries = _by_student(run_watch(course))

    assert [e.state for e in entries["alice"]] == ["done"]
    assert (entries["alice"][0].score, entries["bob"][0].score) == (ws.FULL_SCORE, ws.NAIVE_SCORE)
    assert entries["alice"][0].feedback == "full"  # no due date: full feedback
    alice, bob = ws.fetch_feedback(course, "alice"), ws.fetch_feedback(course, "bob")
    assert len(alice) == len(bob) == 1
    assert "4 / 4 points" in alice[0].read_text(encoding="utf-8")
    assert "2 / 4 points" in bob[0].read_text(encoding="utf-8")
    released = sorted((ws.exchange_of(course) / ws.COURSE_ID / "feedback").glob("*.html"))
    assert len(released) == 2  # named after each submission's secret: one page per student
    # nbgrader's own export works on the result.
    ws.nbgrader(course, "export")
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grades.csv").open())}
    assert float(rows["alice"]["score"]) == ws.FULL_SCORE
    assert float(rows["bob"]["score"]) == ws.NAIVE_SCORE


def test_queue_records_times_and_prints_as_json_lines(course, run_watch):
    ws.submit(course, "alice", ws.answered(course))
    run_watch(course)
    shown = subprocess.run(
        [sys.executable, "-m", "autograder", "queue", ws.MINI, "--json"],
        cwd=course,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (entry,) = [json.loads(line) for line in shown.splitlines()]
    assert entry["state"] == "done" and entry["status"] == "ok" and entry["feedback"] == "full"
    for key in ("seen_at", *watch.STAGES.values(), "finished_at", "timestamp"):
        assert datetime.datetime.fromisoformat(entry[key]).tzinfo is not None
    assert watch.queue_path(course, ws.MINI).stat().st_mode & 0o777 == 0o600
    assert watch.queue_path(course, ws.MINI).parent.stat().st_mode & 0o777 == 0o700


def test_resubmission_is_graded_again_and_the_earlier_waiting_one_superseded(course, run_watch):
    ws.submit(course, "alice", ws.answered(course, ws.NAIVE))
    run_watch(course)
    ws.submit(course, "alice", ws.answered(course, ws.NAIVE))
    ws.submit(course, "alice", ws.answered(course, ws.CORRECT))

    entries = run_watch(course)

    assert [e.state for e in entries] == ["done", "superseded", "done"]
    assert entries[-1].score == ws.FULL_SCORE
    assert _gradebook_total(course, "alice") == ws.FULL_SCORE
    assert "4 / 4 points" in _feedback_text(course, "alice")


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        return self.now


def test_student_over_the_hourly_limit_waits_and_is_graded_later(course, run_watch):
    clock = _Clock()
    limit = Config()
    limit.Watch.max_graded_per_hour = 1
    ws.submit(course, "alice", ws.answered(course, ws.NAIVE))
    run_watch(course, clock=clock, config=limit)
    ws.submit(course, "alice", ws.answered(course, ws.CORRECT))

    clock.now += datetime.timedelta(minutes=10)
    first, second = run_watch(course, clock=clock, config=limit)

    assert (first.state, second.state) == ("done", "waiting")
    assert second.not_before == first.started_at + datetime.timedelta(hours=1)
    assert _gradebook_total(course, "alice") == ws.NAIVE_SCORE  # not graded yet

    clock.now += datetime.timedelta(minutes=51)
    first, second = run_watch(course, clock=clock, config=limit)

    assert (first.state, second.state) == ("done", "done")
    assert _gradebook_total(course, "alice") == ws.FULL_SCORE


def _late_name(student: str) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    return f"{student}+{ws.MINI}+{stamp}"


def test_malformed_submissions_are_recorded_with_a_reason_and_the_queue_goes_on(
    course, monkeypatch, run_watch
):
    # Each folder is as its maker left it: no wait for files still being written.
    monkeypatch.setattr(collect, "SETTLE_S", 0.0)
    source = course.parent.parent / "assignment" / ws.MINI / f"{ws.MINI}.ipynb"
    notebook = f"{ws.MINI}.ipynb"
    ws.inbound_folder(course, _late_name("carol") + "+r1").joinpath(notebook).write_text("hi")
    with ws.inbound_folder(course, _late_name("dave")).joinpath(notebook).open("wb") as handle:
        handle.truncate(65 * 1024**2)  # sparse: costs no disk
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nbformat.write(other, ws.inbound_folder(course, _late_name("erin")) / notebook)
    nbformat.write(other, ws.inbound_folder(course, _late_name("fay")) / "Other.ipynb")
    ws.inbound_folder(course, _late_name("gus")).joinpath(notebook).symlink_to(source)
    nbformat.write(other, ws.inbound_folder(course, _late_name("bad name;$(id)")) / notebook)
    ws.inbound_folder(course, f"hal+{ws.MINI}+not-a-time")
    inbound = ws.exchange_of(course) / ws.COURSE_ID / "inbound"
    (inbound / _late_name("ivy")).write_text("a file, not a folder")
    ws.submit(course, "alice", ws.answered(course))

    entries = _by_student(run_watch(course))

    reasons = {s: e[0].reason for s, e in entries.items() if e[0].state == "failed"}
    assert "is not a Jupyter notebook" in reasons["carol"]
    assert "larger than 64 MiB" in reasons["dave"]
    assert "is not a notebook of Mini" in reasons["erin"]
    assert "holds no Mini.ipynb" in reasons["fay"] and "Other.ipynb" in reasons["fay"]
    assert "cannot be read" in reasons["gus"]
    assert "is not accepted" in reasons["bad name;$(id)"]
    assert "no valid submission time" in reasons["hal"]
    assert "not a folder" in reasons["ivy"]
    assert entries["alice"][0].state == "done" and entries["alice"][0].score == ws.FULL_SCORE
    collected = {p.name for p in (course / "submitted").iterdir()}
    assert collected == {"alice"}
    table = subprocess.run(
        [sys.executable, "-m", "autograder", "queue", ws.MINI],
        cwd=course,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "1 done, 8 failed" in table and "not a Jupyter notebook" in table


def test_feedback_shows_hidden_tests_as_a_total_until_the_deadline_then_in_full(course, run_watch):
    tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    ws.set_due_date(course, tomorrow.strftime("%Y-%m-%d %H:%M:%S UTC"))
    ws.submit(course, "alice", ws.answered(course, ws.NAIVE))

    (entry,) = run_watch(course)

    assert entry.feedback == "public"
    before = _feedback_text(course, "alice")
    assert "Hidden tests: 1 / 3 points" in before
    assert ws.PUBLIC_QUESTION.replace("'", "&#39;") in before or ws.PUBLIC_QUESTION in before
    assert ws.HIDDEN_QUESTION not in before and "softmax_large_inputs" not in before
    assert ws.HIDDEN_CANARY not in before
    assert "2 / 4 points" in before

    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    ws.set_due_date(course, past.strftime("%Y-%m-%d %H:%M:%S UTC"))
    (entry,) = run_watch(course)

    assert entry.feedback == "full"
    after = _feedback_text(course, "alice")
    assert ws.HIDDEN_QUESTION in after and "softmax_large_inputs" in after
    assert "Hidden tests:" not in after and ws.HIDDEN_CANARY not in after


def _past_due_course_with_zero_penalty(template, tmp_path):
    """Copy the course with a due date an hour ago and nbgrader's "zero" late penalty.

    Returns the course folder and the due date.
    """
    course = ws.copy_course(template, tmp_path / "class")
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + '\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    ws.set_due_date(course, past.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return course, past


def test_late_submission_gets_nbgraders_late_penalty(template, tmp_path, run_watch):
    course, _ = _past_due_course_with_zero_penalty(template, tmp_path)
    ws.submit(course, "alice", ws.answered(course))

    (entry,) = run_watch(course)

    assert (entry.state, entry.score) == ("done", ws.FULL_SCORE)  # the raw score, as nbgrader's
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission(ws.MINI, "alice")
        assert submission.total_seconds_late > 3000
        assert submission.late_submission_penalty == ws.FULL_SCORE
    assert "Late submission penalty" in _feedback_text(course, "alice")
    canvas = lms.export_lms(assignment=ws.MINI, fmt="canvas", course_root=course)
    assert list(csv.reader(canvas.open()))[2][-1] == "0"


def test_manual_score_and_comment_survive_a_later_autograde(course, run_watch):
    ws.submit(course, "bob", ws.answered(course, ws.NAIVE))
    run_watch(course)
    db = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db) as gb:  # what the Formgrader writes
        grade = gb.find_grade("softmax_large_inputs", ws.MINI, ws.MINI, "bob")
        grade.manual_score = 1.5
        comment = gb.find_comment("my_softmax", ws.MINI, ws.MINI, "bob")
        comment.manual_comment = "Subtract the maximum first."
        gb.db.commit()
    ws.submit(course, "bob", ws.answered(course, ws.NAIVE))  # the same answer again

    entries = run_watch(course)

    assert [e.state for e in entries] == ["done", "done"]
    with Gradebook(db) as gb:
        grade = gb.find_grade("softmax_large_inputs", ws.MINI, ws.MINI, "bob")
        assert (grade.manual_score, grade.auto_score, grade.score) == (1.5, 0.0, 1.5)
        comment = gb.find_comment("my_softmax", ws.MINI, ws.MINI, "bob")
        assert comment.manual_comment == "Subtract the maximum first."
        assert gb.find_submission(ws.MINI, "bob").score == ws.NAIVE_SCORE + 1.5
    assert entries[-1].score == ws.NAIVE_SCORE + 1.5
    assert "Subtract the maximum first." in _feedback_text(course, "bob")


def test_lms_csvs_hold_one_row_per_student_with_the_total(course, run_watch):
    ws.submit(course, "alice", ws.answered(course))
    ws.submit(course, "bob", ws.answered(course, ws.NAIVE))
    run_watch(course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.update_or_create_student("alice", first_name="Alice", last_name="Liddell", email="a@x")
        gb.update_or_create_student("carl")  # on the roster, nothing submitted

    canvas = list(
        csv.reader(lms.export_lms(assignment=ws.MINI, fmt="canvas", course_root=course).open())
    )
    moodle = list(
        csv.reader(lms.export_lms(assignment=ws.MINI, fmt="moodle", course_root=course).open())
    )

    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ws.MINI]
    assert canvas[1] == ["    Points Possible", "", "", "", "", "4"]
    assert canvas[2:] == [
        ["Liddell, Alice", "", "", "alice", "", "4"],
        ["bob", "", "", "bob", "", "2"],
        ["carl", "", "", "carl", "", ""],
    ]
    assert moodle == [
        ["Username", "Email address", ws.MINI],
        ["alice", "a@x", "4"],
        ["bob", "", "2"],
        ["carl", "", ""],
    ]


def _queue_states(course: Path) -> dict[str, str]:
    return {e.student: e.state for e in watch.read_queue(course, ws.MINI)}


def test_watcher_killed_mid_grading_loses_and_double_counts_nothing(course):
    slow = ws.answered(course, before_tests="import time\ntime.sleep(8)")
    ws.submit(course, "alice", slow)
    ws.submit(course, "bob", ws.answered(course, ws.NAIVE))
    command = [sys.executable, "-m", "autograder", "watch", ws.MINI, "--once"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    first = subprocess.Popen(
        command, cwd=course, env=env, start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while _queue_states(course).get("alice") != "grading" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _queue_states(course).get("alice") == "grading"
    time.sleep(3)  # in the kernel by now
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert _queue_states(course)["alice"] == "grading"

    done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "grading was interrupted" in done.stdout
    entries = _by_student(watch.read_queue(course, ws.MINI))
    assert [e.state for e in entries["alice"]] == ["done"]
    assert [e.state for e in entries["bob"]] == ["done"]
    assert entries["alice"][0].score == ws.FULL_SCORE
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert len(gb.find_assignment(ws.MINI).submissions) == 2
    assert len(ws.fetch_feedback(course, "alice")) == 1


def test_queue_tells_a_running_watcher_from_one_stopped_with_ctrl_c(course):
    command = [sys.executable, "-m", "autograder", "watch", ws.MINI, "--poll", "1"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    running = subprocess.Popen(
        command,
        cwd=course,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=ws.default_sigint,  # a pytest-xdist worker ignores SIGINT; a terminal does not
    )
    try:
        end = time.monotonic() + 120
        status = watch.read_watcher(course, ws.MINI)
        # Running, and in its loop: it has looked at the exchange at least once.
        while time.monotonic() < end and not (
            status.state == watch.WatcherState.RUNNING
            and status.heartbeat is not None
            and status.heartbeat.scanned_at is not None
        ):
            time.sleep(0.5)
            status = watch.read_watcher(course, ws.MINI)
        assert status.state == watch.WatcherState.RUNNING
        assert status.heartbeat is not None and status.heartbeat.pid == running.pid
        assert "watcher running (pid" in watch.format_watcher(status)
    finally:
        os.killpg(running.pid, signal.SIGINT)  # Ctrl-C
        try:
            running.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(running.pid, signal.SIGKILL)
            said = running.communicate()[0]
            pytest.fail(f"the watcher ignored Ctrl-C for 120 s; it said:\n{said[-3000:]}")

    stopped = watch.read_watcher(course, ws.MINI)

    assert stopped.state == watch.WatcherState.STOPPED
    assert stopped.heartbeat is not None and stopped.heartbeat.stopped_at is not None


def test_restart_after_grades_were_saved_but_not_the_queue_counts_once(course, run_watch):
    ws.submit(course, "alice", ws.answered(course))
    run_watch(course)
    with watch.QueueStore.open(course, ws.MINI) as store:
        entries = store.load()
        # Killed right after the gradebook was written:
        entries[0].state, entries[0].feedback = watch.QueueState.GRADING, None
        store.save(entries)
    released = ws.exchange_of(course) / ws.COURSE_ID / "feedback"
    for page in released.glob("*.html"):
        page.unlink()

    (entry,) = run_watch(course)

    assert (entry.state, entry.status, entry.score) == ("done", "unchanged", ws.FULL_SCORE)
    assert len(ws.fetch_feedback(course, "alice")) == 1


def test_a_second_watcher_of_the_same_assignment_refuses_to_start(course, run_watch):
    watcher = watch.Watcher(assignment=ws.MINI, course_root=course)
    with watcher.locked(), pytest.raises(watch.WatchError, match="another watcher"):
        run_watch(course)


def test_burst_of_thirty_students_is_all_graded(course, run_watch):
    students = [f"s{k:02d}" for k in range(30)]
    for k, student in enumerate(students):
        ws.submit(course, student, ws.answered(course, ws.CORRECT if k % 3 else ws.NAIVE))

    entries = _by_student(run_watch(course))

    for k, student in enumerate(students):
        (entry,) = entries[student]
        assert entry.state == "done", (student, entry.reason)
        assert entry.score == (ws.FULL_SCORE if k % 3 else ws.NAIVE_SCORE)
    released = list((ws.exchange_of(course) / ws.COURSE_ID / "feedback").glob("*.html"))
    assert len(released) == 30
    assert len(ws.fetch_feedback(course, "s07")) == 1


def test_check_owner_refuses_a_folder_another_user_wrote_under_a_students_name(course):
    ws.submit(course, "alice", ws.answered(course))
    strict = Config()
    strict.Watch.check_owner = True
    watcher = watch.Watcher(assignment=ws.MINI, course_root=course, config=strict)
    watcher.scan()
    (entry,) = watcher.entries
    owner = pwd.getpwuid(os.getuid()).pw_name  # the exchange folder is this test's user's

    assert owner != "alice"
    assert watcher.collect(entry) == f"it claims to be alice's but the folder belongs to {owner}"


def test_known_students_only_fails_students_not_in_the_gradebook(course):
    ws.submit(course, "mallory", ws.answered(course))
    roster = Config()
    roster.Watch.known_students_only = True
    watcher = watch.Watcher(assignment=ws.MINI, course_root=course, config=roster)

    watcher.scan()

    (entry,) = watcher.entries
    assert entry.state == "failed"
    assert "not a student of this course" in entry.reason


def test_docs_name_the_assignments_public_tests_as_deadline_py_defines_them():
    source = ws.REPO_ROOT / "assignment" / "C2_W2_Assignment" / "C2_W2_Assignment.ipynb"
    tests = [
        (c.metadata["nbgrader"], deadline.is_hidden_test(c.source, c.metadata["nbgrader"]))
        for c in nbformat.read(source, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("grade")
        and not c.metadata["nbgrader"].get("solution")
    ]
    public = [m["grade_id"] for m, hidden in tests if not hidden]
    points = {h: sum(m["points"] for m, hidden in tests if hidden == h) for h in (False, True)}
    named = ", ".join(f"`{name}`" for name in public[:-1]) + f" and `{public[-1]}`"
    page = (ws.REPO_ROOT / "docs" / "grading-on-submission.md").read_text(encoding="utf-8")

    assert 0 < len(public) < len(tests)
    assert (
        f"the public tests are {named} ({points[False]:g} points); the other "
        f"{len(tests) - len(public)} are hidden ({points[True]:g} points)"
    ) in " ".join(page.split())


def test_a_backdated_submission_time_is_replaced_by_when_its_files_were_written(
    template, tmp_path, run_watch
):
    course, past = _past_due_course_with_zero_penalty(template, tmp_path)
    folder = ws.submit(course, "alice", ws.answered(course))
    # The exchange lets a student name their folder, and write its timestamp.txt, as they like.
    claimed = "2026-01-01 00:00:00.000000 UTC"
    folder.rename(folder.with_name(f"alice+{ws.MINI}+{claimed}+backdated"))

    (entry,) = run_watch(course)

    assert entry.timestamp is not None and entry.timestamp > past
    assert "earlier than its files" in entry.reason
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission(ws.MINI, "alice").late_submission_penalty == ws.FULL_SCORE


def test_a_plain_tcp_scheduler_is_refused_before_the_watcher_starts(course):
    insecure = Config()
    insecure.Watch.scheduler = "tcp://127.0.0.1:8786"
    with pytest.raises(watch.WatchError, match="refusing the unencrypted scheduler"):
        watch.Watcher(assignment=ws.MINI, course_root=course, config=insecure)
    assert watch.read_queue(course, ws.MINI) == []
