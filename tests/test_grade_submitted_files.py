"""Does the grader read a submitted file only when it is a regular file of bounded size, and
a submission time only when it is a date?"""

from __future__ import annotations

import os
import threading

import pytest

from autograder.grading import grade, sandbox, submitted


def test_a_regular_file_is_read_whole(tmp_path):
    (tmp_path / "a.ipynb").write_bytes(b"{}")
    assert submitted.read_submitted(tmp_path / "a.ipynb", 10) == b"{}"


def test_a_file_over_the_limit_is_too_large(tmp_path):
    (tmp_path / "a.ipynb").write_bytes(b"x" * 11)
    with pytest.raises(submitted.TooLarge, match="larger than 10 bytes"):
        submitted.read_submitted(tmp_path / "a.ipynb", 10)


@pytest.mark.parametrize("kind", ["link", "folder", "fifo"])
def test_a_link_folder_or_fifo_is_refused_without_blocking(tmp_path, kind):
    path = tmp_path / "a.ipynb"
    if kind == "link":
        (tmp_path / "secret").write_text("SECRET")
        path.symlink_to(tmp_path / "secret")
    elif kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)
    errors = []

    def read():
        try:
            submitted.read_submitted(path, 100)
        except submitted.SubmittedFileError as err:
            errors.append(err)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert errors and not isinstance(errors[0], submitted.TooLarge), "read blocked or succeeded"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, (None, "")),
        ("", (None, "")),
        ("2026-11-30 12:00:00.000000 UTC", ("2026-11-30T12:00:00", "")),
        ("not a date at all", (None, "timestamp.txt ignored: it is not a date")),
        ("\udcff", (None, "timestamp.txt ignored: it is not a date")),
    ],
)
def test_the_submission_time_is_read_as_a_date_or_ignored_with_a_reason(
    tmp_path, content, expected
):
    if content is not None:
        (tmp_path / "timestamp.txt").write_bytes(content.encode("utf-8", "surrogateescape"))
    assert submitted.read_timestamp(tmp_path) == expected


def test_an_oversized_timestamp_is_ignored_with_a_reason(tmp_path):
    (tmp_path / "timestamp.txt").write_text("2026-11-30 " * 100)
    timestamp, problem = submitted.read_timestamp(tmp_path)
    assert timestamp is None and "larger than" in problem


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, None),
        ("0123456789abcdef", "0123456789abcdef"),
        ("0123456789abcdef\n", "0123456789abcdef"),
        ("../../gradebook.db", None),
        ("x" * 10, None),
        ("a" * 2000, None),
    ],
)
def test_the_submission_secret_is_read_when_it_is_hex_and_ignored_otherwise(
    tmp_path, content, expected
):
    if content is not None:
        (tmp_path / "submission_secret.txt").write_text(content)
    assert submitted.read_secret(tmp_path) == expected


def test_a_linked_submission_secret_is_ignored(tmp_path):
    (tmp_path / "elsewhere").write_text("abcdef")
    (tmp_path / "submission_secret.txt").symlink_to(tmp_path / "elsewhere")
    assert submitted.read_secret(tmp_path) is None


@pytest.mark.slow
def test_the_submission_secret_reaches_autograded_so_feedback_can_be_released(tmp_path):
    from adversarial import course

    root = course.make_course(tmp_path)
    for student, secret in [("with_secret", "00ff00ff"), ("forged_secret", "not hex!")]:
        path = course.submit(root, student, course.submission(root))
        (path.parent / "submission_secret.txt").write_text(secret)
    grade.grade_assignment(
        assignment=course.ASSIGNMENT,
        course_root=root,
        workers=1,
        sandboxed=sandbox.sandbox_available(),
        show_progress=False,
    )
    autograded = root / "autograded"
    kept = autograded / "with_secret" / course.ASSIGNMENT / "submission_secret.txt"
    assert kept.read_text() == "00ff00ff"
    assert not (autograded / "forged_secret" / course.ASSIGNMENT / "submission_secret.txt").exists()
