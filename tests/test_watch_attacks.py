"""Can a student with a shell on the hub make the watcher grade someone else's notebook as
theirs, or block or slow down a classmate's grading? (issue 19, findings 2 and 3)

Each test stages one attack on a mini course with an nbgrader exchange. Races are made
deterministic: a hook in ``os.open`` swaps or unlinks files at the moment the watcher opens
the notebook, so a watcher that opened anything by path a second time would read what the
attacker put there. Most tests drive the watcher's steps (``scan``, ``choose``, ``collect``)
directly and grade nothing; one grades end to end. Another account is played by uid 65534
(``chown``, so those tests need root) with ``pwd.getpwuid`` naming the accounts.
"""

from __future__ import annotations

import datetime
import os
import pwd
import time
import types
from pathlib import Path

import nbformat
import pytest
import watch_support as ws
from nbgrader.api import Gradebook
from traitlets.config import Config

from autograder.grading import watch
from autograder.grading.watch import admission, collect

pytestmark = pytest.mark.timeout(600)

NOTEBOOK = f"{ws.MINI}.ipynb"
SECRET = "submission_secret.txt"
#: The account that plays mallory where a folder must belong to another account.
OTHER_UID = 65534

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a folder to another account needs root"
)


@pytest.fixture
def accounts(monkeypatch):
    """Name this test's user "alice" and uid 65534 "mallory", as a hub's accounts would be."""
    names = {os.getuid(): "alice", OTHER_UID: "mallory"}
    real = pwd.getpwuid

    def getpwuid(uid):
        if uid in names:
            return types.SimpleNamespace(pw_name=names[uid], pw_uid=uid)
        return real(uid)

    monkeypatch.setattr(pwd, "getpwuid", getpwuid)


def _watcher(course: Path, config: Config | None = None, **kwargs) -> watch.Watcher:
    return watch.Watcher(
        assignment=ws.MINI, course_root=course, config=config, log=lambda _: None, **kwargs
    )


def _config(**settings) -> Config:
    config = Config()
    for name, value in settings.items():
        setattr(config.Watch, name, value)
    return config


def _stamp(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _entry(watcher: watch.Watcher, folder: Path) -> watch.Entry:
    (entry,) = [e for e in watcher.entries if e.id == folder.name]
    return entry


def _collected(course: Path, student: str) -> Path:
    return course / "submitted" / student / ws.MINI


def _give_away(folder: Path) -> None:
    """Make ``folder`` and its files belong to mallory's account (uid 65534)."""
    for path in [folder, *folder.iterdir()]:
        os.chown(path, OTHER_UID, OTHER_UID, follow_symlinks=False)


def _opened_in(path, dir_fd) -> str:
    """Return the path a watcher's ``os.open(path, dir_fd=dir_fd)`` names, at call time."""
    if dir_fd is None:
        return os.path.abspath(os.fspath(path))
    return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), os.fspath(path))


def _on_open(monkeypatch, target: Path, *, before=None, after=None) -> list[str]:
    """Run ``before``/``after`` once, around the first ``os.open`` of ``target``.

    Returns a list that holds the opened path once the hook has run.
    """
    real = os.open
    ran: list[str] = []

    def hooked(path, flags, mode=0o777, *, dir_fd=None):
        if ran or _opened_in(path, dir_fd) != str(target):
            return real(path, flags, mode, dir_fd=dir_fd)
        ran.append(os.fspath(path))
        if before:
            before()
        fd = real(path, flags, mode, dir_fd=dir_fd)
        if after:
            after()
        return fd

    monkeypatch.setattr(os, "open", hooked)
    return ran


# -- a. the folder swapped for a link after it was checked ---------------------------------


