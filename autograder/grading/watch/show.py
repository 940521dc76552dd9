"""What ``nn-autograde queue`` prints: the queue as a table, and whether a watcher runs."""

from __future__ import annotations

import datetime

from autograder.grading.watch.admission import describe
from autograder.grading.watch.entries import Entry, QueueState
from autograder.grading.watch.heartbeat import WatcherState, WatcherStatus


def _minutes(when: datetime.datetime, now: datetime.datetime) -> str:
    minutes = (now - when).total_seconds() / 60
    return f"{minutes:.0f} min" if minutes >= 1 else f"{(now - when).total_seconds():.0f} s"


def format_watcher(status: WatcherStatus) -> str:
    """Return one line saying whether a watcher is running, and what to do if not."""
    beat, now = status.heartbeat, status.now
    if beat is None:
        return "no watcher has ever started for this assignment: start nn-autograde watch"
    where = f"pid {beat.pid} on {beat.host}"
    look = beat.scanned_at or beat.started_at
    if status.state == WatcherState.RUNNING:
        seconds = (now - look).total_seconds()
        return f"watcher running ({where}, last look {seconds:.0f} s ago)"
    if status.state == WatcherState.SILENT:
        return (
            f"no watcher has looked for {_minutes(look, now)} (the last, {where}, gave no sign "
            f"of life for {_minutes(beat.alive_at, now)}): check it, or start nn-autograde watch"
        )
    how = "stopped" if beat.stopped_at else "is gone without stopping cleanly"
    return (
        f"no watcher is running: the last ({where}) {how}; its last look was "
        f"{_minutes(look, now)} ago: start nn-autograde watch"
    )


def summary(entries: list[Entry]) -> dict[str, int]:
    """Return how many entries are in each queue state."""
    return {str(s): sum(e.state == s for e in entries) for s in QueueState}


def format_queue(entries: list[Entry]) -> str:
    """Return the queue as a table: student, state, status, score, whether it counts, times,
    and why it counts or not and any other reason."""
    header = ("student", "state", "status", "score", "counts", "submitted", "finished", "reason")
    lines = [header]
    for e in entries:
        score = "" if e.score is None else f"{e.score:g}/{e.max_score or 0:g}"
        until = ""
        if e.not_before and e.state == QueueState.WAITING:
            until = f"waits until {e.not_before:%Y-%m-%dT%H:%M:%S}"
        lines.append(
            (
                describe(e.student)[1:-1],
                str(e.state),
                str(e.status or ""),
                score,
                {True: "yes", False: "no", None: ""}[e.counts],
                f"{e.timestamp:%Y-%m-%dT%H:%M:%S}" if e.timestamp else "",
                f"{e.finished_at:%Y-%m-%dT%H:%M:%S}" if e.finished_at else "",
                "; ".join(r for r in (e.counting, e.reason or until) if r)[:160],
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    counts = summary(entries)
    table.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(table)
