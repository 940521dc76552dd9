"""The queue's folders and files: reached without following a link, and checked to be ours.

On a shared hub every student has a shell, and the course root is the instructor's; the
watcher's folders under it are opened one by one (``dir_fd``, ``O_NOFOLLOW``) and must belong
to the account that runs the watcher, with no write access for others; a file beside the
database must be that account's own regular file, open to no one else, with one name
(:mod:`autograder.grading.watch.store` says why each check matters).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from autograder.grading.watch.settings import WatchError

FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def private_folder(parent: int, name: str, where: Path, *, create: bool, mode: int) -> int:
    """Open the folder ``name`` in ``parent`` without following a link; check it is ours.

    Creates it with ``create``; removes write access of others (and, for ``mode`` 0o700, all
    their access). Returns its descriptor.
    """
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, mode, dir_fd=parent)
    try:
        fd = os.open(name, FOLDER_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise WatchError(
            f"{where} is not a folder ({err.strerror}): move it away; the watcher makes its own"
        ) from err
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            raise WatchError(
                f"{where} belongs to uid {info.st_uid}, not to the instructor's account (uid "
                f"{os.geteuid()}) that runs the watcher: someone else made it; move it away"
            )
        wanted = mode if mode == 0o700 else stat.S_IMODE(info.st_mode) & ~0o022
        if stat.S_IMODE(info.st_mode) != wanted:
            os.fchmod(fd, wanted)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_private_file(folder: int, name: str, where: Path) -> os.stat_result | None:
    """Return the ``lstat`` of ``name`` if it is our private regular file; None if absent."""
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    problem = ""
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file (a link?)"
    elif info.st_uid != os.geteuid():
        problem = f"belongs to uid {info.st_uid}, not to the instructor's account"
    elif info.st_mode & 0o077:
        problem = (
            f"can be opened by other accounts (mode {stat.S_IMODE(info.st_mode):o}), so a "
            "classmate may hold it open"
        )
    elif info.st_nlink != 1:
        problem = "has another name (a hard link)"
    if problem:
        raise WatchError(
            f"{where / name} {problem}: stop the watcher, move the file away (keep it if it "
            f"is the queue, then copy it back with mode 600: cp it and chmod 600), start again"
        )
    return info
