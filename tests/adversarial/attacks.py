"""Attack and bad-input submissions, named after what they try, with the score they may get.

Every attack uses the naive softmax (right on small inputs, nan on large ones), so an honest
submission with the same answer scores ``course.NAIVE_SCORE``: an attack may never score more.
``{course}``, ``{repo}`` and ``{victim}`` in the cells stand for the course root, the
repository and another student's submitted notebook: the attacker knows the layout.
"""

from __future__ import annotations

import dataclasses

from adversarial.course import NAIVE_SCORE

FACTS = "application/vnd.nn-course.facts+json"

#: Facts a forger precomputes for the public probe cases (a stable softmax on specs.py's).
_FORGE = """
import numpy as _np
from autograder.kernel import specs as _specs
def _forged(check):
    found = {}
    for case in _specs.BY_NAME[check].cases:
        z = _np.asarray(case["z"], dtype=float)
        e = _np.exp(z - z.max())
        found[case["id"]] = {"n": len(z), "dtype": case["dtype"], "error": None,
            "not_implemented": False, "type": "ndarray", "dtype": "float64",
            "values": list(e / e.sum()), "shape": [len(z)], "problem": None}
    return {"callable": True, "type": "function", "cases": found}
"""


#: Sends a raw message on the kernel's output channel, as a student who read ipykernel could.
_RAW = """
_pub = get_ipython().display_pub
def _raw(msg_type, content, parent=None, buffers=None):
    _pub.session.send(_pub.pub_socket, msg_type, content, ident=_pub.topic, buffers=buffers,
                      parent=_pub.parent_header if parent is None else parent)
"""

#: Forged grading state, as the grading command once kept it next to the autograded notebook.
_FORGED_STATE = (
    '{{"student": "{student}", "score": 4.0, "max_score": 4.0, "seconds": 1.0, '
    '"status": "ok", "reason": "", "sandbox": true, "sha256": "{sha}", "worker": "", '
    '"tests": {{"softmax_original_cases": 1.0, "softmax_large_inputs": 2.0, '
    '"softmax_length_one": 1.0}}, "test_reasons": {{}}, "timestamp": null, '
    '"graded_at": "2026-01-01T00:00:00+00:00"}}'
)


@dataclasses.dataclass(frozen=True)
class Attack:
    """One adversarial submission: cells to add, files beside it, the most it may score.

    ``files`` are (name, content) pairs written into the submission folder, with
    ``{student}`` and ``{sha}`` (the notebook's SHA-256) filled in; ``link:TARGET`` makes a
    symbolic link and ``dir:`` a folder.
    """

    before_tests: tuple[str, ...] = ()
    after_first_test: tuple[str, ...] = ()
    max_score: float = NAIVE_SCORE
    status: str | None = None
    files: tuple[tuple[str, str], ...] = ()


