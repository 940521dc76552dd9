"""Grade the class: nn-autograde (python -m autograder) grade, cluster-tls, watch, queue, export-lms, hub.

A thin layer: it parses arguments and forwards them to keyword-only functions (such as
:func:`autograder.grading.watch.watch`), which own every default; ``grade`` is an nbgrader
application (:class:`autograder.grading.app.GradeApp`) whose traits own its defaults.
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

from autograder.grading import sandbox


def _grade(argv: list[str]) -> int:
    """Run ``nn-autograde grade`` (an nbgrader app: :mod:`autograder.grading.app`)."""
    from autograder.grading import cluster, planning, report
    from autograder.grading.app import GradeApp
    from autograder.kernel.protocol import Status

    app = GradeApp()
    try:
        app.initialize(argv)
        app.start()
    except (sandbox.SandboxUnavailable, planning.GradingSetupError, cluster.ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # no assignment name, or a limit that is not positive
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = sys.stderr if app.progress_json == "-" else sys.stdout
    print(report.format_table(app.rows), file=out)
    return 1 if any(row.status == Status.GRADING_ERROR for row in app.rows) else 0


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
    from autograder.grading import planning, watch

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
    except (sandbox.SandboxUnavailable, planning.GradingSetupError, watch.WatchError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped; run the command again to go on where it left off", file=sys.stderr)
    return 0


def _queue(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from autograder.grading import watch

    course_root = Path(args.course_root).resolve()
    try:
        entries = watch.read_queue(course_root, args.assignment)
        status = watch.read_watcher(course_root, args.assignment)
    except watch.WatchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.watcher:
        print(json.dumps(status.json()) if args.json else watch.format_watcher(status))
        return 0 if status.state == watch.WatcherState.RUNNING else 1
    if args.json:
        for entry in entries:
            print(json.dumps(watch.entry_json(entry)))
    else:
        print(watch.format_queue(entries))
        print(watch.format_watcher(status))
    return 0


def _export_lms(args: argparse.Namespace) -> int:
    from autograder.grading import lms, planning

    try:
        path = lms.export_lms(
            assignment=args.assignment,
            fmt=args.format,
            course_root=args.course_root,
            output=args.output,
        )
    except planning.GradingSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _add_watch_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    queue.add_argument(
        "--watcher",
        action="store_true",
        help="say only whether a watcher is running: exit status 0 if it is, 1 if not "
        "(with --json: one JSON object, its state, pid, host and times)",
    )
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

    # `grade` is an nbgrader app with options of its own (`nn-autograde grade --help-all`):
    # main() hands it the arguments; it is listed here for the overview.
    commands.add_parser(
        "grade", help="autograde every submission of an assignment (--help-all: its options)"
    )
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["grade"]:
        return _grade(argv[1:])
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
