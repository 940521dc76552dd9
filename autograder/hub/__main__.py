"""Start the class hub: ``python -m autograder.hub [--state DIR] [--port N] ...``.

A thin layer over :func:`autograder.hub.prepare.prepare_hub`: it prepares the accounts and
the state folder, prints where everything is, then becomes JupyterHub (``exec``), so stopping
this process (Ctrl-C, SIGTERM) stops the hub, its proxy and every single-user server.
:func:`add_command` registers the same command on ``nn-autograde`` (``nn-autograde hub``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder.hub.accounts import AccountError
from autograder.hub.layout import DEFAULT_STATE
from autograder.hub.prepare import HubSetupError, prepare_hub
from autograder.hub.roster import DEFAULT_CLASS_FILE, RosterError

DESCRIPTION = "Start JupyterHub for the class: one instructor, the students, nbgrader's exchange."


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the hub's options to ``parser``; return it."""
    parser.add_argument(
        "--class-file",
        type=Path,
        default=DEFAULT_CLASS_FILE,
        help="the class (default: %(default)s)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE,
        help="folder for everything the hub keeps: its database, the passwords, the exchange,"
        " the instructor's course, the members' folders (default: %(default)s)",
    )
    parser.add_argument(
        "--ip", default="127.0.0.1", help="address to serve on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to serve on (default: %(default)s)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="your own jupyterhub_config.py, loaded last (authenticator, spawner, TLS, ...)",
    )
    return parser


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hub`` on another command line's subcommands (``nn-autograde hub``)."""
    hub = commands.add_parser(
        "hub", help="start the class hub (JupyterHub)", description=DESCRIPTION
    )
    add_arguments(hub).set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Prepare the hub from parsed options, then become JupyterHub; return 2 if it cannot start."""
    try:
        settings = prepare_hub(
            class_file=args.class_file,
            state=args.state,
            ip=args.ip,
            port=args.port,
            extra_config=args.config,
            say=lambda line: print(line, flush=True),
        )
    except (RosterError, AccountError, HubSetupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    layout = settings.layout
    print(
        f"class hub for {settings.course_id} on {settings.url}\n"
        f"  instructor {settings.instructor}: JupyterLab in {layout.course_root} (nbgrader course root)\n"
        f"  students {', '.join(settings.students)}: JupyterLab in {layout.homes}/<student>,"
        f" environment {layout.students_env}\n"
        f"  exchange {layout.exchange}\n"
        f"  passwords {layout.passwords} (root only)",
        flush=True,
    )
    os.chdir(layout.runtime)
    hub = [sys.executable, "-m", "jupyterhub", "-f", str(layout.hub_config)]
    os.execv(hub[0], hub)
    return 0  # not reached: exec replaced this process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.hub", description=DESCRIPTION)
    return run(add_arguments(parser).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