@pytest.mark.parametrize("target", ["classmate", "solutions"])
def test_a_folder_swapped_for_a_link_after_its_check_is_collected_from_the_folder_checked(
    course, monkeypatch, target
):
    alice = ws.submit(course, "alice", ws.answered(course, ws.CORRECT))
    mallory = ws.submit(course, "mallory", ws.answered(course, ws.NAIVE))
    own_notebook, own_secret = (mallory / NOTEBOOK).read_bytes(), (mallory / SECRET).read_text()
    elsewhere = {"classmate": alice, "solutions": course.parent.parent / "assignment" / ws.MINI}
    watcher = _watcher(course)
    watcher.scan()

    def swap():
        mallory.rename(mallory.with_name("moved-away"))
        mallory.symlink_to(elsewhere[target], target_is_directory=True)

    ran = _on_open(monkeypatch, mallory / NOTEBOOK, before=swap)
    problem = watcher.collect(_entry(watcher, mallory))

    assert ran and mallory.is_symlink(), "the attack did not run"
    collected = _collected(course, "mallory")
    if problem:
        assert not collected.exists()
    else:  # graded on her own notebook, feedback to her own secret
        assert (collected / NOTEBOOK).read_bytes() == own_notebook
        assert (collected / SECRET).read_text() == own_secret


@pytest.mark.slow  # grades a submission
def test_a_student_who_swaps_in_the_solutions_is_graded_on_her_own_notebook(course, monkeypatch):
    mallory = ws.submit(course, "mallory", ws.answered(course, ws.NAIVE))
    solutions = course.parent.parent / "assignment" / ws.MINI

    def swap():
        mallory.rename(mallory.with_name("moved-away"))
        mallory.symlink_to(solutions, target_is_directory=True)

    ran = _on_open(monkeypatch, mallory / NOTEBOOK, before=swap)
    (entry,) = watch.watch(assignment=ws.MINI, course_root=course, once=True, log=lambda _: None)

    assert ran, "the attack did not run"
    assert (entry.state, entry.score) in {("done", ws.NAIVE_SCORE), ("failed", None)}, entry
    if entry.state == "done":  # her own work, her own feedback
        assert entry.feedback == "full", entry.reason
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = [s.score for s in gb.find_assignment(ws.MINI).submissions]
    assert ws.FULL_SCORE not in scores


@pytest.mark.parametrize("account", ["another", "the same"])
def test_a_folder_replaced_between_scan_and_collect_is_not_collected(course, accounts, account):
    if account == "another" and os.geteuid() != 0:
        pytest.skip("giving a folder to another account needs root")
    alice = ws.submit(course, "alice", ws.answered(course, ws.CORRECT))
    watcher = _watcher(course, _config(check_owner=True))
    watcher.scan()
    entry = _entry(watcher, alice)
    assert entry.state == "waiting"
    # The exchange's inbound folder is writable by every student: a folder can be renamed.
    alice.rename(alice.with_name("moved-away"))
    alice.mkdir()
    nbformat.write(ws.answered(course, ws.NAIVE), alice / NOTEBOOK)
    if account == "another":
        _give_away(alice)

    problem = watcher.collect(entry)

    assert problem and not _collected(course, "alice").exists()


# -- b. links inside the folder ------------------------------------------------------------


@pytest.mark.parametrize("linked", [NOTEBOOK, SECRET])
def test_a_linked_notebook_or_submission_secret_in_the_folder_is_refused(course, linked):
    alice = ws.submit(course, "alice", ws.answered(course, ws.CORRECT))
    mallory = ws.submit(course, "mallory", ws.answered(course, ws.NAIVE))
    (mallory / linked).unlink()
    (mallory / linked).symlink_to(alice / linked)
    watcher = _watcher(course)
    watcher.scan()

    problem = watcher.collect(_entry(watcher, mallory))

    assert linked in problem
    assert not _collected(course, "mallory").exists()


# -- c, d. claimed times and owners are checked before anything is superseded --------------


