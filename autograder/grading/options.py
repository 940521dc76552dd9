"""How one grading run grades: one frozen object from the command line and configuration to
each worker.

:class:`autograder.grading.app.GradeApp` builds it from its traits (flags, ``nbgrader_config.py``
and Jupyter's configuration paths); :func:`autograder.grading.grade.grade` reads it, and every
job a worker runs carries it (:class:`autograder.grading.execute.Job`), so a setting is named
once from the flag to the kernel.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from autograder.grading.limits import Limits


def default_workers() -> int:
    """Return the parallel jobs of a local cluster when none is asked for: the cores."""
    return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class GradingOptions:
    """Everything a grading run needs to know besides the course's own data.

    Attributes:
        assignment: the assignment to grade.
        course_root: the nbgrader course root (absolute).
        limits: the limits per submission, ``threads`` already shared among ``workers``.
        sandboxed: run kernels in bubblewrap; False runs student code unconfined.
        skip_after_last_graded: do not run the cells after the last graded cell.
        verify_model_file: judge the model checks from the model file the kernel saved,
            described outside the kernel, instead of from the kernel's report.
        workers: parallel jobs for the local Dask cluster.
        scheduler: a running ``dask scheduler``'s TLS address (``tls://host:port``), or None
            for a local cluster.
        force: grade submissions whose file has not changed since their last grading.
        student: grade only this student (None: everyone).
        progress_json: file (or ``-`` for stdout) for a JSON-lines progress stream.
        show_progress: show a progress bar on stderr.
        report_dir: folder for the CSV report (None: ``<course_root>/reports``).
        kernel_pool: keep a kernel started ahead on each worker while more work is expected
            (:mod:`autograder.grading.kernel_pool`).
        fork_kernels: have the pool fork its sandboxed kernels from a template that imported
            the assignment's modules once (:mod:`autograder.grading.kernel_template`).
    """

    assignment: str
    course_root: Path
    limits: Limits = dataclasses.field(default_factory=Limits)
    sandboxed: bool = True
    skip_after_last_graded: bool = True
    verify_model_file: bool = True
    workers: int = dataclasses.field(default_factory=default_workers)
    scheduler: str | None = None
    force: bool = False
    student: str | None = None
    progress_json: str | None = None
    show_progress: bool = True
    report_dir: Path | None = None
    kernel_pool: bool = True
    fork_kernels: bool = True

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        object.__setattr__(self, "course_root", Path(self.course_root).resolve())
        object.__setattr__(self, "limits", self.limits.for_workers(self.workers))

    @property
    def reports(self) -> Path:
        """Return the folder of the CSV report."""
        return Path(self.report_dir) if self.report_dir else self.course_root / "reports"
