"""Generate a graded submission's feedback and release it through nbgrader's exchange.

nbgrader's own ``GenerateFeedback`` writes ``feedback/<student>/<assignment>/`` (with the
course's feedback preprocessors: before the due date hidden tests show only their total,
see :mod:`autograder.grading.deadline`), and the exchange's ``ReleaseFeedback`` copies it
where ``nbgrader fetch_feedback`` (the Assignments tab) finds it. Once the due date has
passed, feedback released before it is generated and released again in full.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Iterable
from pathlib import Path

from nbgrader.auth import Authenticator
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from traitlets.config import Config

from autograder.grading import deadline
from autograder.grading.watch.entries import Entry, QueueState


class Releaser:
    """Generates and releases one assignment's feedback, one student at a time."""

    def __init__(
        self,
        *,
        config: Config,
        assignment: str,
        db_url: str,
        course_id: str,
        exchange: ExchangeFactory,
        clock: Callable[[], datetime.datetime],
        log: Callable[[str], None],
    ) -> None:
        self.config = config
        self.assignment = assignment
        self.db_url = db_url
        self.course_id = course_id
        self.exchange = exchange
        self.clock = clock
        self.log = log

    def scope(self) -> deadline.FeedbackScope:
        """Return how much feedback generated now shows."""
        settings = deadline.FeedbackDeadline(config=self.config)
        return settings.scope(self.db_url, self.assignment, self.clock(), self.course_id)

    def release(self, entry: Entry) -> None:
        """Generate ``entry``'s student's feedback and release it; record its scope and times.

        A submission without nbgrader's submission secret gets feedback generated but not
        released (the exchange names the page by it); ``entry.reason`` says so.
        """
        scope = self.scope()
        config = copy.deepcopy(self.config)
        config.CourseDirectory.assignment_id = self.assignment
        config.CourseDirectory.student_id = entry.student
        # The page says whether this submission counts (autograder.feedback.standing).
        if entry.counts is not None:
            config.SubmissionStanding.counts = "yes" if entry.counts else "no"
            config.SubmissionStanding.why = entry.counting
        coursedir = CourseDirectory(config=config)
        feedback = GenerateFeedback(coursedir=coursedir, config=config)
        feedback.force = True
        feedback.start()
        entry.feedback_at = self.clock()
        folder = Path(
            coursedir.format_path(coursedir.feedback_directory, entry.student, self.assignment)
        )
        if not (folder / "submission_secret.txt").is_file():
            entry.reason = (
                "feedback generated but not released: the submission has no nbgrader "
                "submission secret (it was not made with nbgrader submit)"
            )
            self.log(f"{entry.student}: {entry.reason}")
            return
        release = self.exchange.ReleaseFeedback(
            coursedir=coursedir, authenticator=Authenticator(config=config), config=config
        )
        release.start()
        entry.feedback, entry.released_at = scope, self.clock()

    def stale_after_deadline(self, entries: Iterable[Entry]) -> list[Entry]:
        """Return the latest graded entry of each student whose feedback is public only,
        once feedback is full (the due date has passed); [] before.

        One that does not count is left out: the gradebook holds another submission, so its
        page cannot be generated again (``Watch.counts``).
        """
        if self.scope() != deadline.FeedbackScope.FULL:
            return []
        latest: dict[str, Entry] = {}
        for entry in entries:
            if entry.state == QueueState.DONE:
                latest[entry.student] = entry
        return [
            e
            for e in latest.values()
            if e.feedback == deadline.FeedbackScope.PUBLIC and e.counts is not False
        ]

    def release_full(self, entry: Entry) -> None:
        """Release full feedback to a student whose feedback showed only public tests."""
        try:
            self.release(entry)
            self.log(f"{entry.student}: deadline passed; full feedback released")
        except Exception as err:  # the grade stands; the next look tries again
            self.log(f"{entry.student}: full feedback not released: {err}")