@needs_root
@pytest.mark.parametrize("ahead", ["a minute", "to 2099"])
def test_a_later_dated_folder_by_another_account_under_a_classmates_name_fails_at_scan(
    course, accounts, ahead
):
    first = ws.submit(course, "alice", ws.answered(course, ws.NAIVE))
    claimed = {
        "a minute": _stamp(_now() + datetime.timedelta(minutes=1)),  # within max_clock_skew
        "to 2099": "2099-01-01 00:00:00.000000 UTC",
    }[ahead]
    fake = ws.inbound_folder(course, f"alice+{ws.MINI}+{claimed}+x")
    nbformat.write(ws.answered(course, ws.CORRECT), fake / NOTEBOOK)
    _give_away(fake)
    watcher = _watcher(course, _config(check_owner=True))

    watcher.scan()

    assert _entry(watcher, fake).state == "failed"
    reason = _entry(watcher, fake).reason
    assert "belongs to mallory" in reason or (ahead == "to 2099" and "in the future" in reason)
    assert watcher.choose() == [_entry(watcher, first)]
    _entry(watcher, first).state = watch.QueueState.DONE  # as if graded
    second = ws.submit(course, "alice", ws.answered(course, ws.CORRECT))
    watcher.scan()
    assert watcher.choose() == [_entry(watcher, second)]


def test_a_claimed_time_far_in_the_future_is_refused_at_scan(course):
    now = _now()
    later = now + datetime.timedelta(seconds=60)  # within max_clock_skew: a clock a bit fast
    far = ws.inbound_folder(course, f"mallory+{ws.MINI}+2099-01-01 00:00:00.000000 UTC+x")
    near = ws.inbound_folder(course, f"bob+{ws.MINI}+{_stamp(later)}+x")
    watcher = _watcher(course, clock=lambda: now)

    watcher.scan()

    assert _entry(watcher, far).state == "failed"
    assert "in the future" in _entry(watcher, far).reason
    assert _entry(watcher, near).state == "waiting"
    assert watcher.choose() == [_entry(watcher, near)]


def test_a_future_time_graded_by_an_earlier_watcher_does_not_block_later_submissions(course):
    watcher = _watcher(course)
    graded_at = _now() - datetime.timedelta(hours=2)
    watcher.entries.append(  # what a watcher without the check at scan left in the queue
        watch.Entry(
            id=f"alice+{ws.MINI}+2099-01-01 00:00:00.000000 UTC+x",
            student="alice",
            timestamp=datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc),
            state=watch.QueueState.DONE,
            seen_at=graded_at,
            started_at=graded_at,
        )
    )
    folder = ws.submit(course, "alice", ws.answered(course))

    watcher.scan()

    assert watcher.choose() == [_entry(watcher, folder)]


# -- e. files that vanish while they are collected ------------------------------------------


def test_a_notebook_unlinked_as_it_is_read_ends_only_that_submission_also_after_a_restart(
    course, monkeypatch
):
    folder = ws.submit(course, "mallory", ws.answered(course, ws.NAIVE))
    notebook = (folder / NOTEBOOK).read_bytes()
    watcher = _watcher(course)
    watcher.scan()
    (entry,) = watcher.choose()
    entry.state = watch.QueueState.GRADING  # as grade_chosen does before collecting
    watcher.save()

    ran = _on_open(monkeypatch, folder / NOTEBOOK, after=(folder / NOTEBOOK).unlink)
    problem = watcher.collect(entry)

    assert ran and not (folder / NOTEBOOK).exists(), "the attack did not run"
    collected = _collected(course, "mallory") / NOTEBOOK
    assert bool(problem) != collected.exists()  # failed, or collected from the bytes read
    if not problem:
        assert collected.read_bytes() == notebook

    # A watcher killed then restarts; she puts the notebook back and unlinks it again.
    (folder / NOTEBOOK).write_bytes(notebook)
    ran = _on_open(monkeypatch, folder / NOTEBOOK, after=(folder / NOTEBOOK).unlink)
    restarted = _watcher(course)
    restarted.recover()
    (entry,) = restarted.choose()
    restarted.collect(entry)
    assert ran


