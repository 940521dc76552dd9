"""Command line: ``python -m autograder grade ASSIGNMENT`` and ``python -m autograder bench``.

A thin layer: it parses arguments and forwards them to keyword-only functions
(:func:`autograder.grading.grade.grade_assignment`, :func:`autograder.bench.run_benchmark`),
which own every default.
"""

from __future__ import annotations

import os
import sys

# `python -m autograder` puts the current folder first on sys.path, and a course folder is
# data: none of its files may be imported in place of an installed package.
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.getcwd():
    del sys.path[0]

import argparse

from traitlets import Int
from traitlets.config import Config

from autograder.grading import grade as grade_module
from autograder.grading import sandbox

_TRUST_HELP = (
    "judge the model checks from the kernel's own report instead of the model file it saved "
    "(a student could forge the facts; saves little: most files are read without TensorFlow)"
)


def _grade(args: argparse.Namespace) -> int:
    from autograder.grading import grade, report
    from autograder.kernel.protocol import Status

    # nbgrader runs `alembic` from PATH: find the one installed beside this interpreter.
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])

    # Flags given on the command line override the course's nbgrader_config.py.
    flags = Config()
    for name in grade.GradingLimits.class_traits(config=True):
        if getattr(args, name) is not None:
            flags.GradingLimits[name] = getattr(args, name)
    try:
        rows = grade.grade_assignment(
            assignment=args.assignment,
            course_root=args.course_root,
            workers=args.workers,
            scheduler=args.scheduler,
            force=args.force,
            student=args.student,
            sandboxed=not args.no_sandbox,
            config=flags,
            skip_after_last_graded=not args.run_all_cells,
            verify_model_file=not args.trust_model_facts,
            progress_json=args.progress_json,
            show_progress=not args.no_progress,
        )
    except (sandbox.SandboxUnavailable, grade.GradingSetupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.format_table(rows), file=sys.stderr if args.progress_json == "-" else sys.stdout)
    return 1 if any(row.status == Status.GRADING_ERROR for row in rows) else 0


def _bench(args: argparse.Namespace) -> int:
    from autograder import bench

    bench.run_benchmark(
        copies=args.copies,
        workers=args.workers,
        samples=args.samples,
        skip_after_last_graded=not args.run_all_cells,
        verify_model_file=not args.trust_model_facts,
        names=args.sample or None,
        json_path=args.json,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m autograder``."""
    parser = argparse.ArgumentParser(prog="nn-autograde", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="autograde every submission of an assignment")
    grade.add_argument("assignment", help="assignment name, e.g. C2_W2_Assignment")
    grade.add_argument("--course-root", default=".", help="nbgrader course root (default: .)")
    grade.add_argument("--workers", type=int, default=None, help="parallel jobs (default: cores)")
    grade.add_argument("--scheduler", help="address of a running dask scheduler, tcp://HOST:PORT")
    grade.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    grade.add_argument("--student", help="grade only this student")
    grade.add_argument(
        "--no-sandbox", action="store_true", help="run student code unconfined (not recommended)"
    )
    for name, trait in grade_module.GradingLimits.class_traits(config=True).items():
        grade.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=int if isinstance(trait, Int) else float,
            help=f"{trait.help.rstrip('.')} (default: c.GradingLimits.{name} in nbgrader_config.py, "
            f"else {trait.default_value})",
        )
    grade.add_argument(
        "--run-all-cells",
        action="store_true",
        help="also run the cells after the last graded cell (slower; scores are the same)",
    )
    grade.add_argument(
        "--trust-model-facts",
        action="store_true",
        help=_TRUST_HELP,
    )
    grade.add_argument("--progress-json", help="write JSON-lines progress to FILE (- for stdout)")
    grade.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    grade.set_defaults(func=_grade)

    bench = commands.add_parser("bench", help="time stock nbgrader autograde against `grade`")
    bench.add_argument("--copies", type=int, default=4, help="submissions to grade")
    bench.add_argument("--workers", type=int, default=None, help="parallel jobs (default: cores)")
    bench.add_argument("--samples", type=int, default=3, help="kernel runs for the floor (median)")
    bench.add_argument(
        "--sample",
        action="append",
        help="sample submission to copy (repeatable; default: all samples)",
    )
    bench.add_argument(
        "--run-all-cells", action="store_true", help="grade without skipping trailing cells"
    )
    bench.add_argument(
        "--trust-model-facts",
        action="store_true",
        help=_TRUST_HELP,
    )
    bench.add_argument("--json", help="also write the figures to this JSON file")
    bench.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``nn-autograde`` command line."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
