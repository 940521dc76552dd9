"""Read the model file a finished kernel saved, and have it described in a fresh sandbox.

This is the grading side of the model checks: the file is a host file the kernel could write
(in a sandbox, a bind mount it could not replace), so it is read without following links or
blocking on a FIFO, within a size limit, and described by :mod:`autograder.kernel.model_probe` in a
new sandbox holding only a copy of it. Nothing from the file runs in this process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from autograder.grading import sandbox, workspace
from autograder.grading.limits import Limits
from autograder.kernel import model_probe
from autograder.kernel.protocol import DESCRIBER_MARK, MODEL_FILE

#: Largest saved model the grader reads (the assignment's model takes about 150 kB).
MAX_FILE_BYTES = 32 * 1024**2


def read(path: Path) -> bytes | dict[str, str] | None:
    """Return the saved model's bytes, a ``load_error`` dict, or None when nothing was saved."""
    # O_NOFOLLOW and O_NONBLOCK: neither a link nor a FIFO in place of the file can redirect
    # or block the read; fstat then checks what was opened.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as err:
        return {"load_error": f"{MODEL_FILE} could not be read: {err.strerror}"}
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            return {"load_error": f"{MODEL_FILE} is not a regular file"}
        return {"load_error": f"{MODEL_FILE} is larger than {MAX_FILE_BYTES} bytes"}
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return {"load_error": f"{MODEL_FILE} is larger than {MAX_FILE_BYTES} bytes"}
    return data or None


def describe(path: Path, limits: Limits, *, sandboxed: bool, seed: int) -> dict[str, Any] | None:
    """Describe the model a finished kernel saved at ``path`` (a host file).

    The file is described in a new sandbox holding only a copy of it (:func:`autograder.kernel.model_probe.facts_from_file`;
    nothing from the file is trusted by this process). Returns the model's facts with its
    outputs for ``seed``, ``{"load_error": ...}`` when the file is unusable, or None when the
    kernel saved no model. ``limits`` is the submission's :class:`autograder.grading.limits.Limits`;
    the describer gets its memory limit and ``2 * startup_timeout`` seconds.
    """
    found = read(path)
    if found is None or isinstance(found, dict):
        return found
    space = workspace.make_workspace(found)
    timeout = 2 * limits.startup_timeout
    target = space.work / MODEL_FILE if sandboxed else space.model_file
    try:
        prefix, env = sandbox.confinement(space, limits, sandboxed=sandboxed)
        probe = sandbox.python_command("-m", model_probe.__name__, str(target), str(int(seed)))
        command = [*prefix, *probe]
        done = subprocess.run(
            command,
            env=env,
            cwd=space.work,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"load_error": f"loading the saved model took longer than {timeout:g} s"}
    finally:
        space.cleanup()
    for line in reversed(done.stdout.decode(errors="replace").splitlines()):
        if line.startswith(DESCRIBER_MARK):
            try:
                facts = json.loads(line.removeprefix(DESCRIBER_MARK))
            except ValueError:
                break
            if isinstance(facts, dict):
                return facts
            break
    return {"load_error": f"the model loader stopped (exit status {done.returncode})"}
