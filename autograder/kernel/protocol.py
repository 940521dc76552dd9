"""What the student's kernel and the grader agree on: the facts' MIME type, the model file,
and the status codes a grading ends with. Both sides import this module; it is copied into the
sandbox with the in-kernel modules and imports nothing of the package.
"""

from __future__ import annotations

import enum

#: MIME type of the display output that carries a check's facts.
FACTS_MIME = "application/vnd.nn-course.facts+json"

#: Environment variable the grading command sets: the file the model checks save the model to.
MODEL_FILE_ENV = "NN_COURSE_MODEL_FILE"
#: Name of that file in the kernel's working folder (Keras needs the ``.keras`` suffix).
MODEL_FILE = "model.keras"
#: Marks the model describer's one line of output among whatever TensorFlow prints.
DESCRIBER_MARK = "NN-COURSE-MODEL-FACTS "


class Code(str, enum.Enum):
    """A code that compares, prints and serialises as its plain string (what Python 3.11's
    ``enum.StrEnum`` does; this runs on 3.10 too)."""

    def __str__(self) -> str:
        return str(self.value)


class Status(Code):
    """How the grading of one submission ended (table, CSV, gradebook comment)."""

    OK = "ok"
    UNCHANGED = "unchanged"
    CELL_TIMEOUT = "cell_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    KERNEL_DIED = "kernel_died"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    PROCESS_LIMIT = "process_limit"
    DISK_LIMIT = "disk_limit"
    KERNEL_PROTOCOL_ERROR = "kernel_protocol_error"
    CORRUPT_NOTEBOOK = "corrupt_notebook"
    EMPTY_SUBMISSION = "empty_submission"
    SUBMISSION_TOO_LARGE = "submission_too_large"
    INVALID_TIMESTAMP = "invalid_timestamp"
    GRADED_CELLS_MISSING = "graded_cells_missing"
    INVALID_NOTEBOOK = "invalid_notebook"
    #: Machine faults only (nothing is recorded; the next run grades the submission again).
    KERNEL_STARTUP_FAILED = "kernel_startup_failed"
    GRADING_ERROR = "grading_error"


class Verdict(Code):
    """Why one graded test passed or earned nothing (CSV, feedback)."""

    PASSED = "passed"
    FAILED = "failed"
    MISSING_REPORT = "missing_report"
    MALFORMED_REPORT = "malformed_report"
    DUPLICATE_REPORT = "duplicate_report"
    UNEXPECTED_REPORT = "unexpected_report"
    NOT_RUN = "not_run"
    NO_CHECKS = "no_checks"
    CONTRADICTORY_REPORT = "contradictory_report"
    MODEL_UNVERIFIED = "model_unverified"
