"""Grade on submission: watch nbgrader's exchange, grade each new submission, release feedback.

``nn-autograde watch ASSIGNMENT`` (run by the instructor from the course root) loops; each
part has one job and a module of its own:

- :mod:`~autograder.grading.watch.store`: the queue (one row per submission, its state and
  result: :mod:`~autograder.grading.watch.entries`) and the watcher's heartbeat, in an
  SQLite database in the course's private ``grader/`` folder that only the instructor can
  open (:mod:`~autograder.grading.watch.private_files` checks its folders and files); every
  change is one transaction; the hub's status page reads it read-only.
- :mod:`~autograder.grading.watch.admission`: the checks a new inbound folder must pass
  before it can queue, supersede or rate-limit anything (student id, claimed time, owner,
  roster), and which waiting submission of each student is graded when (the latest one;
  ``Watch.max_graded_per_hour``).
- :mod:`~autograder.grading.watch.collect`: the copy of a chosen submission into
  ``submitted/``, through descriptors of the one folder checked, never by path twice.
- :mod:`~autograder.grading.watch.counts`: which graded submission counts
  (``Watch.counts``): a late resubmission that scores no more after its penalty is graded
  and its feedback released, then the submission that counts is put back into the gradebook.
- :mod:`~autograder.grading.watch.release`: nbgrader's ``GenerateFeedback`` and exchange
  ``ReleaseFeedback`` for each graded student, and full feedback again after the due date.
- :mod:`~autograder.grading.watch.loop`: the cycle that wires them to the grading core
  (:func:`autograder.grading.grade.grade_assignment`), the Dask cluster's lifetime and the
  heartbeat (:mod:`~autograder.grading.watch.heartbeat`: is a watcher running?);
  :mod:`~autograder.grading.watch.show` is what ``nn-autograde queue`` prints.

A submission is *grading* only between collection and its result; a watcher that is killed
and restarted puts those back to *waiting* and grades them again. The gradebook holds one
submission per student, replaced by each grading (or the one that counts put back:
``Watch.counts``), and the rate limit counts only *done* entries, so nothing is lost or
counted twice. A lock file keeps a second watcher of the same assignment from starting.
"""

from autograder.grading.watch.admission import STUDENT_ID, split_inbound_name
from autograder.grading.watch.entries import (
    STAGES,
    Entry,
    EntryJson,
    Heartbeat,
    QueueState,
    entry_json,
)
from autograder.grading.watch.heartbeat import (
    WatcherJson,
    WatcherState,
    WatcherStatus,
    read_watcher,
    watcher_status,
)
from autograder.grading.watch.loop import Watcher, watch
from autograder.grading.watch.settings import Watch, WatchError
from autograder.grading.watch.show import format_queue, format_watcher, summary
from autograder.grading.watch.store import QueueStore, queue_path, read_queue

__all__ = [
    "STAGES",
    "STUDENT_ID",
    "Entry",
    "EntryJson",
    "Heartbeat",
    "QueueState",
    "QueueStore",
    "Watch",
    "WatchError",
    "Watcher",
    "WatcherJson",
    "WatcherState",
    "WatcherStatus",
    "entry_json",
    "format_queue",
    "format_watcher",
    "queue_path",
    "read_queue",
    "read_watcher",
    "split_inbound_name",
    "summary",
    "watch",
    "watcher_status",
]
