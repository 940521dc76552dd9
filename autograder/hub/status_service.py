"""The class hub's status page: each student sees where their own submissions stand.

A JupyterHub-managed service of the class hub (``c.JupyterHub.services``, named
:data:`SERVICE`, in the hub's Services menu at ``/services/submissions/``), run as the
instructor's account: the watchers' queues (:mod:`autograder.grading.watch.store`) are the
instructor's, and it opens them read-only. What it shows is :mod:`autograder.hub.status_page`.

Every student has a shell on the machine, so nothing here trusts where a request comes from:

- who asks: JupyterHub's OAuth (``HubOAuthenticated``). A request without the hub's login
  for this service is sent to log in; a hub identity that is not a user holding
  ``access:services!service=submissions`` (a role the hub gives the class) is refused (403),
  another service's token included. The login is checked on every request, also one that
  reaches the port directly rather than through the hub's proxy.
- whose rows: the student is the name the hub gives the login, never anything of the request;
  the page takes no parameter and has one address.
- what is shown: escaped in one place (``status_page``), and the page forbids scripts
  (``Content-Security-Policy``) in case something slipped through.
- where it listens: 127.0.0.1 only; another address in ``JUPYTERHUB_SERVICE_URL`` stops it.
- the hub's API token: read by ``HubOAuth`` (it finishes logins and asks the hub whose a token
  is, nothing else), then dropped from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import secrets
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado.log import app_log
from tornado.web import Application, HTTPError, RequestHandler, authenticated

from autograder.grading import deadline
from autograder.grading.watch.admission import grading_turns
from autograder.grading.watch.settings import WatchError
from autograder.grading.watch.store import read_queue
from autograder.hub.status_page import Submission, render_page, submissions
from autograder.hub.watch_service import TOKEN_VARIABLES

#: The service's name: its address is /services/<name>/ and its OAuth client service-<name>.
SERVICE = "submissions"
#: The only address it listens on.
LOOPBACK = "127.0.0.1"
#: Seconds a student's login is trusted before the hub is asked again (a logout takes effect
#: within this time; JupyterHub's default is 300).
LOGIN_CACHE_S = 60
#: Sent with every page: no script, no frame, no caching of a student's data.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def access_scope(service: str) -> str:
    """Return the scope a hub user needs to see ``service``'s page."""
    return f"access:services!service={service}"


@dataclass(frozen=True)
class StatusConfig:
    """What the page reads: the course root's queues of ``assignments``."""

    course_root: Path
    assignments: tuple[str, ...]
    #: The watchers' ``--max-graded-per-hour`` (None: not known here; the page names none).
    max_graded_per_hour: int | None
    service_name: str = SERVICE
    clock: Callable[[], datetime.datetime] = deadline.utcnow


def student_submissions(
    config: StatusConfig, student: str, now: datetime.datetime
) -> tuple[list[Submission], list[str]]:
    """Return ``student``'s submissions across the assignments at ``now``, and what could not
    be read."""
    found: list[Submission] = []
    problems = []
    for assignment in config.assignments:
        try:
            entries = read_queue(config.course_root, assignment, read_only=True)
        except (WatchError, sqlite3.Error, OSError, ValueError) as err:
            app_log.warning("the queue of %s cannot be read: %s", assignment, err)
            problems.append(f"The queue of {assignment} cannot be read now; it is tried again.")
            continue
        found += submissions(
            assignment,
            entries,
            student=student,
            turns=grading_turns(entries, now),
            now=now,
            max_graded_per_hour=config.max_graded_per_hour,
        )
    return found, problems


class StatusHandler(HubOAuthenticated, RequestHandler):  # type: ignore[misc]  # jupyterhub is untyped
    """The page of the student the hub's login names."""

    def initialize(self, config: StatusConfig, hub_auth: HubOAuth) -> None:
        self.config = config
        self.hub_auth = hub_auth

    @property
    def hub_scopes(self) -> set[str]:
        # Named here, not taken from the environment: an empty set would let any hub
        # identity in (HubAuthenticated.allow_all).
        return {access_scope(self.config.service_name)}

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    @authenticated
    def get(self) -> None:
        user: dict[str, Any] = self.current_user
        if user.get("kind") != "user":
            raise HTTPError(403, "only the class's members have submissions")
        student = str(user["name"])
        now = self.config.clock()
        found, problems = student_submissions(self.config, student, now)
        self.finish(render_page(student, found, problems=problems, now=now))


class CallbackHandler(HubOAuthCallbackHandler):  # type: ignore[misc]  # jupyterhub is untyped
    """JupyterHub's end of the OAuth login, with the service's own ``HubOAuth``."""

    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth


def make_app(config: StatusConfig, *, hub_auth: HubOAuth, prefix: str) -> Application:
    """Return the service's tornado application: the page at ``prefix``, and the OAuth
    callback; nothing else answers."""
    prefix = prefix.rstrip("/") + "/"
    return Application(
        [
            (prefix, StatusHandler, {"config": config, "hub_auth": hub_auth}),
            (f"{prefix}oauth_callback", CallbackHandler, {"hub_auth": hub_auth}),
        ],
        # Signs the cookie that holds a student's login: a new one at each start (students
        # log in again through the hub, without a password while the hub knows them).
        cookie_secret=secrets.token_bytes(32),
    )


def loopback_port(url: str) -> int:
    """Return the port of the service's address ``url``; raise ValueError unless it is on
    127.0.0.1 (over plain HTTP, as the hub's proxy reaches it)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != LOOPBACK or parts.port is None:
        raise ValueError(
            f"the service's address is {url!r}: it must be http://{LOOPBACK}:PORT"
            " (c.JupyterHub.services, 'url'), so that it listens on loopback only"
        )
    return parts.port


async def _serve(app: Application, port: int) -> None:
    app.listen(port, address=LOOPBACK)
    await asyncio.Event().wait()  # until the hub stops the service


def main(argv: list[str] | None = None) -> int:
    """Serve the status page as the hub's service (JupyterHub sets the environment)."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder.hub.status_service",
        description="Serve the class hub's status page of the students' submissions.",
    )
    parser.add_argument("--course-root", type=Path, required=True)
    parser.add_argument("--assignment", action="append", required=True, dest="assignments")
    parser.add_argument("--max-graded-per-hour", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        port = loopback_port(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    name = os.environ.get("JUPYTERHUB_SERVICE_NAME", SERVICE)
    # The token goes to HubOAuth only, and out of the environment (the hub's address and
    # this service's OAuth client come from the environment too).
    token = next((t for t in [os.environ.pop(v, "") for v in TOKEN_VARIABLES] if t), "")
    if not token:
        print("error: no JUPYTERHUB_API_TOKEN: the hub starts this service", file=sys.stderr)
        return 2
    hub_auth = HubOAuth(api_token=token, cache_max_age=LOGIN_CACHE_S)
    config = StatusConfig(
        course_root=args.course_root,
        assignments=tuple(args.assignments),
        max_graded_per_hour=args.max_graded_per_hour,
        service_name=name,
    )
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{name}/")
    app = make_app(config, hub_auth=hub_auth, prefix=prefix)
    app_log.info("status page of %s on %s:%d", ", ".join(args.assignments), LOOPBACK, port)
    asyncio.run(_serve(app, port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
