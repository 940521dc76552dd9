"""The watcher's policies, settable in ``nbgrader_config.py`` as ``c.Watch.<name>``; its error."""

from __future__ import annotations

from traitlets import Bool, Enum, Float, Int, Unicode
from traitlets.config import Configurable

#: The values of ``Watch.counts``: the default first.
COUNTS_DEFAULT = "latest-on-time-unless-later-scores-higher"
COUNTS_LATEST = "latest"


class Watch(Configurable):
    """The watcher's policies, settable in ``nbgrader_config.py`` (``c.Watch.<name>``)."""

    max_graded_per_hour = Int(
        4,
        help="Submissions of one student graded per hour (0: no limit). Over it a submission "
        "waits until the oldest grading of the last hour is an hour old; it is never dropped. "
        "The limit counts per student id: without check_owner anyone who can write the "
        "exchange can invent ids and evade it (known_students_only bounds them to the roster).",
    ).tag(config=True)
    poll_interval = Float(
        2.0, help="Seconds between two looks at the exchange's inbound folder."
    ).tag(config=True)
    workers = Int(0, help="Submissions graded in parallel (0: number of cores).").tag(config=True)
    scheduler = Unicode(
        "",
        help="TLS address of a running dask scheduler (tls://HOST:PORT; its credentials from "
        "Dask's configuration, README: Scale-out with Dask) to grade on; empty: a local "
        "cluster of `workers` processes behind TLS, started once per watcher run.",
    ).tag(config=True)
    known_students_only = Bool(
        False,
        help="Grade only students already in the gradebook (`nbgrader db student add`); "
        "submissions of others fail with a reason.",
    ).tag(config=True)
    check_owner = Bool(
        True,
        help="Fail a submission whose inbound folder is not owned by the Unix user named "
        "like the student, when it is first seen (nbgrader's exchange is shared by every user "
        "of the machine, and each can write a folder under any student's name). Turn it off "
        "only where one Unix user submits for all students (a test exchange): then anyone who "
        "can write the exchange can submit as any student or invent student ids, which the "
        "hourly limit counts apart and the gradebook records (known_students_only refuses "
        "ids not on the roster).",
    ).tag(config=True)
    max_clock_skew = Float(
        300.0,
        help="Seconds a submission's claimed time (its folder name, written on the student's "
        "side) may be earlier than when its inbound folder and notebook last changed (the "
        "file system's change time, which no student can set back); an earlier claim is "
        "replaced by that time. A claim more than this after the watcher's clock fails the "
        "submission (it would supersede later ones). 0: trust an earlier claim, as nbgrader "
        "does (e.g. after restoring the exchange from a copy, which resets those times); a "
        "claim later than the watcher's clock still fails.",
    ).tag(config=True)
    counts = Enum(
        [COUNTS_DEFAULT, COUNTS_LATEST],
        COUNTS_DEFAULT,
        help="Which graded submission the gradebook keeps when a student submits more than "
        "once. 'latest-on-time-unless-later-scores-higher': a submission after the due date "
        "is graded and its feedback released, but the grade stays that of the student's "
        "on-time one unless the late one scores higher after its late penalty. 'latest': "
        "the latest graded submission counts, late or not (nbgrader's collect --update).",
    ).tag(config=True)
    max_attempts = Int(
        3,
        help="Gradings a submission may have that end in a machine fault (grading_error) "
        "before it is marked failed.",
    ).tag(config=True)


class WatchError(RuntimeError):
    """Raise when the watcher cannot run (no exchange, another watcher, an unsafe queue)."""
