"""What the class hub's status page shows a student: their submissions, newest first, and
where each stands (queued with its place, held by the hourly limit, being graded, graded with
its score and whether it counts, or why it was not graded).

Pure functions of the watcher's queue entries: :mod:`autograder.hub.status_service` reads the
queues and serves the page. Every piece of text reaches the HTML through :func:`_text`
(``html.escape``), in this module only: a reason, a student id or a hub user name may hold
markup, and the page must show it, not run it.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable
from dataclasses import dataclass

from autograder.grading.watch.admission import held
from autograder.grading.watch.entries import CLEAN_ENDS, Entry, QueueState

#: Seconds between two reloads of the page by the browser.
REFRESH_S = 10
#: Where a graded submission's feedback is (nbgrader's Assignments tab).
FEEDBACK_HINT = (
    "Feedback on a graded submission: in JupyterLab, open the Assignments tab (Nbgrader >"
    " Assignment List) and press Fetch Feedback beside the assignment, then view feedback."
)
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #ccc;padding:.4em .6em;text-align:left;vertical-align:top}"
    ".note{color:#555}.problem{color:#a00}"
)


@dataclass(frozen=True)
class Submission:
    """One of the student's submissions and where it stands, in words."""

    assignment: str
    submitted: datetime.datetime  # its submission time (when first seen, if it has none)
    standing: str


def _time(when: datetime.datetime) -> str:
    return f"{when.astimezone(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def _points(value: float | None) -> str:
    return f"{value or 0:g}"


def _graded(entry: Entry) -> str:
    """Say a graded submission's score, how its grading ended, and whether it counts and why."""
    words = f"graded: {_points(entry.score)} / {_points(entry.max_score)}"
    if entry.status is not None and entry.status not in CLEAN_ENDS:
        words += f" ({entry.status})"
    if entry.counts is not None:
        words += "; counts" if entry.counts else "; does not count"
        if entry.counting:
            words += f": {entry.counting}"
    if entry.reason:
        words += f"; {entry.reason}"
    return words


def standing(
    entry: Entry,
    *,
    turns: list[Entry],
    now: datetime.datetime,
    max_graded_per_hour: int | None,
) -> str:
    """Say where ``entry`` stands; ``turns`` are the waiting submissions in the order the
    watcher grades them (:func:`autograder.grading.watch.admission.grading_turns`)."""
    if entry.state == QueueState.WAITING:
        if held(entry, now) and entry.not_before is not None:
            limit = (
                f" (at most {max_graded_per_hour} graded per hour)" if max_graded_per_hour else ""
            )
            return f"held by the hourly limit{limit} until {entry.not_before:%H:%M} UTC"
        place = [t.id for t in turns]
        if entry.id in place:
            return f"queued, position {place.index(entry.id) + 1} of {len(place)}"
        return "queued; your later submission is graded instead"
    if entry.state == QueueState.GRADING:
        since = f" (since {entry.started_at:%H:%M} UTC)" if entry.started_at else ""
        return f"being graded{since}"
    if entry.state == QueueState.DONE:
        return _graded(entry)
    return f"not graded: {entry.reason or entry.state}"


def submissions(
    assignment: str,
    entries: Iterable[Entry],
    *,
    student: str,
    turns: list[Entry],
    now: datetime.datetime,
    max_graded_per_hour: int | None,
) -> list[Submission]:
    """Return ``student``'s submissions of ``assignment`` among ``entries``, and nobody else's."""
    return [
        Submission(
            assignment,
            entry.timestamp or entry.seen_at,
            standing(entry, turns=turns, now=now, max_graded_per_hour=max_graded_per_hour),
        )
        for entry in entries
        if entry.student == student
    ]


def _text(value: object) -> str:
    """Return ``value`` as HTML text: markup in it is shown, never interpreted."""
    return html.escape(str(value), quote=True)


def render_page(
    student: str,
    found: list[Submission],
    *,
    problems: list[str],
    now: datetime.datetime,
) -> str:
    """Return the status page of ``student``: their submissions ``found``, newest first."""
    rows = [
        f"<tr><td>{_text(_time(s.submitted))}</td><td>{_text(s.assignment)}</td>"
        f"<td>{_text(s.standing)}</td></tr>"
        for s in sorted(found, key=lambda s: s.submitted, reverse=True)
    ]
    table = (
        "<table><thead><tr><th>Submitted</th><th>Assignment</th><th>Where it stands</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        if rows
        else "<p>No submission of yours has reached the grader yet.</p>"
    )
    notes = "".join(f'<p class="problem">{_text(p)}</p>' for p in problems)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        f"<title>Your submissions</title><style>{_STYLE}</style></head><body>"
        f"<h1>Submissions of {_text(student)}</h1>{table}{notes}"
        f"<p>{_text(FEEDBACK_HINT)}</p>"
        f'<p class="note">As of {_text(_time(now))}; this page reloads itself every'
        f" {REFRESH_S} s.</p></body></html>\n"
    )
