"""One submission in the watcher's queue, and the last watcher's heartbeat: typed records.

Times are aware UTC ``datetime``s here and ISO text in the database and in
``nn-autograde queue --json`` (:class:`EntryJson`); statuses are the enums of the grading
command (:class:`~autograder.kernel.protocol.Status`) and of this module. The times an
entry records at the end of each of its :data:`STAGES` break the latency from submit to
feedback down (``benchmarks/watch_bench.py``).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import TypedDict

from autograder.grading import deadline
from autograder.kernel import protocol
from autograder.kernel.protocol import Status


class QueueState(protocol.Code):
    """Where one submission is in the watcher's queue."""

    WAITING = "waiting"  # seen, not graded yet (also: over the hourly limit, until not_before)
    GRADING = "grading"  # collected and being graded
    DONE = "done"  # graded (its status says how it ended); feedback released
    FAILED = "failed"  # not graded: the reason says why
    SUPERSEDED = "superseded"  # a later submission of the same student was graded instead


#: A graded submission's stages, in order, each with the Entry time that ends it: waiting
#: (polling, queueing) until collecting starts, the copy into ``submitted/``, the grading
#: run, generating its feedback page, and putting that into the exchange.
STAGES = {
    "wait": "started_at",
    "collect": "collected_at",
    "grade": "graded_at",
    "feedback": "feedback_at",
    "release": "released_at",
}

#: How a grading ends when nothing went wrong (``unchanged``: graded before, same result).
CLEAN_ENDS = frozenset({Status.OK, Status.UNCHANGED})


@dataclasses.dataclass
class Entry:
    """One submission in the queue (one row of the ``entries`` table); times are aware UTC."""

    id: str  # the inbound folder's name
    student: str
    timestamp: datetime.datetime | None  # submission time, from the folder name
    state: QueueState
    seen_at: datetime.datetime
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    not_before: datetime.datetime | None = None  # over the hourly limit: graded from then on
    status: Status | None = None  # how its grading ended
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    feedback: deadline.FeedbackScope | None = None  # scope of the released feedback
    attempts: int = 0  # gradings that ended in a machine fault (grading_error)
    device: int | None = None  # the inbound folder scanned: collect opens only that one
    inode: int | None = None
    counts: bool | None = None  # whether this graded submission is the one the grade keeps
    counting: str = ""  # why it counts or not (Watch.counts), for the queue and its feedback
    collected_at: datetime.datetime | None = None  # copied into submitted/
    graded_at: datetime.datetime | None = None  # its grading's result arrived
    feedback_at: datetime.datetime | None = None  # its latest feedback page was generated
    released_at: datetime.datetime | None = None  # ... and put into the exchange

    def finish(self, to: QueueState, reason: str, at: datetime.datetime) -> None:
        """End this submission's time in the queue as ``to``, with ``reason``."""
        self.state, self.reason, self.finished_at = to, reason, at


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """The last watcher of an assignment: who it is and when it last showed life."""

    pid: int
    host: str
    started_at: datetime.datetime
    alive_at: datetime.datetime  # written every few seconds while it runs
    scanned_at: datetime.datetime | None  # its last look at the exchange
    stopped_at: datetime.datetime | None  # it stopped cleanly


def iso(value: datetime.datetime | None) -> str | None:
    """Return ``value`` as ISO text in UTC (None stays None)."""
    return None if value is None else value.astimezone(datetime.timezone.utc).isoformat()


def parse_time(value: object) -> datetime.datetime | None:
    """Return ISO text as an aware UTC time (None and "" are None); raise ValueError otherwise."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    return deadline.as_utc(datetime.datetime.fromisoformat(value))


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _integer(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}")
    return value


def _flag(value: object) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # SQLite keeps booleans as integers
        return bool(value)
    raise ValueError(f"not a flag: {value!r}")


def entry_from(data: dict[str, object]) -> Entry:
    """Return the entry a row or a JSON object holds; raise ValueError for a malformed one."""
    text = {k: data.get(k) for k in ("id", "student", "reason", "counting")}
    if not all(isinstance(v, str) for v in (text["id"], text["student"])):
        raise ValueError("an entry needs an id and a student")
    seen = parse_time(data.get("seen_at"))
    if seen is None:
        raise ValueError("an entry needs seen_at")
    status, feedback = data.get("status"), data.get("feedback")
    return Entry(
        id=str(text["id"]),
        student=str(text["student"]),
        timestamp=parse_time(data.get("timestamp")),
        state=QueueState(data.get("state")),
        seen_at=seen,
        started_at=parse_time(data.get("started_at")),
        finished_at=parse_time(data.get("finished_at")),
        not_before=parse_time(data.get("not_before")),
        status=Status(status) if status else None,
        score=_number(data.get("score")),
        max_score=_number(data.get("max_score")),
        reason=str(text["reason"] or ""),
        feedback=deadline.FeedbackScope(feedback) if feedback else None,
        attempts=_integer(data.get("attempts")) or 0,
        device=_integer(data.get("device")),
        inode=_integer(data.get("inode")),
        counts=_flag(data.get("counts")),
        counting=str(text["counting"] or ""),
        collected_at=parse_time(data.get("collected_at")),
        graded_at=parse_time(data.get("graded_at")),
        feedback_at=parse_time(data.get("feedback_at")),
        released_at=parse_time(data.get("released_at")),
    )


class EntryJson(TypedDict):
    """One submission as ``nn-autograde queue --json`` prints it (times ISO UTC)."""

    id: str
    student: str
    timestamp: str | None
    state: str
    seen_at: str
    started_at: str | None
    finished_at: str | None
    not_before: str | None
    status: str  # "" until graded
    score: float | None
    max_score: float | None
    reason: str
    feedback: str  # "public", "full", or "" when none was released
    attempts: int
    device: int | None
    inode: int | None
    counts: bool | None  # whether the grade keeps this submission (None: not graded yet)
    counting: str  # why it counts or not
    collected_at: str | None
    graded_at: str | None
    feedback_at: str | None
    released_at: str | None


def entry_json(entry: Entry) -> EntryJson:
    """Return ``entry`` as the JSON object ``nn-autograde queue --json`` prints."""
    return EntryJson(
        id=entry.id,
        student=entry.student,
        timestamp=iso(entry.timestamp),
        state=str(entry.state),
        seen_at=iso(entry.seen_at) or "",
        started_at=iso(entry.started_at),
        finished_at=iso(entry.finished_at),
        not_before=iso(entry.not_before),
        status=str(entry.status or ""),
        score=entry.score,
        max_score=entry.max_score,
        reason=entry.reason,
        feedback=str(entry.feedback or ""),
        attempts=entry.attempts,
        device=entry.device,
        inode=entry.inode,
        counts=entry.counts,
        counting=entry.counting,
        collected_at=iso(entry.collected_at),
        graded_at=iso(entry.graded_at),
        feedback_at=iso(entry.feedback_at),
        released_at=iso(entry.released_at),
    )
