"""Read what a student submitted: one open per file, never following a link.

Everything in a submission folder is the student's: a link, a folder or a FIFO may stand where
a file should be, and a file may be huge. Each file is opened once (``O_NOFOLLOW``,
``O_NONBLOCK``, relative to a folder's descriptor when the caller checked the folder), its type
and size taken from that descriptor, and read within a limit.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from nbgrader.utils import parse_utc

#: Largest submitted notebook the grader reads.
MAX_NOTEBOOK_BYTES = 64 * 1024**2
#: Largest ``timestamp.txt`` the grader reads (nbgrader writes about 30 bytes).
_MAX_TIMESTAMP_BYTES = 256


class SubmittedFileError(ValueError):
    """Raise when a submitted file is not a regular file the grader may read."""


class TooLarge(SubmittedFileError):
    """Raise when a submitted file is larger than the grader reads."""


def read_submitted(path: Path | str, limit: int, *, dir_fd: int | None = None) -> bytes:
    """Return the bytes of the submitted file ``path``, read without following links.

    With ``dir_fd``, ``path`` is a name in the folder open as that descriptor (see
    :func:`read_submitted_at`). Raises :class:`SubmittedFileError` for a link, a folder, a FIFO
    or a file over ``limit`` bytes, and FileNotFoundError when there is no file.
    """
    return read_submitted_at(path, limit, dir_fd=dir_fd)[0]


def read_submitted_at(
    path: Path | str, limit: int, *, dir_fd: int | None = None
) -> tuple[bytes, os.stat_result]:
    """Return the bytes of the submitted file ``path`` and its ``fstat``, from one descriptor.

    ``path`` is opened once (relative to ``dir_fd`` when given: the folder a caller checked),
    without following a link and without blocking on a FIFO; the file's type, size and change
    time are those of that descriptor, so nothing swapped in by path afterwards is read.
    Raises as :func:`read_submitted`.
    """
    name = Path(path).name
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise SubmittedFileError(f"{name} cannot be read: {err.strerror}") from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # os.fdopen refuses a folder: check before it
            raise SubmittedFileError(f"{name} is not a regular file")
        if info.st_size > limit:
            raise TooLarge(f"{name} is larger than {limit} bytes")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{name} is larger than {limit} bytes")
    return data, info


def read_timestamp(folder: Path) -> tuple[str | None, str]:
    """Return the submission time in ``folder/timestamp.txt`` (ISO format) and any problem.

    A missing or empty file is no timestamp, as in nbgrader; anything that is not a date gives
    ``(None, reason)``: the submission is then graded as if it had no timestamp.
    """
    try:
        text = read_submitted(folder / "timestamp.txt", _MAX_TIMESTAMP_BYTES)
    except FileNotFoundError:
        return None, ""
    except SubmittedFileError as err:
        return None, f"timestamp.txt ignored: {err}"
    try:
        value = text.decode("utf-8").strip()
        return (parse_utc(value).isoformat() if value else None), ""
    except (UnicodeDecodeError, ValueError, OverflowError, TypeError):
        return None, "timestamp.txt ignored: it is not a date"


#: What ``nbgrader submit`` writes to ``submission_secret.txt``: hex digits (a few dozen).
_SECRET = re.compile(r"[0-9a-f]{1,256}")


def read_secret(
    folder: Path | None = None, *, dir_fd: int | None = None, strict: bool = False
) -> str | None:
    """Return the submission's ``submission_secret.txt`` if it is hex digits, else None.

    ``nbgrader submit`` writes it; ``release_feedback`` names a student's feedback file by it,
    so it must reach ``autograded/``. Anything else a student puts there is ignored. With
    ``dir_fd`` the file is read from the folder open as that descriptor (``folder`` unused).
    ``strict`` raises :class:`SubmittedFileError` for a link, a FIFO, a folder or a large
    file in its place, which ``nbgrader submit`` never writes, instead of ignoring it.
    """
    name = "submission_secret.txt"
    try:
        path = name if dir_fd is not None or folder is None else folder / name
        data = read_submitted(path, 1024, dir_fd=dir_fd)
        text = data.decode("ascii").strip()
    except SubmittedFileError:
        if strict:
            raise
        return None
    except (OSError, UnicodeDecodeError):
        return None
    return text if _SECRET.fullmatch(text) else None
