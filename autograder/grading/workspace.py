"""The throwaway folders of one submission's kernel: made, staged, measured and removed.

A workspace holds the kernel's working folder, a copy of the in-kernel ``autograder`` modules
and of the course data it reads, its socket folder and the file its model is saved to. The
socket folder and the model file are the only host paths a sandboxed kernel can write:
:meth:`Workspace.host_bytes` measures them whole, without following a link, for
:class:`~autograder.grading.process_watch.ProcessWatch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import IO, TypeAlias

from autograder.kernel.protocol import MODEL_FILE

#: Bytes the kernel may leave in host folders (its sockets and the saved model) before it is
#: stopped; the assignment's saved model takes about 150 kB.
HOST_BYTES = 48 * 1024**2

#: Files and folders the kernel may keep in its socket folder, and how deep its folders may
#: go, before it counts as over :data:`HOST_BYTES`: the kernel needs only a connection file and
#: five sockets there, and the bound keeps each count of the tree short (and its open folders
#: few) whatever the kernel makes.
HOST_ENTRIES = 1000
HOST_DEPTH = 8

#: The in-kernel room, copied whole into every sandbox: all the kernel imports of ours.
#: Never the grading side, the reference data or the gradebook.
KERNEL_PACKAGE = Path(__file__).resolve().parents[1] / "kernel"


@dataclasses.dataclass
class Workspace:
    """The throwaway folders of one submission's kernel.

    ``root`` holds ``work`` (the kernel's current folder and HOME: in a sandbox a fresh tmpfs
    at the same path), ``pkg`` (the read-only in-kernel ``autograder`` modules and ``cache``,
    the staged course data), ``run``
    (connection file and sockets) and ``model_file``, the host file that a sandboxed kernel
    sees as ``work/model.keras``.
    """

    root: Path
    logs: list[IO[bytes]] = dataclasses.field(default_factory=list)

    @property
    def work(self) -> Path:
        return self.root / "w"

    @property
    def pkg(self) -> Path:
        return self.root / "p"

    @property
    def run(self) -> Path:
        return self.root / "r"

    @property
    def model_file(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def cache(self) -> Path:
        """Return the kernel's read-only course-data cache (``$NN_COURSE_CACHE``), inside ``pkg``."""
        return self.pkg / "cache"

    def host_bytes(self) -> int | None:
        """Return the bytes the kernel has put in host folders (socket folder, saved model).

        The socket folder counts whole, subfolders included, links not followed. Returns None
        when it holds more than :data:`HOST_ENTRIES` entries or folders deeper than
        :data:`HOST_DEPTH`: too many to count, which counts as over any limit.
        """
        total = 0
        with contextlib.suppress(FileNotFoundError):
            total += _stored_bytes(self.model_file.lstat())
        tree = _tree_bytes(self.run, max_entries=HOST_ENTRIES, max_depth=HOST_DEPTH)
        return None if tree is None else total + tree

    def cleanup(self) -> None:
        """Close the kernel log and delete every file of the workspace."""
        for log in self.logs:
            log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _stored_bytes(info: os.stat_result) -> int:
    """Return what a file takes: its size, or its blocks when more (folders, small files)."""
    return max(info.st_size, info.st_blocks * 512)


_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

#: What opening a folder just listed raises when it was removed or replaced by a file or link.
_GONE = (FileNotFoundError, NotADirectoryError)

#: A folder being listed: its descriptor and the listing read from it.
_Listing: TypeAlias = tuple[int, "os._ScandirIterator[str]"]


def _open_listing(name: str | Path, dir_fd: int | None = None) -> _Listing:
    """Open the folder ``name`` (relative to ``dir_fd``) without following a link; list it."""
    fd = os.open(name, _OPEN_FOLDER, dir_fd=dir_fd)
    try:
        return fd, os.scandir(fd)
    except BaseException:
        os.close(fd)
        raise


def _tree_bytes(folder: Path, *, max_entries: int, max_depth: int) -> int | None:
    """Return the bytes of everything under ``folder``, or None past either bound.

    Each folder is opened once, with ``O_NOFOLLOW``, relative to its parent: a link is counted,
    never followed, and no path grows long. An entry that vanishes, or stops being a folder,
    while it is counted is skipped (the next count sees what replaced it); a tree that cannot
    be read for any other reason counts as None, over the limit.
    """
    try:
        stack = [_open_listing(folder)]
    except FileNotFoundError:
        return 0
    except OSError:
        return None
    try:
        return _count_open_tree(stack, max_entries=max_entries, max_depth=max_depth)
    except OSError:
        return None
    finally:
        _close_listings(stack)


def _count_open_tree(stack: list[_Listing], *, max_entries: int, max_depth: int) -> int | None:
    """Return the bytes of the folders listed in ``stack`` and below, or None past a bound.

    Only the folders being read are open: at most ``max_depth + 1`` (two descriptors each,
    scandir's own copy included). Each is closed once listed.
    """
    total, entries = 0, 0
    while stack:
        fd, listing = stack[-1]
        entry = next(listing, None)
        if entry is None:
            _close_listings([stack.pop()])
            continue
        entries += 1
        if entries > max_entries:
            return None
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        total += _stored_bytes(info)
        if stat.S_ISDIR(info.st_mode):
            if len(stack) > max_depth:
                return None
            _open_subfolder(stack, entry.name, fd)
    return total


def _open_subfolder(stack: list[_Listing], name: str, dir_fd: int) -> None:
    """List the folder ``name`` of ``dir_fd`` on top of ``stack``; skip one gone or now a link."""
    try:
        stack.append(_open_listing(name, dir_fd))
    except _GONE:
        return
    except OSError as err:
        if err.errno != errno.ELOOP:  # ELOOP: replaced by a link
            raise


def _close_listings(stack: list[_Listing]) -> None:
    """Close each listing of ``stack`` and its folder's descriptor."""
    for fd, listing in stack:
        listing.close()
        os.close(fd)


def make_workspace(model: bytes = b"", *, parent: Path | None = None) -> Workspace:
    """Create a workspace in ``parent`` (default ``/tmp``) with the in-kernel modules and ``model``."""
    if parent is None and os.path.isdir("/tmp"):
        parent = Path("/tmp")
    # Short paths: a Unix socket path must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="nng-", dir=parent))
    space = Workspace(root)
    for folder in (space.work, space.pkg / "autograder", space.run):
        folder.mkdir(parents=True)
    (space.pkg / "autograder" / "__init__.py").write_text(
        '"""In-kernel part of the grader (probes only; the checks run outside)."""\n'
    )
    shutil.copytree(
        KERNEL_PACKAGE,
        space.pkg / "autograder" / "kernel",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    space.model_file.write_bytes(model)
    return space


def stage_digits(space: Workspace) -> None:
    """Copy the grader's processed digits into ``space.cache``, so the kernel need not build them.

    A copy, not a link: even an unsandboxed kernel can change only its own. When the grader's
    cache cannot be written, nothing is staged and the kernel builds the digits itself.
    """
    from lab_utils import data

    cached = data.ensure_digits_cache()
    if cached is not None:
        space.cache.mkdir(exist_ok=True)
        shutil.copyfile(cached, space.cache / cached.name)