# -- f. cost linear in the number of inbound folders ----------------------------------------


class _CountingList(list):
    """A list that counts the items its iterations visit."""

    visits = 0

    def __iter__(self):
        for item in super().__iter__():
            self.visits += 1
            yield item


def _queue_work(course: Path, folders: int, monkeypatch) -> tuple[int, int]:
    """Return (entries visited, queue writes) of one cycle over ``folders`` made-up students."""
    stamp = _stamp(_now() - datetime.timedelta(minutes=1))
    for k in range(folders):
        ws.inbound_folder(course, f"fake{k:05d}+{ws.MINI}+{stamp}")
    monkeypatch.setattr(collect, "SETTLE_S", 0.0)  # the empty folders are finished as they are
    writes = []
    real = watch.QueueStore.save
    monkeypatch.setattr(watch.QueueStore, "save", lambda *a: writes.append(real(*a)))
    watcher = _watcher(course)
    watcher.entries = _CountingList(watcher.entries)
    watcher.scan()
    chosen = watcher.choose()
    watcher.grade_chosen(chosen, workers=1)  # each fails: no notebook, so nothing is graded
    assert len(watcher.entries) == folders and len(chosen) == folders
    assert all(e.state == "failed" for e in watcher.entries)
    return watcher.entries.visits, len(writes)


def test_queue_work_grows_linearly_with_made_up_students(template, tmp_path, monkeypatch):
    small = _queue_work(ws.copy_course(template, tmp_path / "small"), 100, monkeypatch)
    large = _queue_work(ws.copy_course(template, tmp_path / "large"), 1000, monkeypatch)

    visits, writes = large
    assert visits <= 15 * small[0], (small, large)  # 10x the folders; quadratic would be 100x
    assert writes <= 5 and small[1] <= 5, (small, large)  # once per phase, not per entry


def test_known_students_are_read_from_the_gradebook_once_per_scan(course, monkeypatch):
    stamp = _stamp(_now())
    for k in range(20):
        ws.inbound_folder(course, f"fake{k:02d}+{ws.MINI}+{stamp}")
    opened = []
    real = admission.Gradebook

    def counting(*args, **kwargs):
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(admission, "Gradebook", counting)
    watcher = _watcher(course, _config(known_students_only=True))

    watcher.scan()

    assert all("not a student of this course" in e.reason for e in watcher.entries)
    assert len(opened) <= 1


def test_a_submission_still_being_written_waits_and_is_collected_once_whole(course, monkeypatch):
    """nbgrader submit makes the inbound folder, then copies the notebook: a look in between."""
    monkeypatch.setattr(collect, "SETTLE_S", 0.5)
    folder = ws.inbound_folder(course, f"bob+{ws.MINI}+{_stamp(_now())}+x")
    watcher = _watcher(course)
    watcher.scan()
    entry = _entry(watcher, folder)

    assert watcher.grade_chosen(watcher.choose(), workers=1) == 0
    assert entry.state == "waiting" and not _collected(course, "bob").exists()
    half = nbformat.writes(ws.answered(course))[:200]
    (folder / f"{ws.MINI}.ipynb").write_text(half)
    assert watcher.grade_chosen(watcher.choose(), workers=1) == 0
    assert entry.state == "waiting"

    nbformat.write(ws.answered(course), folder / f"{ws.MINI}.ipynb")
    assert watcher.collect(entry) == ""
    assert (_collected(course, "bob") / f"{ws.MINI}.ipynb").is_file()


def test_a_notebook_missing_from_a_folder_left_alone_fails_with_a_reason(course, monkeypatch):
    monkeypatch.setattr(collect, "SETTLE_S", 0.5)
    folder = ws.inbound_folder(course, f"bob+{ws.MINI}+{_stamp(_now())}+x")
    (folder / "notes.txt").write_text("forgot the notebook")
    watcher = _watcher(course)
    watcher.scan()
    time.sleep(0.6)

    assert watcher.grade_chosen(watcher.choose(), workers=1) == 1
    entry = _entry(watcher, folder)
    assert entry.state == "failed" and f"holds no {ws.MINI}.ipynb" in entry.reason
    assert "notes.txt" in entry.reason