ATTACKS = {
    # Judging happens outside the kernel: patching what in-kernel asserts use changes nothing.
    "patch_comparisons": Attack(
        before_tests=(
            "import numpy as np, numpy.testing\n"
            "np.allclose = lambda *a, **k: True\n"
            "np.isclose = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"
            "import autograder.kernel.checks as ch\n"
            "from autograder.kernel.checks import CheckResult\n"
            "for name in list(ch.ALL):\n"
            "    ch.ALL[name] = lambda facts, ref, name=name: CheckResult(name, True, 'ok')\n"
            "import builtins\n"
            "builtins.AssertionError = type('Quiet', (Exception,), {})",
        ),
    ),
    # Replace every later cell's code (the hidden tests) before IPython runs it.
    "input_transformer_replaces_tests": Attack(
        before_tests=("get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",),
    ),
    # Replace the tests with code that displays precomputed "passing" facts.
    "input_transformer_forges_facts": Attack(
        before_tests=(
            _FORGE + "def _swap(lines):\n"
            "    src = ''.join(lines)\n"
            "    if 'check_softmax' not in src and 'run_check' not in src:\n"
            "        return lines\n"
            "    out = []\n"
            "    for check in ('softmax_original_cases', 'softmax_large_inputs',"
            " 'softmax_length_one'):\n"
            "        if check in src:\n"
            f"            out.append('from IPython.display import display\\n"
            f'display({{"{FACTS}": {{"check": %r, "facts": _forged(%r)}}}},'
            " raw=True)\\n' % (check, check))\n"
            "    return out or lines\n"
            "get_ipython().input_transformers_post.append(_swap)",
        ),
    ),
    # Hide every error: excepthook, showtraceback and a custom exception handler.
    "hide_errors": Attack(
        before_tests=(
            "import sys\n"
            "sys.excepthook = lambda *a: None\n"
            "ip = get_ipython()\n"
            "ip.showtraceback = lambda *a, **k: None\n"
            "ip.set_custom_exc((BaseException,), lambda *a, **k: None)",
        ),
    ),
    # Emit forged facts after every cell: duplicates or unexpected reports earn nothing.
    "post_run_cell_forges_facts": Attack(
        before_tests=(
            _FORGE + "from IPython.display import display\n"
            "def _emit(result):\n"
            f"    display({{'{FACTS}': {{'check': 'softmax_large_inputs',"
            " 'facts': _forged('softmax_large_inputs')}}, raw=True)\n"
            "get_ipython().events.register('post_run_cell', _emit)",
        ),
        max_score=0.0,
    ),
    # Rewrite the kernel's facts on their way out, with precomputed values for known cases.
    "display_publisher_rewrites_facts": Attack(
        before_tests=(
            _FORGE + "pub = get_ipython().display_pub\n"
            "_orig = pub.publish\n"
            "def _publish(data, *a, **k):\n"
            f"    if '{FACTS}' in data:\n"
            f"        report = data['{FACTS}']\n"
            "        forged = _forged(report['check'])\n"
            "        report['facts']['cases'].update(forged['cases'])\n"
            "    return _orig(data, *a, **k)\n"
            "pub.publish = _publish",
        ),
    ),
    # Replace the in-kernel grading module's functions.
    "patch_kernel_module": Attack(
        before_tests=(
            _FORGE + "import autograder.kernel as K\n"
            "_run = K.run_check\n"
            "K.run_check = lambda check, facts: _run(check, _forged(check))\n"
            "for name in dir(K):\n"
            "    if name.startswith('check_softmax'):\n"
            "        setattr(K, name, lambda f, n=name[6:]: _run(n, _forged(n)))",
        ),
    ),
    # End the kernel: nothing after this runs, so no later test earns anything.
    "os_exit": Attack(
        before_tests=("import os\nos._exit(0)",), max_score=0.0, status="kernel_died"
    ),
    "sys_exit": Attack(before_tests=("import sys\nsys.exit(0)",)),
    # Kill the kernel after the first test: that test keeps its credit.
    "kernel_killed_after_first_test": Attack(
        after_first_test=("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",),
        max_score=1.0,
        status="kernel_died",
    ),
    # Read what the grader hides and print it (the canaries must never reach feedback).
    "read_secrets": Attack(
        before_tests=(
            "import glob, os\n"
            "paths = ['{course}/gradebook.db', '{victim}',\n"
            "         '{course}/../assignment/Mini/Mini.ipynb',\n"
            "         '{repo}/autograder/reference/softmax.json',\n"
            "         '{repo}/autograder/reference/model.json']\n"
            "paths += glob.glob('{course}/**', recursive=True)\n"
            "paths += glob.glob('/tmp/**/*.json', recursive=True)\n"
            "for p in paths:\n"
            "    try:\n"
            "        print(p, open(p, errors='replace').read())\n"
            "    except Exception as err:\n"
            "        print('blocked', p, type(err).__name__)\n"
            "try:\n"
            "    from autograder.kernel.reference import load\n"
            "    print(load())\n"
            "except Exception as err:\n"
            "    print('blocked reference', type(err).__name__)",
        ),
    ),
    # Overwrite another student's submission, the gradebook and the course's code.
    "write_others": Attack(
        before_tests=(
            "for p in ['{victim}', '{course}/gradebook.db', '{repo}/autograder/kernel/checks.py',\n"
            "          '{course}/autograded/victim/Mini/Mini.ipynb']:\n"
            "    try:\n"
            "        open(p, 'w').write('pwned')\n"
            "        print('WROTE', p)\n"
            "    except Exception as err:\n"
            "        print('blocked', p, type(err).__name__)",
        ),
    ),
    # A cell that never ends: the tests before it keep their credit.
    "infinite_loop": Attack(
        after_first_test=("while True:\n    pass",), max_score=1.0, status="cell_timeout"
    ),
    # Exhaust memory: the address-space limit turns it into a MemoryError in the kernel.
    "memory_hog": Attack(
        before_tests=("hog = []\nwhile True:\n    hog.append(bytearray(200 * 1024 * 1024))",),
        status="memory",
    ),
    # A fork bomb, bounded at 2**8 processes so that a broken limit cannot take the machine down.
    "fork_bomb": Attack(
        after_first_test=("import os, time\nfor _ in range(8):\n    os.fork()\ntime.sleep(60)",),
        max_score=1.0,
        status="process_limit",
    ),
    # Reach the network (exfiltration, downloading answers).
    "network": Attack(
        before_tests=(
            "import socket\n"
            "for host in [('1.1.1.1', 53), ('pypi.org', 443), ('127.0.0.1', 22)]:\n"
            "    try:\n"
            "        socket.create_connection(host, timeout=3)\n"
            "        print('NETWORK-REACHED', host)\n"
            "    except OSError as err:\n"
            "        print('blocked', host, err)",
        ),
    ),
    # An output nbformat rejects (`data` a list): dropped, the grading goes on.
    "display_data_is_a_list": Attack(
        before_tests=(_RAW + "_raw('display_data', {'data': [1, 2], 'metadata': {}})",),
        status="ok",
    ),
    # Messages the protocol does not allow at all: a parent header that is a list.
    "parent_header_is_a_list": Attack(
        before_tests=(
            "_pub = get_ipython().display_pub\n"
            "_msg = _pub.session.msg('stream', {'name': 'stdout', 'text': 'x'})\n"
            "_msg['parent_header'] = [1]\n"
            "_pub.session.send(_pub.pub_socket, _msg, ident=_pub.topic)",
        ),
    ),
    # Widget state: nbclient keeps it in memory unless told not to; it counts against the cap.
    "widget_state_flood": Attack(
        after_first_test=(
            _RAW + "for k in range(8):\n"
            "    _raw('comm_msg', {'comm_id': 'w', 'data': {'method': 'update', "
            "'state': {'value': 'x' * 4_000_000}, 'buffer_paths': []}})\n"
            "import time\ntime.sleep(30)",
        ),
        max_score=1.0,
        status="output_limit",
    ),
    # Messages larger than the whole output cap: refused by the client's socket, never stored.
    "oversized_messages": Attack(
        after_first_test=(
            _RAW + "for k in range(4):\n"
            "    _raw('comm_msg', {'comm_id': 'w', 'data': {'state': {}}}, "
            "buffers=[b'z' * 30_000_000])",
        ),
    ),
    # Output addressed to no cell: parsed and dropped by nbclient, but it still counts.
    "foreign_parent_flood": Attack(
        after_first_test=(
            _RAW + "for k in range(8):\n"
            "    _raw('display_data', {'data': {'text/plain': 'y' * 4_000_000}, 'metadata': {}},"
            " parent={'msg_id': 'nobody', 'msg_type': 'execute_request'})\n"
            "import time\ntime.sleep(30)",
        ),
        max_score=1.0,
        status="output_limit",
    ),
    # Fill the kernel's working folder, /tmp and /dev/shm with files under the per-file limit.
    "fill_disk": Attack(
        before_tests=(
            "import os\n"
            "for folder in ['.', '/tmp', '/dev/shm']:\n"
            "    written = 0\n"
            "    try:\n"
            "        for k in range(64):\n"
            "            with open(os.path.join(folder, f'fill{k}'), 'wb') as f:\n"
            "                for _ in range(8):\n"
            "                    f.write(b'x' * 4_000_000)\n"
            "                    written += 4_000_000\n"
            "        print('FILLED', folder, written)\n"
            "    except OSError as err:\n"
            "        print('stopped', folder, err.errno, written)\n"
            "    for k in range(64):\n"
            "        try:\n"
            "            os.remove(os.path.join(folder, f'fill{k}'))\n"
            "        except OSError:\n"
            "            pass",
        ),
        status="ok",
    ),
    # Fill the one host folder the kernel can write (its sockets' folder): the sandbox dies.
    "fill_host_folder": Attack(
        after_first_test=(
            "import os\n"
            "run = os.environ['JUPYTER_RUNTIME_DIR']\n"
            "for k in range(64):\n"
            "    with open(os.path.join(run, f'fill{k}'), 'wb') as f:\n"
            "        f.write(b'x' * 4_000_000)\n"
            "    import time; time.sleep(0.05)",
        ),
        max_score=1.0,
        status="disk_limit",
    ),
    # The same, two folders down, where a count of the folder's own entries does not look.
    "fill_host_subfolder": Attack(
        after_first_test=(
            "import os, time\n"
            "sub = os.path.join(os.environ['JUPYTER_RUNTIME_DIR'], 'a', 'b')\n"
            "os.makedirs(sub)\n"
            "for k in range(25):\n"
            "    with open(os.path.join(sub, f'fill{k}'), 'wb') as f:\n"
            "        f.write(b'x' * 4_000_000)\n"
            "time.sleep(30)",
        ),
        max_score=1.0,
        status="disk_limit",
    ),
    # Threads, not processes: 1,500 of them (small stacks, so the memory limit does not stop them).
    "thread_bomb": Attack(
        after_first_test=(
            "import threading, time\n"
            "threading.stack_size(256 * 1024)\n"
            "for _ in range(1500):\n"
            "    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
            "time.sleep(30)",
        ),
        max_score=1.0,
        status="process_limit",
    ),
    # The old place of the grading state, forged with this notebook's own hash: ignored.
    "planted_state_full_marks": Attack(
        files=(
            (".nn-grade.json", _FORGED_STATE),
            (".nn-grade.tmp", "dir:"),
            ("grader/state/Mini/{student}.json", _FORGED_STATE),
        ),
    ),
    # Forged state naming another student: no second row, no change to that student.
    "planted_state_for_another": Attack(
        files=((".nn-grade.json", _FORGED_STATE.replace("{student}", "victim")),),
    ),
    # State that is not even a record.
    "planted_state_not_a_record": Attack(files=((".nn-grade.json", "[1]"),)),
    # A submission time that is not a date: graded, without a time, and said so.
    "timestamp_not_a_date": Attack(
        files=(("timestamp.txt", "not a date at all"),), status="invalid_timestamp"
    ),
    # Links to course files beside the notebook: nbgrader would copy what they point to.
    "planted_links": Attack(
        files=(
            ("gradebook_copy.db", "link:{course}/gradebook.db"),
            ("probe_key.txt", "link:{course}/grader/probe-key"),
        ),
    ),
    # Start a background process that outlives the kernel and keeps writing.
    "background_process": Attack(
        before_tests=(
            "import subprocess, sys\n"
            "subprocess.Popen([sys.executable, '-c', "
            "\"import time\\nwhile True:\\n    open('{victim}', 'w').write('late'); "
            'time.sleep(0.2)"])',
        ),
    ),
}


