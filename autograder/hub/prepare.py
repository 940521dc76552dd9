"""Prepare one start of the class hub: accounts, the state folder, the students' environment,
the repository's locked folders, the configuration files.

Everything here is idempotent: a restart with the same state folder keeps the hub's database,
the passwords, the exchange, the instructor's course and (when its wheel is unchanged) the
students' environment, and rewrites only the generated configuration (ports may change).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.hub import accounts
from autograder.hub.auth import ensure_passwords
from autograder.hub.config import (
    HubSettings,
    course_config_text,
    hub_config_text,
    role_config_files,
)
from autograder.hub.gradebook import GradebookPlan
from autograder.hub.layout import (
    COURSE_CONFIG,
    PROXY_COMMAND,
    REPO_ROOT,
    SECRETS,
    SOURCE_DIRECTORY,
    HubLayout,
)
from autograder.hub.roster import ClassRoster, RosterError, load_roster
from autograder.hub.settings import (
    SETTINGS_FILE,
    CourseSettings,
    SettingsError,
    create_nofollow,
    default_text,
    load_settings,
    source_assignments,
)
from autograder.hub.students_env import (
    StudentsEnv,
    StudentsEnvError,
    ensure_students_env,
    shared_site_packages,
)


class HubSetupError(RuntimeError):
    """The hub cannot start on this machine as it is; the message says what to do."""


def course_id_of(config_file: Path = COURSE_CONFIG) -> str:
    """Return ``c.CourseDirectory.course_id`` of an nbgrader configuration file."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    return str(config.CourseDirectory.course_id)


def free_port(ip: str = "127.0.0.1") -> int:
    """Return a TCP port on ``ip`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        port: int = sock.getsockname()[1]
        return port


def _folder(path: Path, mode: int, owner: accounts.Account | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)
    return path


def _write(path: Path, text: str, mode: int = 0o644, owner: accounts.Account | None = None) -> None:
    """Replace ``path`` with a file holding ``text``, without following a link at its place.

    Some of these files are in a folder of the instructor's (the course root), where root must
    not write or chown through a link they left: the text goes into a new file (``O_EXCL``, its
    owner and mode set through its descriptor), which is then renamed over ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        temporary = f".{path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=folder,
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                if owner is not None:
                    os.fchown(out.fileno(), owner.uid, owner.gid)
                os.fchmod(out.fileno(), mode)
            os.replace(temporary, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def _lock_secrets(instructor: accounts.Account, say: Callable[[str], None]) -> None:
    """Lock the repository's folders that hold answers to the instructor's group."""
    for path in SECRETS:
        if not os.path.lexists(path):
            continue
        try:
            changed = accounts.lock_to_group(path, instructor.gid)
        except OSError as err:
            raise HubSetupError(
                f"cannot lock {path} to the instructor's group: {err}; students could read it"
            ) from err
        if changed:
            say(f"class hub: locked {path.relative_to(REPO_ROOT)}/ to the instructor: {changed}")


def course_settings(layout: HubLayout, instructor: accounts.Account) -> CourseSettings:
    """Read the instructor's settings file, writing the defaults first if there is none."""
    from autograder.grading.watch import Watch

    assignments = source_assignments(SOURCE_DIRECTORY)
    limit = Watch.class_traits()["max_graded_per_hour"].default_value
    create_nofollow(
        layout.course_root,
        SETTINGS_FILE,
        default_text(assignments, limit),
        instructor.uid,
        instructor.gid,
    )
    try:
        return load_settings(layout.course_root, assignments)
    except SettingsError as err:
        raise HubSetupError(
            f"{err}\nThe hub did not start: fix the file (the instructor checks it with"
            f" python -m autograder.hub.settings {SETTINGS_FILE} in their course root) and"
            " start the hub again"
        ) from err


def fill_gradebook(
    layout: HubLayout,
    instructor: accounts.Account,
    roster: ClassRoster,
    settings: CourseSettings,
    say: Callable[[str], None],
) -> None:
    """Put the roster and the due dates into the gradebook, as the instructor (it is theirs)."""
    plan = GradebookPlan(
        course_root=str(layout.course_root),
        course_id=roster.course_id,
        students=tuple(vars(roster.student(name)) for name in roster.students),
        due_dates={a.name: a.due_utc_text for a in settings.assignments},
    )
    done = subprocess.run(
        [sys.executable, "-m", "autograder.hub.gradebook"],
        input=plan.to_json(),
        capture_output=True,
        text=True,
        cwd=layout.course_root,
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(layout.home(instructor.name)),
            "LANG": "C.UTF-8",
        },
        user=instructor.uid,
        group=instructor.gid,
        extra_groups=[],
        timeout=300,
    )
    if done.returncode != 0:
        raise HubSetupError(
            f"cannot put the roster and due dates into the gradebook:\n{done.stderr[-3000:]}"
        )
    for line in done.stdout.splitlines():
        say(f"class hub: {line}")


