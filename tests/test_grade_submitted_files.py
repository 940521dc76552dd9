"""Does the grader read a submitted file only when it is a regular file of bounded size, and
a submission time only when it is a date?"""

from __future__ import annotations

import os
import threading

import pytest

from autograder.grading import grade


def test_a_regular_file_is_read_whole(tmp_path):
    (tmp_path / "a.ipynb").write_bytes(b"{}")
    assert grade.read_submitted(tmp_path / "a.ipynb", 10) == b"{}"


def test_a_file_over_the_limit_is_too_large(tmp_path):
    (tmp_path / "a.ipynb").write_bytes(b"x" * 11)
    with pytest.raises(grade.TooLarge, match="larger than 10 bytes"):
        grade.read_submitted(tmp_path / "a.ipynb", 10)


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
            grade.read_submitted(path, 100)
        except grade.SubmittedFileError as err:
            errors.append(err)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert errors and not isinstance(errors[0], grade.TooLarge), "read blocked or succeeded"


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
    assert grade.read_timestamp(tmp_path) == expected


def test_an_oversized_timestamp_is_ignored_with_a_reason(tmp_path):
    (tmp_path / "timestamp.txt").write_text("2026-11-30 " * 100)
    timestamp, problem = grade.read_timestamp(tmp_path)
    assert timestamp is None and "larger than" in problem
