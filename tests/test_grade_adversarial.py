"""Adversarial suite: attacks and bad inputs graded by `nn-autograde grade` with the sandbox on.

One grading run (module fixture) grades every submission of a small course; each test then
checks one promise: no unearned points, a clear status, an intact gradebook and intact other
submissions, and no hidden-test or reference canary in any student's feedback.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time

import nbformat
import pytest

from autograder.grading import grade, planning, sandbox
from autograder.grading.limits import Limits
from autograder.kernel.protocol import Status

from adversarial import attacks, course

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)"),
]

VICTIM_CANARY = "CANARY-VICTIM-SUBMISSION-81d2"
# A mini course kernel (NumPy, one thread) has 13 threads, its sandbox's included: 64 leaves
# the bounded fork bomb (256 processes) far past the limit, as the default (256) would not.
LIMITS = Limits(
    cell_timeout=15,
    total_timeout=90,
    memory=2 * 1024**3,
    threads=1,
    disk=256 * 1024**2,
    processes=64,
)


def _reference_canary() -> str:
    """Return a value that appears only in the reference data (a hidden expected output)."""
    from autograder.kernel.reference import load

    row = load()["softmax"]["checks"]["softmax_random_vectors"][0]
    return repr(row["expected"][0])


def _bad_inputs(root, correct) -> dict[str, object]:
    deleted = nbformat.from_dict(json.loads(nbformat.writes(correct)))
    deleted.cells = [
        c
        for c in deleted.cells
        if c.metadata.get("nbgrader", {}).get("grade_id")
        not in ("softmax_large_inputs", "softmax_length_one")
    ]
    altered = nbformat.from_dict(json.loads(nbformat.writes(correct)))
    stripped = nbformat.from_dict(json.loads(nbformat.writes(correct)))
    for cell in altered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade", False):
            cell.source = "pass  # the student edited the test away"
    for cell in stripped.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "softmax_large_inputs":
            del cell.metadata["nbgrader"]
            cell.source = "pass"
    empty_nb = nbformat.v4.new_notebook()
    return {
        "corrupt_file": b"\x89PNG\r\n\x1a\n not a notebook",
        "truncated_json": nbformat.writes(correct)[:300].encode(),
        "empty_file": b"",
        "empty_notebook": empty_nb,
        "test_cells_deleted": deleted,
        "test_cells_altered": altered,
        "test_metadata_stripped": stripped,
    }


def _plant_files(notebook, student: str, attack: attacks.Attack, course_root) -> None:
    """Write the attack's extra files into the submission folder beside ``notebook``."""
    sha = hashlib.sha256(notebook.read_bytes()).hexdigest()
    for name, content in attack.files:
        target = notebook.parent / name.format(student=student)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = content.format(student=student, sha=sha, course=course_root)
        if text.startswith("link:"):
            target.symlink_to(text.removeprefix("link:"))
        elif text == "dir:":
            target.mkdir()
        else:
            target.write_text(text)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every fixture submission once; return the course, outcomes and file hashes."""
    root = tmp_path_factory.mktemp("adversarial")
    course_root = course.make_course(root)
    correct = course.submission(course_root)
    victim = course.submission(course_root)
    victim.cells[0].source += f"\n\n<!-- {VICTIM_CANARY} -->"
    victim_path = course.submit(course_root, "victim", victim)
    course.submit(course_root, "passes_all", correct)
    course.submit(
        course_root, "honest_naive", course.submission(course_root, softmax=course.NAIVE_SOFTMAX)
    )
    for name, attack in attacks.ATTACKS.items():

        def fill(src: str) -> str:
            return (
                src.replace("{course}", str(course_root))
                .replace("{repo}", str(course.REPO_ROOT))
                .replace("{victim}", str(victim_path))
            )

        nb = course.submission(
            course_root,
            softmax=course.NAIVE_SOFTMAX,
            before_tests=[fill(s) for s in attack.before_tests],
            after_first_test=[fill(s) for s in attack.after_first_test],
        )
        path = course.submit(course_root, name, nb)
        _plant_files(path, name, attack, course_root)
    for name, content in _bad_inputs(root, correct).items():
        course.submit(course_root, name, content)
    before = {
        p.parent.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (course_root / "submitted").glob("*/Mini/Mini.ipynb")
    }
    seen = []
    start = time.monotonic()
    rows = grade.grade_assignment(
        assignment=course.ASSIGNMENT,
        course_root=course_root,
        workers=2,
        limits=LIMITS,
        show_progress=False,
        on_result=seen.append,
        progress_json=str(root / "progress.jsonl"),
    )
    elapsed = time.monotonic() - start
    time.sleep(1.0)  # give a leftover background writer (if any escaped) time to act
    again = grade.grade_assignment(
        assignment=course.ASSIGNMENT,
        course_root=course_root,
        workers=1,
        limits=LIMITS,
        show_progress=False,
    )
    course.nbgrader(course_root, "generate_feedback", course.ASSIGNMENT)
    return {
        "course": course_root,
        "rows": {row.student: row for row in rows},
        "again": {row.student: row for row in again},
        "seen": seen,
        "before": before,
        "elapsed": elapsed,
    }


def test_honest_submissions_get_exact_scores(graded):
    rows = graded["rows"]
    assert rows["passes_all"].score == course.FULL_SCORE
    assert rows["victim"].score == course.FULL_SCORE
    assert rows["honest_naive"].score == course.NAIVE_SCORE
    assert rows["honest_naive"].tests == {
        "softmax_original_cases": 1.0,
        "softmax_large_inputs": 0.0,
        "softmax_length_one": 1.0,
    }


@pytest.mark.parametrize("name", sorted(attacks.ATTACKS))
def test_attack_earns_no_more_than_an_honest_submission_with_the_same_answer(graded, name):
    attack = attacks.ATTACKS[name]
    row = graded["rows"][name]
    assert row.score <= min(attack.max_score, graded["rows"]["honest_naive"].score), row
    if attack.status is not None:
        assert row.status == attack.status, row


def test_tests_that_finished_before_a_timeout_or_crash_keep_their_credit(graded):
    for name in (
        "infinite_loop",
        "kernel_killed_after_first_test",
        "fork_bomb",
        "thread_bomb",
        "fill_host_folder",
        "fill_host_subfolder",
    ):
        row = graded["rows"][name]
        assert row.tests["softmax_original_cases"] == 1.0, row
        assert row.tests["softmax_large_inputs"] == 0.0, row


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("fork_bomb", "processes and threads"),
        ("thread_bomb", "processes and threads"),
        ("fill_host_folder", "bytes"),
        ("fill_host_subfolder", "bytes"),
    ],
)
def test_a_kernel_stopped_at_a_limit_is_recorded_with_the_limit_it_passed(graded, name, limit):
    row = graded["rows"][name]
    assert "was stopped: the kernel" in row.reason and limit in row.reason, row


@pytest.mark.parametrize(
    ("name", "status", "score"),
    [
        ("corrupt_file", Status.CORRUPT_NOTEBOOK, 0.0),
        ("truncated_json", Status.CORRUPT_NOTEBOOK, 0.0),
        ("empty_file", Status.EMPTY_SUBMISSION, 0.0),
        ("empty_notebook", Status.EMPTY_SUBMISSION, 0.0),
        ("test_cells_deleted", Status.GRADED_CELLS_MISSING, 1.0),
        ("test_cells_altered", "ok", course.FULL_SCORE),
        ("test_metadata_stripped", Status.GRADED_CELLS_MISSING, 2.0),
    ],
)
def test_bad_input_is_recorded_with_status_and_score(graded, name, status, score):
    row = graded["rows"][name]
    assert (row.status, row.score) == (status, score), row


def test_every_submission_is_graded_exactly_once_into_the_gradebook(graded):
    students = sorted(graded["before"])
    assert sorted(o.student for o in graded["seen"]) == students
    db = sqlite3.connect(graded["course"] / "gradebook.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        submitted = db.execute(
            "SELECT student.id, COUNT(*) FROM submitted_assignment "
            "JOIN student ON student.id = submitted_assignment.student_id GROUP BY student.id"
        ).fetchall()
    finally:
        db.close()
    assert dict(submitted) == {s: 1 for s in students}
    for student in students:
        row = graded["rows"][student]
        assert planning.read_state(_plan(graded), student).score == row.score


def _plan(graded):
    return planning.make_plan(course_root=graded["course"], assignment=course.ASSIGNMENT)


def test_other_students_submissions_are_untouched(graded):
    after = {
        p.parent.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (graded["course"] / "submitted").glob("*/Mini/Mini.ipynb")
    }
    assert after == graded["before"]
    assert not list(graded["course"].glob("**/pwned"))
    assert "pwned" not in (course.REPO_ROOT / "autograder" / "kernel" / "checks.py").read_text()


def _feedback(graded) -> dict[str, str]:
    return {
        p.parent.parent.name: p.read_text(errors="replace")
        for p in (graded["course"] / "feedback").glob("*/Mini/*.html")
    }


def test_no_canary_reaches_any_students_feedback(graded):
    feedback = _feedback(graded)
    assert "read_secrets" in feedback and "passes_all" in feedback
    reference = _reference_canary()
    for student, html in feedback.items():
        assert course.HIDDEN_CANARY not in html, student
        assert reference not in html, student
        if student != "victim":
            assert VICTIM_CANARY not in html, student
    for path in (graded["course"] / "autograded").glob("*/Mini/Mini.ipynb"):
        assert reference not in path.read_text(), path


def _outputs_text(graded, student: str) -> str:
    path = graded["course"] / "autograded" / student / "Mini" / "Mini.ipynb"
    return json.dumps([c.get("outputs", []) for c in nbformat.read(path, 4).cells])


def test_sandbox_blocks_reads_writes_and_network(graded):
    reads = _outputs_text(graded, "read_secrets")
    assert "blocked reference ReferenceUnavailable" in reads
    assert "SQLite format" not in reads and course.HIDDEN_CANARY not in reads
    assert VICTIM_CANARY not in reads
    network = _outputs_text(graded, "network")
    assert "NETWORK-REACHED" not in network and "blocked" in network
    writes = _outputs_text(graded, "write_others")
    assert "WROTE" not in writes and "blocked" in writes


def test_regrading_skips_unchanged_and_forced_regrade_gives_the_same_score(graded):
    again = graded["again"]
    assert {row.status for row in again.values()} == {Status.UNCHANGED}
    assert {s: (r.score, r.tests) for s, r in again.items()} == {
        s: (r.score, r.tests) for s, r in graded["rows"].items()
    }
    forced = grade.grade_assignment(
        assignment=course.ASSIGNMENT,
        course_root=graded["course"],
        workers=1,
        limits=LIMITS,
        show_progress=False,
        force=True,
        student="display_publisher_rewrites_facts",
    )
    previous = graded["rows"]["display_publisher_rewrites_facts"]
    assert [(r.student, r.score, r.tests) for r in forced] == [
        (previous.student, previous.score, previous.tests)
    ]


def test_csv_report_has_one_column_per_test_and_a_status(graded):
    text = (graded["course"] / "reports" / "Mini.csv").read_text().splitlines()
    header = text[0].split(",")
    assert header[:5] == ["student", "score", "max_score", "seconds", "status"]
    assert header[-3:] == list(course.POINTS)
    assert len(text) == 1 + len(graded["before"])


def test_no_grading_error_comes_from_anything_a_submission_contains(graded):
    assert all(row.status != Status.GRADING_ERROR for row in graded["rows"].values())


def test_planted_grading_state_is_never_trusted(graded):
    rows = graded["rows"]
    for name in ("planted_state_full_marks", "planted_state_for_another"):
        assert rows[name].score == course.NAIVE_SCORE, rows[name]
        assert graded["again"][name].score == course.NAIVE_SCORE
    assert rows["victim"].score == graded["again"]["victim"].score == course.FULL_SCORE
    assert sorted(graded["again"]) == sorted(rows)  # no second row for anybody
    state = graded["course"] / "grader" / "state" / "Mini"
    assert sorted(p.stem for p in state.glob("*.json")) == sorted(rows)


def test_only_the_graded_notebook_reaches_the_autograded_folder(graded):
    folder = graded["course"] / "autograded" / "planted_links" / "Mini"
    assert sorted(p.name for p in folder.iterdir()) == ["Mini.ipynb"]
    planted = graded["course"] / "autograded" / "planted_state_full_marks" / "Mini"
    assert sorted(p.name for p in planted.iterdir()) == ["Mini.ipynb"]


def test_a_timestamp_that_is_not_a_date_is_graded_and_named(graded):
    row = graded["rows"]["timestamp_not_a_date"]
    assert (row.status, row.score) == ("invalid_timestamp", course.NAIVE_SCORE), row
    assert "timestamp.txt" in row.reason


def test_malformed_kernel_messages_are_dropped_and_counted(graded):
    for name in ("display_data_is_a_list", "parent_header_is_a_list"):
        row = graded["rows"][name]
        assert row.score == course.NAIVE_SCORE, row
        assert "messages the Jupyter protocol does not allow were dropped" in row.reason, row


def test_a_kernel_cannot_keep_more_files_than_its_disk_budget(graded):
    text = _outputs_text(graded, "fill_disk")
    shm = min(64 * 1024**2, LIMITS.disk // 8)
    stopped = {
        folder: (int(e), int(n)) for folder, e, n in re.findall(r"stopped (\S+) (\d+) (\d+)", text)
    }
    for folder, room in ((".", LIMITS.disk - shm), ("/tmp", LIMITS.disk - shm), ("/dev/shm", shm)):
        errno, written = stopped[folder]
        assert errno == 28 and written <= room, (folder, stopped)  # ENOSPC within the budget
