"""Is the grading command's record of a grading kept where no submission reaches, written
atomically, and trusted only when it is consistent with the assignment?"""

from __future__ import annotations

import dataclasses
import json

import pytest

from autograder.grading import state

POINTS = {"softmax_original_cases": 1.0, "softmax_large_inputs": 2.0}


def _record(**changes) -> state.Record:
    record = state.Record(
        student="ann",
        sha256="a" * 64,
        timestamp=None,
        status="ok",
        reason="",
        score=3.0,
        max_score=3.0,
        tests={"softmax_original_cases": 1.0, "softmax_large_inputs": 2.0},
        test_reasons={"softmax_original_cases": "passed", "softmax_large_inputs": "passed"},
        seconds=1.5,
        sandbox=True,
        worker="host:1",
        graded_at="2026-11-30T12:00:00+00:00",
    )
    return dataclasses.replace(record, **changes)


def test_a_written_record_reads_back_equal(tmp_path):
    state.write(tmp_path, "Mini", _record())
    assert state.read(tmp_path, "Mini", "ann", POINTS) == _record()
    assert state.record_path(tmp_path, "Mini", "ann").parent.parent.parent.name == "grader"


@pytest.mark.parametrize(
    "content",
    [
        "[1]",
        "not json",
        json.dumps({**dataclasses.asdict(_record()), "student": "bob"}),
        json.dumps({**dataclasses.asdict(_record()), "score": 99.0}),
        json.dumps({**dataclasses.asdict(_record()), "tests": {"softmax_large_inputs": 5.0}}),
        json.dumps({**dataclasses.asdict(_record()), "tests": {"made_up_test": 0.0}}),
        json.dumps({**dataclasses.asdict(_record()), "sha256": "not a hash"}),
        json.dumps({**dataclasses.asdict(_record()), "max_score": 100.0}),
        json.dumps({k: v for k, v in dataclasses.asdict(_record()).items() if k != "status"}),
        json.dumps({**dataclasses.asdict(_record()), "extra": 1}),
        json.dumps({**dataclasses.asdict(_record()), "seconds": float("nan")}),
    ],
)
def test_a_record_that_is_not_consistent_counts_as_none(tmp_path, content):
    path = state.record_path(tmp_path, "Mini", "ann")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert state.read(tmp_path, "Mini", "ann", POINTS) is None


def test_a_missing_record_counts_as_none(tmp_path):
    assert state.read(tmp_path, "Mini", "ann", POINTS) is None


def test_writing_uses_a_fresh_temporary_name_each_time(tmp_path):
    path = state.record_path(tmp_path, "Mini", "ann")
    path.parent.mkdir(parents=True)
    (path.parent / f".{path.name}.tmp").mkdir()  # a folder where a fixed temp name would go
    state.write(tmp_path, "Mini", _record())
    state.write(tmp_path, "Mini", _record(score=2.0, tests={"softmax_large_inputs": 2.0}))
    assert state.read(tmp_path, "Mini", "ann", POINTS).score == 2.0
    assert sorted(p.name for p in path.parent.iterdir()) == [f".{path.name}.tmp", path.name]


@pytest.mark.parametrize("student", ["", ".", "..", "a/b", "a\0b"])
def test_a_student_id_that_cannot_name_a_file_is_refused(tmp_path, student):
    with pytest.raises(ValueError, match="cannot name a file"):
        state.record_path(tmp_path, "Mini", student)


def test_the_probe_key_is_created_once_and_readable_by_the_owner_only(tmp_path):
    key = state.probe_key(tmp_path)
    assert len(key) == 32 and state.probe_key(tmp_path) == key
    assert (state.grader_folder(tmp_path) / "probe-key").stat().st_mode & 0o077 == 0
