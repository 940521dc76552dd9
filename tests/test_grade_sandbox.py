"""Does the sandboxed kernel import TensorFlow and the course data, yet see no course files,
write nowhere but its folder, and reach no network?"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder.grading import execute, sandbox, workspace
from autograder.grading.limits import Limits
from autograder.grading.process_watch import ProcessWatch
from autograder.kernel.protocol import Status
from lab_utils import data

REPO_AUTOGRADER = Path(sandbox.__file__).resolve().parent

pytestmark = pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap")


def _run(*sources: str, limits: Limits | None = None, sandboxed: bool = True) -> execute.Execution:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    limits = limits or Limits(cell_timeout=120, total_timeout=300, threads=1)
    return execute.execute(nb, limits=limits, sandboxed=sandboxed)


def _text(run: execute.Execution) -> list[str]:
    """Return each cell's outputs as JSON, then its printed text joined up.

    The kernel may send one print as several stream messages (``REF`` and `` Reference...``).
    """
    texts = []
    for cell in run.nb.cells:
        outputs = cell.get("outputs", [])
        printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        texts.append(json.dumps(outputs) + "\n" + printed)
    return texts


def test_kernel_sees_no_course_folder_and_cannot_write_outside_its_folder():
    run = _run(
        f"import os; print('COURSE', os.path.exists({str(REPO_AUTOGRADER)!r}))",
        "from autograder.kernel.reference import load\ntry:\n    load()\nexcept Exception as e:\n"
        "    print('REF', type(e).__name__)",
        "import lab_utils, os\ntry:\n    open(os.path.join(os.path.dirname(lab_utils.__file__),"
        " 'x'), 'w')\nexcept OSError as e:\n    print('WRITE', e.errno)",
        "open('mine.txt', 'w').write('ok'); print('OWN', open('mine.txt').read())",
    )
    out = _text(run)
    assert run.status == Status.OK
    assert "COURSE False" in out[0]
    assert "REF ReferenceUnavailable" in out[1]
    assert "WRITE 30" in out[2]  # EROFS: the environment is mounted read-only
    assert "OWN ok" in out[3]


def test_kernel_has_no_network():
    run = _run(
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
        "    print('NET reached')\nexcept OSError as e:\n    print('NET blocked')"
    )
    assert "NET blocked" in _text(run)[0]


@pytest.mark.slow
def test_kernel_imports_tensorflow_and_loads_the_digits():
    run = _run(
        "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'\nimport tensorflow as tf\n"
        "from lab_utils import data\nX, y = data.load_digits()\nprint('SHAPES', X.shape, y.shape)"
        "\nprint('THREADS', os.environ['TF_NUM_INTRAOP_THREADS'])"
    )
    out = _text(run)[0]
    assert run.status == Status.OK, run.reason
    assert "SHAPES (5000, 400) (5000, 1)" in out and "THREADS 1" in out


def test_cell_timeout_stops_the_cell_and_keeps_earlier_cells():
    limits = Limits(cell_timeout=3, total_timeout=60, threads=1)
    run = _run("print('first')", "while True:\n    pass", "print('never')", limits=limits)
    assert run.status == Status.CELL_TIMEOUT and run.completed == [0]
    assert "never" not in _text(run)[2]


def test_a_flood_of_output_stops_the_kernel_and_keeps_earlier_cells():
    limits = Limits(cell_timeout=60, total_timeout=120, threads=1, output_size=200_000)
    run = _run(
        "print('first')",
        "while True:\n    print('x' * 1000)",
        "print('never')",
        limits=limits,
    )
    assert run.status == Status.OUTPUT_LIMIT, run.reason
    assert run.completed == [0]
    kept = sum(len(o.get("text", "")) for o in run.nb.cells[1].outputs)
    assert 0 < kept <= limits.output_size + 100
    assert "output stopped" in _text(run)[1] and "first" in _text(run)[0]
    assert "never" not in _text(run)[2]


#: An idle kernel and its sandbox have 13 threads (measured, ipykernel 7.4): room for 11 more.
_FEW_PROCESSES = Limits(cell_timeout=60, total_timeout=120, threads=1, processes=24)


def test_too_many_processes_stop_the_kernel_and_keep_earlier_cells():
    limits = _FEW_PROCESSES
    run = _run(
        "print('first')",
        # A bounded stand-in for a fork bomb: twenty children that would sleep for a minute.
        "import subprocess, time\nkids = [subprocess.Popen(['sleep', '60']) for _ in range(20)]\n"
        "time.sleep(60)",
        "print('never')",
        limits=limits,
    )
    assert run.status == Status.PROCESS_LIMIT, run.reason
    assert run.completed == [0] and run.seconds < 50
    assert "more than 24 processes and threads" in run.reason and "never" not in _text(run)[2]


def test_a_kernel_under_the_process_limit_runs_its_subprocesses():
    limits = _FEW_PROCESSES
    run = _run(
        "import subprocess\nprint('KIDS', [subprocess.run(['true']).returncode for _ in range(20)])",
        limits=limits,
    )
    assert run.status == Status.OK, run.reason
    assert "KIDS [0, 0" in _text(run)[0]


def test_bytes_in_a_subfolder_of_the_socket_folder_stop_the_kernel():
    run = _run(
        "print('first')",
        # The socket folder is a host folder: ~100 MiB two folders down, past HOST_BYTES.
        "import os, time\nsub = os.path.join(os.environ['JUPYTER_RUNTIME_DIR'], 'a', 'b')\n"
        "os.makedirs(sub)\nfor k in range(25):\n"
        "    with open(os.path.join(sub, f'fill{k}'), 'wb') as f:\n"
        "        f.write(b'x' * 4_000_000)\n"
        "print('WROTE')\ntime.sleep(20)",
        "print('never')",
    )
    assert run.status == Status.DISK_LIMIT, run.reason
    assert run.completed == [0] and run.seconds < 15
    assert f"more than {workspace.HOST_BYTES} bytes" in run.reason


def test_threads_count_against_the_process_limit():
    run = _run(
        "print('first')",
        # Small stacks, so that the address-space limit does not stop the threads first.
        "import threading, time\nthreading.stack_size(256 * 1024)\nfor _ in range(1500):\n"
        "    threading.Thread(target=time.sleep, args=(20,), daemon=True).start()\n"
        "print('STARTED', threading.active_count())\ntime.sleep(20)",
        "print('never')",
    )
    assert run.status == Status.PROCESS_LIMIT, run.reason
    assert run.completed == [0] and run.seconds < 15
    assert "processes and threads" in run.reason and "never" not in _text(run)[2]


def test_host_bytes_count_subfolders_whole_and_links_without_following_them():
    space = workspace.make_workspace()
    try:
        deep = space.run.joinpath(*[f"d{k}" for k in range(workspace.HOST_DEPTH)])
        deep.mkdir(parents=True)
        (deep / "fill").write_bytes(b"x" * 1_000_000)
        (space.run / "usr").symlink_to("/usr")  # followed, it would count gigabytes
        (deep / "loop").symlink_to(space.run)
        assert 1_000_000 < space.host_bytes() < 1_200_000
    finally:
        space.cleanup()


@pytest.mark.parametrize("shape", ["too_many_entries", "too_deep"])
def test_a_socket_folder_too_big_to_count_counts_as_over_any_limit(shape):
    space = workspace.make_workspace()
    try:
        if shape == "too_many_entries":
            for k in range(workspace.HOST_ENTRIES + 1):
                (space.run / f"empty{k}").touch()
        else:
            space.run.joinpath(*["d"] * (workspace.HOST_DEPTH + 1)).mkdir(parents=True)
        assert space.host_bytes() is None
        watch = _watch_sleeper(space)
        assert watch.disk_exceeded and not watch.exceeded
    finally:
        space.cleanup()


def _watch_sleeper(space: workspace.Workspace) -> ProcessWatch:
    """Watch a process that sleeps, with ``space`` as its workspace; return once it ended."""
    sleeper = subprocess.Popen(["sleep", "30"])
    watch = ProcessWatch(sleeper.pid, 64, space=space, interval=0.05)
    watch.start()
    try:
        sleeper.wait(timeout=10)
    finally:
        sleeper.kill()
        watch.stop()
    return watch


#: Writes up to ``size`` bytes in 8 MB files at ``path``, then prints what stopped it.
_FILL = (
    "import os\n"
    "def fill(path, size):\n"
    "    written = 0\n"
    "    try:\n"
    "        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
    "        while written < size:\n"
    "            with open(f'{path}{written}', 'wb') as f:\n"
    "                f.write(b'x' * 8_000_000)\n"
    "            written += 8_000_000\n"
    "        return 'FILLED', 0, written\n"
    "    except OSError as err:\n"
    "        return 'STOPPED', err.errno, written\n"
)


def _fill_results(text: str) -> dict[str, tuple[str, int, int]]:
    found = re.findall(r"RESULT (\S+) (\w+) (\d+) (\d+)", text)
    return {path: (how, int(errno), int(n)) for path, how, errno, n in found}


def test_the_sandbox_root_is_read_only_but_tmp_shm_and_the_working_folder_are_writable():
    limits = Limits(cell_timeout=60, total_timeout=120, threads=1, disk=64 * 1024**2)
    run = _run(
        _FILL + "for path in ['/big', '/root/x', '/var/x', '/home/x', '/etc/x', '/opt/x']:\n"
        "    print('RESULT', path, *fill(path, 100_000_000))\n"
        "for path in ['/tmp/x', '/dev/shm/x', './x', os.path.expanduser('~/y')]:\n"
        "    print('RESULT', path, *fill(path, 4_000_000))",
        limits=limits,
    )
    results = _fill_results(_text(run)[0])
    assert run.status == Status.OK, run.reason
    read_only = ("/big", "/root/x", "/var/x", "/home/x", "/etc/x", "/opt/x")
    for path in read_only:
        assert results[path] == ("STOPPED", 30, 0), (path, results)  # EROFS, no byte written
    writable = {path: how for path, (how, _, _) in results.items() if path not in read_only}
    assert len(writable) == 4 and set(writable.values()) == {"FILLED"}, results


_DIGITS_HASH = (
    "import hashlib\nfrom lab_utils import data\nX, y = data.load_digits()\n"
    "print('DIGITS', hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest())"
)


def _digits_hash(out: str) -> str:
    return out.split("DIGITS ")[1][:64]


def _true_digits_hash() -> str:
    X, y = data.load_digits()
    return hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest()


@pytest.mark.slow
def test_kernel_reads_the_graders_digits_instead_of_building_them():
    # Building them would read the MNIST sample: make that fail, so only a cache can answer.
    run = _run(
        "from lab_utils import data as _data\n"
        "def refuse():\n    raise RuntimeError('built the digits')\n"
        "_data.mnist_sample = refuse\n" + _DIGITS_HASH
    )
    out = _text(run)[0]
    assert run.status == Status.OK, out
    assert _digits_hash(out) == _true_digits_hash()


# The attack: a submission overwrites the digits cache it is given, so that the next
# submission graded trains on wrong labels. The grader's own cache must not change either.
_POISON = (
    "import os, numpy as np\nfrom lab_utils import data\nfile = data.digits_cache_file()\n"
    "X, y = data.load_digits()\n"
    "for attempt in (lambda: np.savez(file, X=X, y=(y + 1) % 10),\n"
    "                lambda: os.replace(np.savez(str(file) + '.npz', X=X, y=(y + 1) % 10)"
    " or str(file) + '.npz', file)):\n"
    "    try:\n        attempt(); print('POISONED')\n"
    "    except OSError as err:\n        print('REFUSED', err.errno)"
)


@pytest.mark.slow
@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_a_submission_cannot_change_the_digits_the_next_one_reads(sandboxed):
    truth = _true_digits_hash()
    graders = data.digits_cache_file().read_bytes()
    _run(_POISON, sandboxed=sandboxed)
    run = _run(_DIGITS_HASH, sandboxed=sandboxed)
    assert run.status == Status.OK, _text(run)
    assert _digits_hash(_text(run)[0]) == truth
    assert data.digits_cache_file().read_bytes() == graders


@pytest.mark.slow
def test_kernel_builds_the_digits_itself_when_the_grader_has_no_cache(tmp_path, monkeypatch):
    truth = _true_digits_hash()
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    monkeypatch.setenv("NN_COURSE_CACHE", str(blocker / "cache"))
    run = _run(_DIGITS_HASH)
    assert run.status == Status.OK, _text(run)
    assert _digits_hash(_text(run)[0]) == truth


@pytest.mark.parametrize("form", ["-P", "python 3.10 prologue"])
@pytest.mark.parametrize("flag", ["-m", "-c"])
def test_python_command_keeps_a_planted_module_in_the_working_folder_off_the_path(
    tmp_path, monkeypatch, form, flag
):
    """Does neither form of the command import a module planted where it runs?"""
    import sys

    (tmp_path / "planted.py").write_text("print('PLANTED')\n")
    (tmp_path / "sitecustomize.py").write_text("print('PLANTED')\n")
    if form == "-P" and sys.version_info < (3, 11):
        pytest.skip("-P needs Python 3.11")
    if form != "-P":
        monkeypatch.setattr(sys, "version_info", (3, 10, 13, "final", 0))
    probe = "import importlib.util, sys; print(importlib.util.find_spec('planted'), sys.argv[1:])"
    if flag == "-m":
        (probe_dir := tmp_path / "lib").mkdir()
        (probe_dir / "probe_argv.py").write_text(probe + "\n")
        command = sandbox.python_command("-m", "probe_argv", "a", "b")
        env = {**os.environ, "PYTHONPATH": str(probe_dir)}
    else:
        command = sandbox.python_command("-c", probe, "a", "b")
        env = dict(os.environ)
    assert (form == "-P") == ("-P" in command)
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert "PLANTED" not in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "None ['a', 'b']"
