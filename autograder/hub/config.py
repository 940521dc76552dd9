"""JupyterHub's configuration for the class, from the settings ``python -m autograder.hub`` wrote.

The generated ``jupyterhub_config.py`` in the state folder calls :func:`configure` with the
settings file beside it, then loads the instructor's own configuration file if one was given
(``--config``), so a real deployment overrides anything here: its authenticator, its spawner.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner

from autograder.hub.layout import HubLayout
from autograder.hub.roster import ClassRoster
from autograder.hub.status_service import SERVICE as STATUS_SERVICE
from autograder.hub.status_service import access_scope

#: nbgrader's JupyterLab plugins a student does not get: the instructor's tools.
STUDENT_DISABLED_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:create-assignment",
)
#: ... and the server extensions behind them.
STUDENT_DISABLED_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)
#: JupyterLab's notification defaults on the hub: no news prompt, no update check.
LAB_NOTIFICATIONS = {"fetchNews": "false", "checkForUpdates": False}
#: The instructor's server may be framed by its own pages only: the Formgrader menu item.
FRAMED_BY_SELF = "frame-ancestors 'self'"
#: Seconds a single-user server may take to start (JupyterLab and nbgrader on a busy machine).
START_TIMEOUT_S = 120
#: The idle culler's JupyterHub service and the only scopes it needs (jupyterhub-idle-culler's
#: README): list the users, read their activity and servers, stop servers.
CULLER_SERVICE = "idle-culler"
CULLER_SCOPES = ("list:users", "read:users:activity", "read:servers", "delete:servers")
#: The role that lets the class's members open the status page (and nothing else).
STATUS_ROLE = f"{STATUS_SERVICE}-page"


@dataclass(frozen=True)
class HubSettings:
    """What one start of the hub was given and found: written as JSON into the state folder."""

    state: str
    ip: str
    port: int
    hub_port: int
    proxy_api_port: int
    #: The status page's port (:mod:`autograder.hub.status_service`), on 127.0.0.1.
    status_port: int
    course_id: str
    instructor: str
    students: tuple[str, ...]
    #: The repository's environment (the package editable): the hub's and the instructor's.
    venv_bin: str
    #: The students' environment (the package from a wheel): see ``students_env``.
    students_bin: str
    proxy_command: str
    #: The assignments graded on submission (a watcher service each), from the settings file.
    watched: tuple[str, ...] = ()
    #: The watcher's ``--max-graded-per-hour`` (None: the watcher's default).
    max_graded_per_hour: int | None = None
    #: The watcher's ``--counts`` (which submission counts; None: the watcher's default).
    counts: str | None = None
    #: Seconds without activity before the idle culler stops a server (0: no culler).
    cull_idle_after_s: int = 0

    @property
    def layout(self) -> HubLayout:
        return HubLayout(Path(self.state))

    @property
    def roster(self) -> ClassRoster:
        return ClassRoster(self.course_id, self.instructor, tuple(self.students))

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> HubSettings:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        data["students"] = tuple(data["students"])
        data["watched"] = tuple(data.get("watched", ()))
        return cls(**data)


def bin_of(settings: HubSettings, name: str) -> str:
    """Return the ``bin`` folder of the environment a class member runs: the instructor the
    repository's, a student the students' (which holds no solutions)."""
    if settings.roster.role(name) == "instructor":
        return settings.venv_bin
    return settings.students_bin


def user_environment(settings: HubSettings, name: str) -> dict[str, str]:
    """Return the environment a class member's JupyterLab (and its terminals) gets."""
    return {
        # Their environment's Python, jupyter and nbgrader (the instructor's nn-autograde) first.
        "PATH": f"{bin_of(settings, name)}:/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": str(settings.layout.jupyter_config(settings.roster.role(name))),
        # Dotfiles (Jupyter's runtime files, nbgrader's cache of submissions) stay in the
        # state folder, not in the account's home, which outlives the hub.
        "HOME": str(settings.layout.home(name)),
        "USER": name,
        "LOGNAME": name,
        # Keep TensorFlow's C++ start-up logging out of the students' notebooks.
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def root_dir(settings: HubSettings, name: str) -> Path:
    """Return the folder a class member's JupyterLab serves."""
    if settings.roster.role(name) == "instructor":
        return settings.layout.course_root
    return settings.layout.home(name)


class ClassSpawner(LocalProcessSpawner):  # type: ignore[misc]  # jupyterhub is untyped
    """JupyterHub's LocalProcessSpawner, keeping the ``HOME`` the class's environment gives
    and starting the server in its root folder (the Unix account's home is neither)."""

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env = super().user_env(env)
        if "HOME" in self.environment:
            env["HOME"] = self.environment["HOME"]
        return env

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        become_user = super().make_preexec_fn(name)
        root = self.notebook_dir

        def preexec() -> None:
            become_user()
            # Terminals and nbgrader's fetch start in the server's working folder.
            if root:
                os.chdir(root)

        return preexec


def _prepare_spawn(settings: HubSettings, spawner: Any) -> None:
    """Give each server its role's folder, environment and interpreter (JupyterHub's pre-spawn
    hook): the server's Python is its kernels' too."""
    name = spawner.user.name
    root = str(root_dir(settings, name))
    spawner.notebook_dir = root
    spawner.cmd = [f"{bin_of(settings, name)}/jupyterhub-singleuser"]
    # Also on the command line: nbgrader's server extensions read the root folder when they
    # load, before JupyterHub's extension has applied JUPYTERHUB_ROOT_DIR.
    spawner.args = [*spawner.args, f"--ServerApp.root_dir={root}"]
    spawner.environment = {**spawner.environment, **user_environment(settings, name)}


def watch_service_name(assignment: str) -> str:
    """Return the name of the JupyterHub service that grades ``assignment`` on submission."""
    return f"watch-{assignment}"


def watch_service(settings: HubSettings, assignment: str) -> dict[str, Any]:
    """Return the JupyterHub service that runs ``nn-autograde watch ASSIGNMENT`` as the
    instructor, from the course root (see :mod:`autograder.hub.watch_service`)."""
    layout = settings.layout
    watch = [f"{settings.venv_bin}/nn-autograde", "watch", assignment]
    if settings.max_graded_per_hour is not None:
        watch += ["--max-graded-per-hour", str(settings.max_graded_per_hour)]
    if settings.counts is not None:
        watch += ["--counts", settings.counts]
    # The roster is in the gradebook (the hub puts it there at each start): nobody else's
    # submissions are graded, whatever Unix account wrote them.
    watch.append("--known-students-only")
    inbound = layout.exchange / settings.course_id / "inbound"
    return {
        "name": watch_service_name(assignment),
        "user": settings.instructor,
        "cwd": str(layout.course_root),
        "environment": user_environment(settings, settings.instructor),
        "command": [
            f"{settings.venv_bin}/python",
            "-m",
            "autograder.hub.watch_service",
            f"--course-root={layout.course_root}",
            f"--assignment={assignment}",
            f"--home={layout.home(settings.instructor)}",
            f"--inbound={inbound}",
            "--",
            *watch,
        ],
    }


def culler_service(settings: HubSettings) -> dict[str, Any]:
    """Return the JupyterHub service that stops servers idle for ``cull_idle_after_s``.

    It runs as the instructor (stopping the class's idle servers is theirs to decide, and it
    needs no file), not as root; its token holds only :data:`CULLER_SCOPES`.
    """
    return {
        "name": CULLER_SERVICE,
        "user": settings.instructor,
        "cwd": str(settings.layout.course_root),
        "environment": {"PATH": user_environment(settings, settings.instructor)["PATH"]},
        "command": [
            f"{settings.venv_bin}/python",
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={settings.cull_idle_after_s}",
            f"--cull-every={max(settings.cull_idle_after_s // 2, 10)}",
        ],
    }


def status_service(settings: HubSettings) -> dict[str, Any]:
    """Return the JupyterHub service of the status page, where each student sees their own
    submissions (:mod:`autograder.hub.status_service`), in the hub's Services menu.

    It runs as the instructor (the queues are theirs; it opens them read-only) and listens on
    127.0.0.1; the tokens a student's login gives it only say who the student is.
    """
    command = [
        f"{settings.venv_bin}/python",
        "-m",
        "autograder.hub.status_service",
        f"--course-root={settings.layout.course_root}",
        *(f"--assignment={assignment}" for assignment in settings.watched),
    ]
    if settings.max_graded_per_hour is not None:
        command.append(f"--max-graded-per-hour={settings.max_graded_per_hour}")
    environment = user_environment(settings, settings.instructor)
    return {
        "name": STATUS_SERVICE,
        "url": f"http://127.0.0.1:{settings.status_port}",
        "user": settings.instructor,
        "cwd": str(settings.layout.course_root),
        "environment": {name: environment[name] for name in ("PATH", "HOME")},
        "command": command,
        "display": True,
        # Part of the hub, not a third party: no "authorize access" page at each login.
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [],
    }


def configure(c: Any, settings_file: str | Path) -> HubSettings:
    """Fill JupyterHub's config object ``c`` for the class; return the settings it used."""
    from autograder.hub.auth import ClassPasswordAuthenticator

    settings = HubSettings.read(Path(settings_file))
    layout = settings.layout
    c.JupyterHub.bind_url = settings.url
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings.hub_port
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.command = [settings.proxy_command]
    c.ConfigurableHTTPProxy.pid_file = str(layout.runtime / "proxy.pid")
    c.JupyterHub.db_url = f"sqlite:///{layout.runtime / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(layout.runtime / "jupyterhub_cookie_secret")
    # Stop every single-user server (and the proxy) when the hub stops.
    c.JupyterHub.cleanup_servers = True
    c.JupyterHub.cleanup_proxy = True

    c.JupyterHub.authenticator_class = ClassPasswordAuthenticator
    c.ClassPasswordAuthenticator.passwords_file = str(layout.passwords)
    c.Authenticator.allowed_users = set(settings.roster.users)

    c.JupyterHub.spawner_class = ClassSpawner
    # The pre-spawn hook sets each member's; anybody else would get the students'.
    c.Spawner.cmd = [f"{settings.students_bin}/jupyterhub-singleuser"]
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = START_TIMEOUT_S
    c.Spawner.http_timeout = START_TIMEOUT_S
    c.Spawner.pre_spawn_hook = partial(_prepare_spawn, settings)

    # Started and stopped with the hub, started again if they exit (JupyterHub's managed
    # services; it notices an exit at its next poll, within about 30 s).
    services = [watch_service(settings, assignment) for assignment in settings.watched]
    roles = []
    if settings.watched:
        services.append(status_service(settings))
        roles.append(
            {
                "name": STATUS_ROLE,
                "description": "Open the status page of one's own submissions",
                "scopes": [access_scope(STATUS_SERVICE)],
                "users": list(settings.roster.users),
            }
        )
    if settings.cull_idle_after_s:
        services.append(culler_service(settings))
        roles.append(
            {"name": CULLER_SERVICE, "scopes": list(CULLER_SCOPES), "services": [CULLER_SERVICE]}
        )
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles
    return settings


def hub_config_text(settings_file: Path, extra_config: Path | None) -> str:
    """Return the ``jupyterhub_config.py`` the hub starts with."""
    lines = [
        '"""JupyterHub configuration of the class hub: written by python -m autograder.hub."""',
        "",
        "from autograder.hub.config import configure",
        "",
        "c = get_config()  # noqa: F821",
        f"configure(c, {str(settings_file)!r})",
    ]
    if extra_config is not None:
        lines.append(f"load_subconfig({str(extra_config)!r})  # noqa: F821  (--config)")
    return "\n".join(lines) + "\n"


def course_config_text(
    layout: HubLayout,
    course_config: Path,
    source_directory: Path,
    *,
    late_penalty: str | None = None,
) -> str:
    """Return the ``nbgrader_config.py`` of the hub's course root.

    It loads the repository's course configuration (preprocessors, feedback, limits, course id)
    and moves the course: its root into the state folder, the source folder stays the
    repository's ``assignment/``, and the exchange is the hub's (``nn-autograde watch`` reads
    ``c.Exchange.root`` from here too). ``late_penalty`` is the settings file's
    (``LateSubmissionPlugin.penalty_method``).
    """
    text = (
        '"""nbgrader configuration of the class hub\'s course root: written by\n'
        "python -m autograder.hub at each start, so an edit here is lost. Due dates, the late\n"
        'penalty and the hourly limit are yours in course-settings.toml, beside this file."""\n\n'
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(course_config)!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(layout.course_root)!r}\n"
        f"c.CourseDirectory.source_directory = {str(source_directory)!r}\n"
        f"c.Exchange.root = {str(layout.exchange)!r}\n"
        "# On the hub each student is the Unix account of the same name: the grading watcher\n"
        "# fails a submission whose inbound folder belongs to another account.\n"
        "c.Watch.check_owner = True\n"
    )
    if late_penalty is not None:
        text += (
            "# From course-settings.toml:\n"
            f"c.LateSubmissionPlugin.penalty_method = {late_penalty!r}\n"
        )
    return text