# ----------------------------------------------------------------------------- model attacks

#: Honest facts of the student's (sigmoid) model, rewritten to claim relu hidden layers: all a
#: forger needs is to have read probes.py and cases.py.
_FORGE_MODEL = """
import json as _json
from autograder.kernel import cases as _cases, probes as _probes
_honest_model_facts = _probes.model_facts
def _forged_model(facts):
    facts = _json.loads(_json.dumps(facts))
    for layer in facts.get("layers", [])[:2]:
        layer["activation_name"] = "relu"
        layer["activation_values"] = [max(0.0, v) for v in _cases.ACTIVATION_PROBE]
    return facts
"""


@dataclasses.dataclass(frozen=True)
class ModelAttack:
    """One adversarial model submission: a sigmoid model plus cells run before the tests."""

    before_tests: tuple[str, ...]


#: A model file typed by hand: the config.json of a right model (taken here from one built for
#: the purpose and thrown away; typing it is as easy), no weights, written to the model file,
#: marked saved, and the probes patched to describe what the file says.
_HAND_WRITTEN_FILE = """
import os, tempfile, zipfile
import keras
from autograder import kernel as _k
_right = keras.Sequential([keras.Input(shape=(400,)), keras.layers.Dense(25, activation="relu"),
                           keras.layers.Dense(15, activation="relu"), keras.layers.Dense(10)])
_tmp = os.path.join(tempfile.mkdtemp(), "right.keras")
_right.save(_tmp)
with zipfile.ZipFile(_tmp) as _z:
    _config, _meta = _z.read("config.json"), _z.read("metadata.json")
with open(os.environ["NN_COURSE_MODEL_FILE"], "wb") as _f, zipfile.ZipFile(_f, "w") as _z:
    _z.writestr("config.json", _config)
    _z.writestr("metadata.json", _meta)
    _z.writestr("model.weights.h5", b"")
_k._model_file["state"] = {"saved": True, "error": None}
_file_facts = _probes.model_facts(_right)
_probes.model_facts = lambda m, **k: _file_facts
"""