def _check_reach(
    instructor: accounts.Account, student: accounts.Account, layout: HubLayout, env: StudentsEnv
) -> None:
    """Fail unless each role runs its environment and reaches the state folder, and a student
    reaches none of the repository's locked folders."""
    shared = Path(sys.prefix)
    needs = {
        # The instructor runs the repository's environment, its package editable.
        instructor: [
            (shared / "bin" / "python", 5),
            (shared / "bin" / "jupyterhub-singleuser", 5),
            (REPO_ROOT / "autograder" / "__init__.py", 4),
            (REPO_ROOT / "lab_utils" / "__init__.py", 4),
            (SOURCE_DIRECTORY, 5),
            (COURSE_CONFIG, 4),
            (layout.state, 1),
        ],
        # A student runs the students' environment, which reaches .venv's public packages.
        student: [
            (env.python, 5),
            (env.bin / "jupyterhub-singleuser", 5),
            *((path, 5) for path in shared_site_packages()),
            (layout.state, 1),
        ],
    }
    problems = [
        reason
        for account, paths in needs.items()
        for path, bits in paths
        if (reason := accounts.unreachable(path, account, bits=bits))
    ]
    if problems:
        raise HubSetupError(
            "the class's accounts cannot reach the environments they run:\n  "
            + "\n  ".join(problems)
            + "\nmake each folder named traversable by others (chmod o+x FOLDER; bash .ci/setup does"
            " this for the interpreter's folders when run as root), or create .venv from a Python"
            " installed outside any private folder"
        )
    readable = [
        str(path)
        for path in SECRETS
        if os.path.lexists(path) and accounts.unreachable(path, student, bits=4) is None
    ]
    if readable:
        raise HubSetupError(
            f"{student.name} can still read {', '.join(readable)}: lock them (chmod o-rwx)"
        )


def prepare_hub(
    *,
    class_file: Path,
    state: Path,
    ip: str = "127.0.0.1",
    port: int = 8000,
    extra_config: Path | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> HubSettings:
    """Create the accounts, the state folder and the students' environment for ``class_file``,
    lock the repository's answers to the instructor; return the hub's settings.

    ``say`` is given a line for each thing changed outside the state folder and for the
    students' environment.
    """
    if os.geteuid() != 0:
        raise HubSetupError(
            "the class hub must start as root: it runs each member of the class as their own"
            " Unix account (JupyterHub's LocalProcessSpawner) and creates the missing accounts"
        )
    roster = load_roster(class_file)
    course_id = course_id_of()
    if roster.course_id != course_id:
        raise RosterError(
            f"{class_file}: course_id {roster.course_id!r} differs from the course's"
            f" {course_id!r} (c.CourseDirectory.course_id in {COURSE_CONFIG})"
        )
    if not PROXY_COMMAND.exists():
        raise HubSetupError(
            f"{PROXY_COMMAND} is missing: run bash .ci/setup, which installs JupyterHub's proxy"
            " from the npm registry (npm ci --prefix .venv/node)"
        )
    if extra_config is not None and not extra_config.is_file():
        raise HubSetupError(f"--config {extra_config}: no such file")
    members = {name: accounts.ensure_account(name) for name in roster.users}
    instructor = members[roster.instructor]

    layout = HubLayout(Path(os.path.abspath(state)))
    _folder(layout.state, 0o755)
    _folder(layout.runtime, 0o700)
    # As nbgrader documents: everybody may write, and the sticky bit keeps each one's files theirs.
    _folder(layout.exchange, 0o1777)
    _folder(layout.course_root, 0o700, instructor)
    _folder(layout.homes, 0o755)
    for name, account in members.items():
        _folder(layout.home(name), 0o700, account)
    course = course_settings(layout, instructor)
    try:
        env = ensure_students_env(layout.students_env, say)
    except StudentsEnvError as err:
        raise HubSetupError(str(err)) from err
    _lock_secrets(instructor, say)
    _check_reach(instructor, members[roster.students[0]], layout, env)

    settings = HubSettings(
        state=str(layout.state),
        ip=ip,
        port=port,
        hub_port=free_port(),
        proxy_api_port=free_port(),
        status_port=free_port(),
        course_id=roster.course_id,
        instructor=roster.instructor,
        students=roster.students,
        venv_bin=str(Path(sys.prefix) / "bin"),
        students_bin=str(env.bin),
        proxy_command=str(PROXY_COMMAND),
        watched=tuple(a.name for a in course.assignments),
        max_graded_per_hour=course.max_graded_per_hour,
        counts=course.counts,
        cull_idle_after_s=course.cull_idle_after_s,
    )
    _write(
        layout.course_root / "nbgrader_config.py",
        course_config_text(
            layout, COURSE_CONFIG, SOURCE_DIRECTORY, late_penalty=course.late_penalty
        ),
        owner=instructor,
    )
    fill_gradebook(layout, instructor, roster, course, say)
    for role, files in role_config_files(settings).items():
        _folder(layout.jupyter_config(role), 0o755)
        for name, text in files.items():
            _folder((layout.jupyter_config(role) / name).parent, 0o755)
            _write(layout.jupyter_config(role) / name, text)
    ensure_passwords(layout.passwords, roster.users)
    settings.write(layout.settings)
    os.chmod(layout.settings, 0o600)
    _write(layout.hub_config, hub_config_text(layout.settings, extra_config), mode=0o600)
    return settings
