"""A password per member of the class, for the demo hub and the tests.

JupyterHub's ``DummyAuthenticator`` takes one password for everybody, so any student could
log in as any other and the per-user isolation would mean nothing; PAM would set passwords on
the machine's accounts, which then open ssh and su too. This authenticator checks each login
against its own random password, kept in the hub's state folder (readable by root only). A
real deployment replaces it with its own (``c.JupyterHub.authenticator_class``, see README).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Unicode


def ensure_passwords(path: Path, users: tuple[str, ...]) -> dict[str, str]:
    """Return each user's password, creating the missing ones; the file is 0600 (root's)."""
    passwords: dict[str, str] = {}
    if path.exists():
        passwords = json.loads(path.read_text(encoding="utf-8"))
    added = {user: secrets.token_urlsafe(12) for user in users if user not in passwords}
    if added or not path.exists():
        passwords.update(added)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(passwords, out, indent=1, sort_keys=True)
    os.chmod(path, 0o600)
    return {user: passwords[user] for user in users}


class ClassPasswordAuthenticator(Authenticator):  # type: ignore[misc]  # jupyterhub is untyped
    """Log in the members of the class, each with their own password from a JSON file."""

    passwords_file = Unicode(
        help="JSON file mapping each user to their password (written by python -m autograder.hub)"
    ).tag(config=True)

    async def authenticate(self, handler: Any, data: dict[str, Any]) -> str | None:
        username: str = self.normalize_username(data.get("username", ""))
        given = data.get("password", "")
        try:
            passwords = json.loads(Path(self.passwords_file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.log.error("cannot read the class passwords in %s", self.passwords_file)
            return None
        expected = passwords.get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), given.encode()):
            return None
        return username
