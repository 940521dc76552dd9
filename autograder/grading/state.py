"""The grading command's own record of each graded submission, kept out of submissions' reach.

nbgrader copies every file of a submission folder, dotfiles included, into
``autograded/<student>/<assignment>/``; nothing the grader trusts may live there. Records live
in the course root's private ``grader/`` folder (``grader/state/<assignment>/<student>.json``),
beside the key of the per-submission probes (``grader/probe-key``). A record is written
atomically through a unique temporary file and, when read, validated against the assignment
(schema, student, scores within the maximum); a record that fails is treated as absent, so
the submission is graded again. Scores shown to the instructor come from the gradebook, not
from here: a record only says which file was graded and how the grading ended.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from autograder.kernel.protocol import Status, Verdict

#: The course root's folder that only the grading command writes.
GRADER_FOLDER = "grader"

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class Record:
    """How one submission was last graded."""

    student: str
    sha256: str
    timestamp: str | None
    status: Status
    reason: str
    score: float
    max_score: float
    tests: dict[str, float]
    test_reasons: dict[str, Verdict]
    seconds: float
    sandbox: bool
    worker: str
    graded_at: str


def check_student_id(student: str) -> str:
    """Return ``student`` if it can name a file; raise ValueError otherwise."""
    if not student or student in (".", "..") or "/" in student or "\0" in student:
        raise ValueError(f"student id {student!r} cannot name a file")
    return student


def grader_folder(course_root: Path) -> Path:
    """Return the course root's private folder of the grading command."""
    return Path(course_root) / GRADER_FOLDER


def record_path(course_root: Path, assignment: str, student: str) -> Path:
    """Return where the record of ``student``'s submission of ``assignment`` is kept."""
    folder = grader_folder(course_root) / "state" / check_student_id(assignment)
    return folder / f"{check_student_id(student)}.json"


def probe_key(course_root: Path) -> bytes:
    """Return the course's probe key, creating it on first use (readable by the owner only)."""
    path = grader_folder(course_root) / "probe-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, secrets.token_hex(32), mode=0o600)
    return bytes.fromhex(path.read_text().strip())


def write_atomically(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` through a unique temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write(course_root: Path, assignment: str, record: Record) -> None:
    """Store ``record`` as the latest grading of its student's submission."""
    path = record_path(course_root, assignment, record.student)
    write_atomically(path, json.dumps(dataclasses.asdict(record), indent=1))


def _number(value: object, low: float, high: float) -> bool:
    if type(value) not in (int, float):  # not bool, not a float subclass
        return False
    number = float(value)  # type: ignore[arg-type]  # an int or a float, checked above
    return math.isfinite(number) and low - 1e-9 <= number <= high + 1e-9


def _valid(data: object, student: str, points: dict[str, float]) -> bool:
    """Return True when ``data`` is a well-formed record of ``student`` for these tests."""
    fields = {f.name: f for f in dataclasses.fields(Record)}
    if not isinstance(data, dict) or set(data) != set(fields):
        return False
    max_score = sum(points.values())
    tests, reasons = data["tests"], data["test_reasons"]
    return (
        data["student"] == student
        and isinstance(data["sha256"], str)
        and _SHA256.fullmatch(data["sha256"]) is not None
        and (data["timestamp"] is None or isinstance(data["timestamp"], str))
        and all(isinstance(data[k], str) for k in ("reason", "worker", "graded_at"))
        and data["status"] in set(Status)
        and isinstance(data["sandbox"], bool)
        and _number(data["seconds"], 0.0, math.inf)
        and _number(data["max_score"], max_score, max_score)
        and _number(data["score"], 0.0, max_score)
        and isinstance(tests, dict)
        and set(tests) <= set(points)
        and all(_number(v, 0.0, points[k]) for k, v in tests.items())
        and isinstance(reasons, dict)
        and all(isinstance(k, str) and v in set(Verdict) for k, v in reasons.items())
    )


def read(
    course_root: Path, assignment: str, student: str, points: dict[str, float]
) -> Record | None:
    """Return the valid record of ``student``'s last grading, or None.

    ``points`` maps each graded test of the assignment to its maximum; a record that is
    missing, unreadable or inconsistent with them counts as no record.
    """
    try:
        path = record_path(course_root, assignment, student)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not _valid(data, student, points):
        return None
    fields: dict[str, Any] = {
        **data,
        "status": Status(data["status"]),
        "test_reasons": {k: Verdict(v) for k, v in data["test_reasons"].items()},
    }
    return Record(**fields)