MODEL_ATTACKS = {
    # Replace each model test with a display of forged facts: the kernel never saves the model.
    "model_input_transformer_forges_facts": ModelAttack(
        before_tests=(
            _FORGE_MODEL + "import re\n"
            "def _swap(lines):\n"
            "    src = ''.join(lines)\n"
            '    names = re.findall(r"(?:check_|report_model\\(\')(model_\\w+)", src)\n'
            "    if not names:\n"
            "        return lines\n"
            "    out = ['from IPython.display import display\\n']\n"
            "    for name in names:\n"
            f'        out.append(\'display({{"{FACTS}": {{"check": %r, "facts": '
            "_forged_model(_honest_model_facts(model))}}, raw=True)\\n' % name)\n"
            "    return out\n"
            "get_ipython().input_transformers_post.append(_swap)",
        ),
    ),
    # Let the real check run (and save the real model), but rewrite its facts on the way out.
    "model_display_publisher_rewrites_facts": ModelAttack(
        before_tests=(
            _FORGE_MODEL + "pub = get_ipython().display_pub\n"
            "_orig = pub.publish\n"
            "def _publish(data, *a, **k):\n"
            f"    if '{FACTS}' in data:\n"
            f"        report = data['{FACTS}']\n"
            "        report['facts'] = _forged_model(report['facts'])\n"
            "    return _orig(data, *a, **k)\n"
            "pub.publish = _publish",
        ),
    ),
    # Patch the probe the kernel's checks call, so the kernel itself reports forged facts.
    "model_patch_probes": ModelAttack(
        before_tests=(
            _FORGE_MODEL
            + "_probes.model_facts = lambda m, **k: _forged_model(_honest_model_facts(m, **k))",
        ),
    ),
    # Write a right model's config.json, without weights, where the model should be saved.
    "model_hand_written_file": ModelAttack(before_tests=(_FORGE_MODEL + _HAND_WRITTEN_FILE,)),
    # ... and also report made-up outputs for the probe inputs.
    "model_hand_written_file_forged_outputs": ModelAttack(
        before_tests=(
            _FORGE_MODEL
            + _HAND_WRITTEN_FILE
            + "_probes.model_outputs = lambda m, seed: {'values': [[0.0] * 10] * 4, 'error': None}",
        )
    ),
    # Skip the kernel's save and leave a link to a course file where the model should be.
    "model_planted_link": ModelAttack(
        before_tests=(
            _FORGE_MODEL + "import os\n"
            "from autograder import kernel as _k\n"
            "_k._model_file['state'] = {'saved': True, 'error': None}\n"
            "os.symlink('{course}/gradebook.db', os.environ['NN_COURSE_MODEL_FILE'])\n"
            "_probes.model_facts = lambda m, **k: _forged_model(_honest_model_facts(m, **k))",
        ),
    ),
}