# -- g. the queue database in the instructor's state folder ---------------------------------


def _fake_queue(path: Path) -> None:
    """Write an SQLite queue a classmate made: alice's submission graded 4/4."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE entries (id TEXT, student TEXT, state TEXT, score REAL)")
        db.execute("INSERT INTO entries VALUES ('x', 'alice', 'done', 4)")


def test_a_queue_folder_planted_as_a_link_is_refused_and_nothing_is_written_there(course, tmp_path):
    theirs = tmp_path / "mallory"
    theirs.mkdir()
    (course / "grader" / "watch").mkdir(parents=True, exist_ok=True)
    (course / "grader" / "watch" / ws.MINI).symlink_to(theirs, target_is_directory=True)

    with pytest.raises(watch.WatchError, match="is not a folder"):
        _watcher(course)

    assert list(theirs.iterdir()) == []


@pytest.mark.parametrize("planted", ["queue.sqlite", "queue.sqlite-journal"])
def test_a_queue_database_or_journal_planted_as_a_link_is_refused(course, tmp_path, planted):
    fake = tmp_path / "mallory.sqlite"
    _fake_queue(fake)
    before = fake.read_bytes()
    folder = watch.queue_path(course, ws.MINI).parent
    folder.mkdir(parents=True)
    (folder / planted).symlink_to(fake)

    with pytest.raises(watch.WatchError, match="not a regular file"):
        _watcher(course)
    with pytest.raises(watch.WatchError, match="not a regular file"):
        watch.read_queue(course, ws.MINI)

    assert fake.read_bytes() == before


def test_a_queue_database_others_can_open_is_refused_with_how_to_fix_it(course):
    _watcher(course).scan()
    watch.queue_path(course, ws.MINI).chmod(0o644)  # a classmate may hold it open now

    with pytest.raises(watch.WatchError, match=r"can be opened by other accounts.*chmod 600"):
        _watcher(course)


@needs_root
def test_a_queue_database_of_another_account_is_refused(course):
    folder = watch.queue_path(course, ws.MINI).parent
    folder.mkdir(parents=True)
    _fake_queue(folder / "queue.sqlite")
    os.chmod(folder / "queue.sqlite", 0o600)
    os.chown(folder / "queue.sqlite", OTHER_UID, OTHER_UID)

    with pytest.raises(watch.WatchError, match="belongs to uid 65534"):
        _watcher(course)


def test_queue_folders_others_could_write_are_made_private_before_the_database_opens(course):
    grader = course / "grader"
    folder = watch.queue_path(course, ws.MINI).parent
    folder.mkdir(parents=True)
    for path in (grader, grader / "watch", folder):
        path.chmod(0o777)

    _watcher(course)

    assert grader.stat().st_mode & 0o777 == 0o755  # shared with the grading records
    assert (grader / "watch").stat().st_mode & 0o777 == 0o700
    assert folder.stat().st_mode & 0o777 == 0o700
    assert watch.queue_path(course, ws.MINI).stat().st_mode & 0o777 == 0o600


def test_a_queue_database_swapped_as_sqlite_opens_it_is_refused(course, tmp_path, monkeypatch):
    import sqlite3

    _watcher(course).scan()
    path = watch.queue_path(course, ws.MINI)
    fake = tmp_path / "mallory.sqlite"
    _fake_queue(fake)
    real = sqlite3.connect
    ran = []

    def swap_then_connect(database, *args, **kwargs):
        if not ran and Path(database) == path:
            ran.append(database)
            path.rename(path.with_name("moved-away"))
            path.symlink_to(fake)
        return real(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", swap_then_connect)

    with pytest.raises(watch.WatchError, match="was replaced while it was opened"):
        _watcher(course)
    assert ran, "the attack did not run"
