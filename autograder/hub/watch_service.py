"""Run ``nn-autograde watch`` as a JupyterHub-managed service of the class hub.

JupyterHub starts this module as the instructor's account (``c.JupyterHub.services``, with
``user``), stops it with the hub (SIGINT: the watcher's Ctrl-C) and starts it again if it
exits. It prepares what the hub's service spawner does not, then becomes the watcher
(``exec``, so the hub's signals reach the watcher itself):

- output goes to a log file in the instructor's course root, ``logs/watch-<assignment>.log``
  (appended; folder 0700 and file 0600, the instructor's, created and opened without
  following a link), which the instructor reads in JupyterLab and no student can;
- the hub's API token is dropped from the environment: the watcher needs none, and the
  grading it runs executes student code as the instructor's account;
- ``HOME`` is the instructor's folder in the state folder (the spawner sets the account's);
- until the assignment is generated and released (in the gradebook with its notebook, and
  the exchange's ``inbound/`` folder exists) it waits, saying so once in the log, instead of
  failing and being restarted every half minute.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
import time
from pathlib import Path

#: The folder of the services' logs, in the course root.
LOG_FOLDER = "logs"
#: Seconds between looks while the assignment is not released yet.
WAIT_S = 5.0
#: Environment variables through which the hub hands a service its API token.
TOKEN_VARIABLES = ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")


class LogError(RuntimeError):
    """The log cannot be opened safely; the message says what is in the way."""


def log_name(assignment: str) -> str:
    return f"watch-{assignment}.log"


def _own(fd: int, kind: int, what: str) -> None:
    st = os.fstat(fd)
    if stat.S_IFMT(st.st_mode) != kind or st.st_uid != os.geteuid():
        raise LogError(f"{what} is not a {'folder' if kind == stat.S_IFDIR else 'file'} of yours")


def open_log(course_root: Path, assignment: str) -> int:
    """Open the assignment's log for appending; return its descriptor.

    The folder and the file are created if missing, each reached without following a link and
    checked to be the running account's; their modes are set to 0700 and 0600.
    """
    root = os.open(course_root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(LOG_FOLDER, 0o700, dir_fd=root)
        try:
            folder = os.open(
                LOG_FOLDER, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root
            )
        except OSError as err:
            raise LogError(f"{course_root / LOG_FOLDER} is not a folder ({err.strerror})") from err
    finally:
        os.close(root)
    try:
        _own(folder, stat.S_IFDIR, str(course_root / LOG_FOLDER))
        os.fchmod(folder, 0o700)
        path = course_root / LOG_FOLDER / log_name(assignment)
        try:
            fd = os.open(
                log_name(assignment),
                os.O_WRONLY
                | os.O_APPEND
                | os.O_CREAT
                | os.O_NOFOLLOW
                | os.O_NONBLOCK
                | os.O_CLOEXEC,
                0o600,
                dir_fd=folder,
            )
        except OSError as err:
            raise LogError(f"{path} cannot be opened ({err.strerror}): is it a link?") from err
    finally:
        os.close(folder)
    try:
        _own(fd, stat.S_IFREG, str(path))
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def released(course_root: Path, assignment: str, inbound: Path) -> bool:
    """Whether the watcher can start: the assignment is generated and released."""
    from autograder.grading import planning

    if not inbound.is_dir():
        return False
    try:
        planning.make_plan(course_root=course_root, assignment=assignment)
    except planning.GradingSetupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.hub.watch_service",
        description="Run a command (nn-autograde watch) as the class hub's watcher service.",
    )
    parser.add_argument("--course-root", type=Path, required=True)
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--home", required=True, help="the instructor's HOME")
    parser.add_argument("--inbound", type=Path, required=True, help="the exchange's inbound folder")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the watcher's command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the watcher's command after --")
    try:
        log = open_log(args.course_root, args.assignment)
    except (LogError, OSError) as err:
        print(f"error: watcher service of {args.assignment}: {err}", file=sys.stderr, flush=True)
        return 2
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    sys.stderr = sys.stdout
    for name in TOKEN_VARIABLES:
        os.environ.pop(name, None)
    os.environ["HOME"] = args.home
    os.chdir(args.course_root)
    print(f"{time.strftime('%H:%M:%S')} watcher service of {args.assignment} started", flush=True)
    try:
        if not released(args.course_root, args.assignment, args.inbound):
            print(
                f"{time.strftime('%H:%M:%S')} waiting for {args.assignment} to be generated and"
                " released (nbgrader generate_assignment, nbgrader release_assignment)",
                flush=True,
            )
            while not released(args.course_root, args.assignment, args.inbound):
                time.sleep(WAIT_S)
    except KeyboardInterrupt:  # the hub stops its services with SIGINT
        print(f"{time.strftime('%H:%M:%S')} stopped before the watcher started", flush=True)
        return 0
    os.execvp(command[0], command)
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())
