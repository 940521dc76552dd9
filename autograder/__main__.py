"""Grade the class: nn-autograde (python -m autograder) grade, cluster-tls, watch, queue, export-lms, hub.

A thin layer: it parses arguments and forwards them to keyword-only functions (such as
:func:`autograder.grading.grade.grade_assignment`), which own every default.
"""

from __future__ import annotations

import os
import sys

# `python -m autograder` puts the current folder first on sys.path, and a course folder is
# data: none of its files may be imported in place of an installed package.
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.getcwd():
    del sys.path[0]

import argparse

from traitlets import Bool, Float, Int
from traitlets.config import Config

from autograder.grading import grade as grade_module
from autograder.grading import sandbox

_TRUST_HELP = (
    "judge the model checks from the kernel's own report instead of the model file it saved "
    "(a student could forge the facts; saves little: most files are read without TensorFlow)"
)


def _grade(args: argparse.Namespace) -> int:
    from autograder.grading import cluster, grade, report
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
    except (sandbox.SandboxUnavailable, grade.GradingSetupError, cluster.ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.format_table(rows), file=sys.stderr if args.progress_json == "-" else sys.stdout)
    return 1 if any(row.status == Status.GRADING_ERROR for row in rows) else 0


def _cluster_tls(args: argparse.Namespace) -> int:
    from autograder.grading import cluster

    config = cluster.write_tls_config(args.folder)
    print(f"wrote {config.parent}/key.pem (secret), cert.pem and {config.name}")
    print(f"export DASK_CONFIG={config.parent}")
    return 0


def _watch_flags(args: argparse.Namespace) -> Config:
    from autograder.grading import watch

    # Flags given on the command line override the course's nbgrader_config.py.
    flags = Config()
    for name in watch.Watch.class_traits(config=True):
        if getattr(args, name, None) is not None:
            flags.Watch[name] = getattr(args, name)
    return flags


def _watch(args: argparse.Namespace) -> int:
    from autograder.grading import grade, watch

    # nbgrader runs `alembic` from PATH: find the one installed beside this interpreter.
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    try:
        watch.watch(
            assignment=args.assignment,
            course_root=args.course_root,
            once=args.once,
            poll=args.poll,
            config=_watch_flags(args),
            sandboxed=not args.no_sandbox,
            log=lambda line: print(line, flush=True),
        )
    except (sandbox.SandboxUnavailable, grade.GradingSetupError, watch.WatchError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped; run the command again to go on where it left off", file=sys.stderr)
    return 0


def _queue(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from autograder.grading import watch

    entries = watch.read_queue(Path(args.course_root).resolve(), args.assignment)
    if args.json:
        for entry in entries:
            print(json.dumps(dataclasses.asdict(entry)))
    else:
        print(watch.format_queue(entries))
    return 0


def _export_lms(args: argparse.Namespace) -> int:
    from autograder.grading import grade, lms

    try:
        path = lms.export_lms(
            assignment=args.assignment,
            fmt=args.format,
            course_root=args.course_root,
            output=args.output,
        )
    except grade.GradingSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _add_watch_commands(commands) -> None:
    """Add ``watch``, ``queue`` and ``export-lms`` (grading on submission, grades out)."""
    from autograder.grading import lms, watch

    run = commands.add_parser("watch", help="grade each new submission in nbgrader's exchange")
    run.add_argument("assignment", help="assignment name, e.g. C2_W2_Assignment")
    run.add_argument("--course-root", default=".", help="nbgrader course root (default: .)")
    run.add_argument("--once", action="store_true", help="grade what is pending now, then exit")
    run.add_argument("--poll", type=float, help="seconds between looks (c.Watch.poll_interval)")
    for name, trait in watch.Watch.class_traits(config=True).items():
        if name == "poll_interval":
            continue
        option = f"--{name.replace('_', '-')}"
        default = f"default: c.Watch.{name} in nbgrader_config.py, else {trait.default_value}"
        if isinstance(trait, Bool):
            run.add_argument(
                option,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{trait.help.rstrip('.')} ({default})",
            )
        else:
            run.add_argument(
                option,
                dest=name,
                type={Int: int, Float: float}.get(type(trait), str),
                help=f"{trait.help.rstrip('.')} ({default})",
            )
    run.add_argument(
        "--no-sandbox", action="store_true", help="run student code unconfined (not recommended)"
    )
    run.set_defaults(func=_watch)

    queue = commands.add_parser("queue", help="show the watcher's queue of an assignment")
    queue.add_argument("assignment", help="assignment name, e.g. C2_W2_Assignment")
    queue.add_argument("--course-root", default=".", help="nbgrader course root (default: .)")
    queue.add_argument("--json", action="store_true", help="print JSON lines, one per submission")
    queue.set_defaults(func=_queue)

    export = commands.add_parser("export-lms", help="write grades as a Canvas or Moodle CSV")
    export.add_argument("assignment", help="assignment name, e.g. C2_W2_Assignment")
    export.add_argument("--format", required=True, choices=[str(f) for f in lms.LmsFormat])
    export.add_argument("--course-root", default=".", help="nbgrader course root (default: .)")
    export.add_argument("--output", help="CSV file (default: reports/ASSIGNMENT-FORMAT.csv)")
    export.set_defaults(func=_export_lms)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m autograder``."""
    parser = argparse.ArgumentParser(prog="nn-autograde", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="autograde every submission of an assignment")
    grade.add_argument("assignment", help="assignment name, e.g. C2_W2_Assignment")
    grade.add_argument("--course-root", default=".", help="nbgrader course root (default: .)")
    grade.add_argument("--workers", type=int, default=None, help="parallel jobs (default: cores)")
    grade.add_argument(
        "--scheduler",
        help="TLS address of a running dask scheduler, tls://HOST:PORT (see cluster-tls)",
    )
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
    tls = commands.add_parser(
        "cluster-tls",
        help="write a key, its certificate and a Dask configuration that puts a grading "
        "cluster behind TLS (then: export DASK_CONFIG=FOLDER)",
    )
    tls.add_argument("folder", help="folder to write them to (created, mode 0700)")
    tls.set_defaults(func=_cluster_tls)
    _add_watch_commands(commands)
    from autograder.hub.__main__ import add_command as add_hub_command

    add_hub_command(commands)  # nn-autograde hub: the class's JupyterHub

    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``nn-autograde`` command line."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
