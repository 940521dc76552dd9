"""Describe a student's model from the file their kernel saved, without running student code.

Under the grading command the first model check in the student's kernel saves the model
(:data:`autograder.kernel.MODEL_FILE`). After the kernel has stopped, the worker copies that
file into a fresh sandbox holding nothing else and runs this module there
(``python -m autograder.model_probe model.keras``): Keras loads it with ``safe_mode=True``
(no Python code from the file, e.g. lambdas, is run) and :func:`autograder.probes.model_facts`
describes it, exactly as it describes the live model in the kernel. The judge uses these
facts for the model checks, so facts a kernel forges for a model it does not have earn nothing.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from autograder import probes
from autograder.kernel import MODEL_FILE

#: Largest saved model the grader reads (the assignment's model takes about 150 kB).
MAX_FILE_BYTES = 32 * 1024**2

#: Marks the loader's one line of output among whatever TensorFlow prints.
_MARK = "NN-COURSE-MODEL-FACTS "


def facts_from_file(path: str | Path) -> dict:
    """Load a saved Keras model safely and return :func:`autograder.probes.model_facts` of it.

    The compile settings saved with the model (its loss) are restored too. Returns
    ``{"load_error": "Name: message"}`` if the file cannot be loaded safely.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import warnings

        import keras

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(str(path), safe_mode=True, compile=True)
    except Exception as err:  # the file is untrusted: any failure is a fact to report
        return {"load_error": probes.error_text(err)}
    return probes.model_facts(model)


def _read_model_file(work: Path) -> bytes | dict | None:
    """Return the saved model's bytes, a ``load_error`` dict, or None when there is no file."""
    path = work / MODEL_FILE
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return {"load_error": f"{MODEL_FILE} is not a regular file"}
    if info.st_size > MAX_FILE_BYTES:
        return {"load_error": f"{MODEL_FILE} is larger than {MAX_FILE_BYTES} bytes"}
    # O_NOFOLLOW: the name may not be swapped for a link to a file outside the workspace.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as err:
        return {"load_error": f"{MODEL_FILE} could not be read: {err.strerror}"}
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_FILE_BYTES)


def model_file_facts(work: Path, limits, *, sandboxed: bool) -> dict | None:
    """Describe the model saved in a finished kernel's folder ``work``, in a new sandbox.

    Returns the model's facts, ``{"load_error": ...}`` when the file is unusable, or None
    when the kernel saved no model. ``limits`` is the submission's
    :class:`autograder.sandbox.Limits`; the loader gets its memory limit and
    ``2 * startup_timeout`` seconds.
    """
    from autograder import sandbox

    found = _read_model_file(work)
    if found is None or isinstance(found, dict):
        return found
    space = sandbox.make_workspace({MODEL_FILE: found})
    timeout = 2 * limits.startup_timeout
    try:
        prefix, env = sandbox.confinement(space, limits, sandboxed=sandboxed)
        command = [*prefix, sys.executable, "-P", "-m", __name__, str(space.work / MODEL_FILE)]
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
        if line.startswith(_MARK):
            try:
                facts = json.loads(line.removeprefix(_MARK))
            except ValueError:
                break
            if isinstance(facts, dict):
                return facts
            break
    return {"load_error": f"the model loader stopped (exit status {done.returncode})"}


def main(argv: list[str] | None = None) -> int:
    """Print the facts of the model saved at ``argv[0]`` as one marked JSON line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m autograder.model_probe MODEL.keras", file=sys.stderr)
        return 2
    print(_MARK + json.dumps(facts_from_file(args[0])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
