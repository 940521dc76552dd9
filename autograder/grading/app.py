"""``nn-autograde grade``: the grading command as an nbgrader application.

:class:`GradeApp` is an nbgrader app (``NbGrader``, a ``JupyterApp``): its configuration comes
from nbgrader's places (Jupyter's configuration paths, the current folder and the course
root's ``nbgrader_config.py``), its flags and aliases are generated from its traits and those
of :class:`autograder.grading.limits.GradingLimits`, and a flag overrides the configuration
for one run. It turns all of that into one :class:`GradingOptions` and hands it to
:func:`autograder.grading.grade.grade`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from jupyter_core.application import JupyterApp
from nbgrader.apps.baseapp import NbGrader
from nbgrader.coursedir import CourseDirectory
from traitlets import Bool, Int, TraitType, Unicode
from traitlets.config import Config, Configurable

from autograder.grading.limits import GradingLimits
from autograder.grading.options import GradingOptions, default_workers

_TRUST_HELP = (
    "Judge the model checks from the kernel's own report instead of the model file it saved "
    "(a student could forge the facts; saves little: most files are read without TensorFlow)."
)


def _switches(
    cls: type[Configurable], traits: dict[str, TraitType[Any, Any]]
) -> tuple[dict[str, str], dict[str, tuple[dict[str, dict[str, bool]], str]]]:
    """Return the aliases and flags of ``cls``'s ``traits``: ``--name-with-dashes``.

    A trait's ``flag`` metadata renames its option. A boolean becomes a flag that turns it
    away from its default (``--force``; ``--no-sandbox`` for one that is on by default).
    """
    aliases: dict[str, str] = {}
    flags: dict[str, tuple[dict[str, dict[str, bool]], str]] = {}
    for name, trait in traits.items():
        option = trait.metadata.get("flag") or name.replace("_", "-")
        if isinstance(trait, Bool):
            on = not trait.default_value
            flags[option if on else f"no-{option}"] = ({cls.__name__: {name: on}}, trait.help)
        else:
            aliases[option] = f"{cls.__name__}.{name}"
    return aliases, flags


class GradeApp(NbGrader):  # type: ignore[misc]  # nbgrader is untyped
    """Grade every submission of an assignment: in parallel, sandboxed, judged outside the kernel."""

    name = "nn-autograde grade"
    description = __doc__
    examples = """
        nn-autograde grade C2_W2_Assignment
        nn-autograde grade C2_W2_Assignment --student naive_softmax --force
        nn-autograde grade C2_W2_Assignment --workers 4 --cell-timeout 600
    """

    workers = Int(0, help="Parallel jobs (0: the cores).").tag(config=True)
    scheduler = Unicode(
        "", help="TLS address of a running dask scheduler, tls://HOST:PORT (see cluster-tls)."
    ).tag(config=True)
    force = Bool(False, help="Regrade unchanged submissions too.").tag(config=True)
    student = Unicode("", help="Grade only this student.").tag(config=True)
    sandboxed = Bool(True, help="Run student code in bubblewrap (off: unconfined).").tag(
        config=True, flag="sandbox"
    )
    run_all_cells = Bool(
        False,
        help="Also run the cells after the last graded cell (slower; scores are the same).",
    ).tag(config=True)
    trust_model_facts = Bool(False, help=_TRUST_HELP).tag(config=True)
    progress_json = Unicode("", help="Write JSON-lines progress to FILE (- for stdout).").tag(
        config=True
    )
    progress = Bool(True, help="Show the progress bar.").tag(config=True)
    kernel_pool = Bool(
        True,
        help="Keep a kernel started ahead on each worker, the assignment's imports done (off: "
        "each job starts its own).",
    ).tag(config=True)
    fork_kernels = Bool(
        True,
        help="Fork the pool's sandboxed kernels from a template per worker that imported the "
        "assignment's modules once, each in a fresh sandbox (off: start each in bubblewrap).",
    ).tag(config=True)

    def _classes_default(self) -> list[type[Configurable]]:
        return [GradeApp, GradingLimits, CourseDirectory]

    def init_syspath(self) -> None:
        """Leave ``sys.path`` alone: a course folder is data, none of its files is imported."""

    def load_config_file(self, **kwargs: Any) -> None:
        """Load ``nbgrader_config.py`` from Jupyter's paths and the current folder.

        nbgrader's own loader warns when neither has one; here the course root's is the one
        that matters, and a missing one is an error that says how to fix it (``grade``).
        """
        super(NbGrader, self).load_config_file(**kwargs)  # JupyterApp's: Jupyter's paths
        if self.load_cwd_config:
            super(JupyterApp, self).load_config_file(  # type: ignore[misc]  # as nbgrader does
                self.config_file_name, os.getcwd()
            )

    def options(self) -> GradingOptions:
        """Return this run's options: flags over the configuration over the defaults."""
        if len(self.extra_args) != 1:
            raise ValueError(
                "give exactly one assignment name, e.g. nn-autograde grade C2_W2_Assignment"
            )
        workers = self.workers or default_workers()
        return GradingOptions(
            assignment=self.extra_args[0],
            course_root=Path(self.coursedir.root),
            limits=GradingLimits(parent=self).limits(workers=workers),
            sandboxed=self.sandboxed,
            skip_after_last_graded=not self.run_all_cells,
            verify_model_file=not self.trust_model_facts,
            workers=workers,
            scheduler=self.scheduler or None,
            force=self.force,
            student=self.student or None,
            progress_json=self.progress_json or None,
            show_progress=self.progress,
            kernel_pool=self.kernel_pool,
            fork_kernels=self.fork_kernels,
        )

    def start(self) -> None:
        """Grade (nbgrader's exchange and authenticator are not needed here)."""
        from autograder.grading import grade

        # nbgrader runs `alembic` from PATH: find the one installed beside this interpreter.
        os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
        self.rows = grade.grade(self.options(), config=self.config)


def _app_switches() -> tuple[dict[str, str], dict[str, Any]]:
    aliases: dict[str, str] = {"course-root": "CourseDirectory.root"}
    flags: dict[str, Any] = {}
    for cls, traits in (
        (GradeApp, GradeApp.class_own_traits(config=True)),
        (GradingLimits, GradingLimits.class_traits(config=True)),
    ):
        more_aliases, more_flags = _switches(cls, traits)
        aliases.update(more_aliases)
        flags.update(more_flags)
    return aliases, flags


GradeApp.aliases, GradeApp.flags = _app_switches()


def course_config(course_root: Path, overrides: Config | None = None) -> Config:
    """Return the configuration the grading command would use in ``course_root``.

    nbgrader's places (Jupyter's configuration paths, the current folder, then the course
    root's ``nbgrader_config.py``), with ``overrides`` (e.g. a caller's flags) on top.
    """
    app = GradeApp()
    app.initialize([], root=str(course_root))
    config = Config(app.config)
    config.CourseDirectory.root = str(course_root)
    if overrides is not None:
        config.merge(overrides)
    return config
