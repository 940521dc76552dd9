"""The class's Unix accounts: create the missing ones, and check what they can reach.

Each member of the class runs their JupyterLab as their own Unix account, so the exchange's
permissions (nbgrader's) and each student's own 0700 folder separate students for real.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path


class AccountError(RuntimeError):
    """An account cannot be created or cannot reach what it needs; the message says how to fix it."""


@dataclass(frozen=True)
class Account:
    """A Unix account: what the hub needs to run programs as it and give it files."""

    name: str
    uid: int
    gid: int
    home: Path

    @property
    def groups(self) -> frozenset[int]:
        """The account's primary and supplementary group ids."""
        extra = {g.gr_gid for g in grp.getgrall() if self.name in g.gr_mem}
        return frozenset({self.gid, *extra})


def lookup(name: str) -> Account | None:
    """Return the account called ``name``, or None if there is none."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return Account(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def ensure_account(name: str) -> Account:
    """Return the account ``name``, creating it (with a home folder and its own group) if missing.

    Creating accounts needs root; the account gets no password, so nobody can log in to the
    machine as it: the hub starts its programs.
    """
    account = lookup(name)
    if account is not None:
        return account
    done = subprocess.run(
        ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name],
        capture_output=True,
        text=True,
    )
    account = lookup(name)
    if account is None:
        raise AccountError(f"useradd {name} failed: {done.stderr.strip() or done.returncode}")
    return account


def _allows(st: os.stat_result, account: Account, bits: int) -> bool:
    """Whether the mode of ``st`` gives ``account`` every permission in ``bits`` (r=4 w=2 x=1)."""
    if account.uid == 0:
        return True
    if st.st_uid == account.uid:
        return (st.st_mode >> 6) & bits == bits
    if st.st_gid in account.groups:
        return (st.st_mode >> 3) & bits == bits
    return st.st_mode & bits == bits


def unreachable(path: Path, account: Account, *, bits: int = 4) -> str | None:
    """Say why ``account`` cannot use ``path`` (every folder above it traversable, itself
    ``bits``), following links; return None if it can."""
    path = Path(os.path.abspath(path))
    current = Path(path.anchor)
    for part in path.parts[1:]:
        current = current / part
        st = os.stat(current.parent)
        if not _allows(st, account, 1):
            return f"{current.parent} ({stat.filemode(st.st_mode)}) is not traversable by {account.name}"
        if current.is_symlink():
            target = current.parent / os.readlink(current)
            reason = unreachable(target, account, bits=bits if current == path else 1)
            if reason:
                return f"{current} -> {reason}"
    st = os.stat(path)
    if not _allows(st, account, bits):
        return f"{path} ({stat.filemode(st.st_mode)}) is not readable by {account.name}"
    return None


def lock_to_group(path: Path, group: int) -> str | None:
    """Make ``path`` reachable by its owner and ``group`` only; say what changed, or None.

    Not recursive: a folder without permissions for others keeps everything in it out of their
    reach. The owner keeps their permissions (whoever maintains the repository still edits
    it); the group gets read (and, for a folder, traverse) permission, others nothing. A link is
    refused, not followed: its target may lie anywhere.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        if os.path.islink(path):
            raise AccountError(f"{path} is a link: lock its target yourself (chmod o-rwx)") from err
        raise
    try:
        st = os.fstat(fd)
        read = 0o050 if stat.S_ISDIR(st.st_mode) else 0o040
        mode = stat.S_IMODE(st.st_mode) & 0o7700 | read
        if st.st_gid == group and stat.S_IMODE(st.st_mode) == mode:
            return None
        os.fchown(fd, -1, group)
        os.fchmod(fd, mode)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    return f"{_owners(st)} {stat.filemode(st.st_mode)} -> {_owners(after)} {stat.filemode(after.st_mode)}"


def _owners(st: os.stat_result) -> str:
    """Return ``user:group`` of a file's status, by name where the names exist."""
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"{user}:{group}"