def role_config_files(settings: HubSettings) -> dict[str, dict[str, str]]:
    """Return, per role, the files of its Jupyter configuration folder (name -> text)."""
    layout = settings.layout

    def server_config(role: str, **server: Any) -> str:
        # JupyterLab asks nobody about news or updates (the class needs no network), from
        # settings defaults kept in the role's folder.
        lab = {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            "app_settings_dir": str(layout.jupyter_config(role) / "lab-settings"),
        }
        # Under a spawner, terminals start login shells, and /etc/profile resets PATH: a plain
        # bash keeps the server's environment (the course's nbgrader and nn-autograde first).
        server["terminado_settings"] = {"shell_command": ["/bin/bash"]}
        config = {"LabApp": lab, "ServerApp": server}
        if settings.cull_idle_after_s:
            # A kernel idle that long is shut down even with its notebook open (each holds
            # about 1 GB with TensorFlow); the idle culler stops whole servers.
            config["MappingKernelManager"] = {
                "cull_idle_timeout": settings.cull_idle_after_s,
                "cull_interval": max(settings.cull_idle_after_s // 2, 10),
                "cull_connected": True,
            }
        return json.dumps(config, indent=1)

    lab_defaults = json.dumps({"@jupyterlab/apputils-extension:notification": LAB_NOTIFICATIONS})
    student_server = {
        "jpserver_extensions": dict.fromkeys(STUDENT_DISABLED_SERVER_EXTENSIONS, False)
    }
    student_page = {"disabledExtensions": dict.fromkeys(STUDENT_DISABLED_LAB_PLUGINS, True)}
    return {
        "student": {
            "nbgrader_config.py": (
                "import os\n\n"
                "c = get_config()  # noqa: F821\n"
                # nbgrader fetches into its working folder, and a single-user server's is the
                # account's home: point it at the JupyterLab root instead.
                'c.Exchange.assignment_dir = os.environ.get("JUPYTERHUB_ROOT_DIR", ".")\n'
                f"c.CourseDirectory.course_id = {settings.course_id!r}\n"
                f"c.Exchange.root = {str(layout.exchange)!r}\n"
            ),
            "jupyter_server_config.json": server_config("student", **student_server),
            "labconfig/page_config.json": json.dumps(student_page, indent=1),
            "lab-settings/overrides.json": lab_defaults,
        },
        "instructor": {
            # The formgrader and the Assignments tab read nbgrader's configuration from here
            # (the server's working folder is the account's home).
            "nbgrader_config.py": (
                "c = get_config()  # noqa: F821\n"
                f"load_subconfig({str(layout.course_root / 'nbgrader_config.py')!r})  # noqa: F821\n"
            ),
            # JupyterHub's servers forbid being framed at all (frame-ancestors 'none'); the
            # Formgrader opens from the Nbgrader menu in a frame of the same JupyterLab.
            "jupyter_server_config.json": server_config(
                "instructor",
                tornado_settings={"headers": {"Content-Security-Policy": FRAMED_BY_SELF}},
            ),
            "lab-settings/overrides.json": lab_defaults,
        },
    }
