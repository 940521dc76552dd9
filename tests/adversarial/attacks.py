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

#: Facts a forger precomputes for the public probe cases (a stable softmax on cases.py).
_FORGE = """
import numpy as _np
from autograder import cases as _cases
def _forged(check):
    found = {}
    for case in _cases.softmax_cases()[check]:
        z = _np.asarray(case["z"], dtype=float)
        e = _np.exp(z - z.max())
        found[case["id"]] = {"n": len(z), "dtype": case["dtype"], "error": None,
            "not_implemented": False, "type": "ndarray", "dtype": "float64",
            "values": list(e / e.sum()), "shape": [len(z)], "problem": None}
    return {"callable": True, "type": "function", "cases": found}
"""


@dataclasses.dataclass(frozen=True)
class Attack:
    """One adversarial submission: cells to add and the most it may score."""

    before_tests: tuple[str, ...] = ()
    after_first_test: tuple[str, ...] = ()
    max_score: float = NAIVE_SCORE
    status: str | None = None


ATTACKS = {
    # Judging happens outside the kernel: patching what in-kernel asserts use changes nothing.
    "patch_comparisons": Attack(
        before_tests=(
            "import numpy as np, numpy.testing\n"
            "np.allclose = lambda *a, **k: True\n"
            "np.isclose = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"
            "import autograder.checks as ch\n"
            "from autograder.checks import CheckResult\n"
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
            "    from autograder.reference import load\n"
            "    print(load())\n"
            "except Exception as err:\n"
            "    print('blocked reference', type(err).__name__)",
        ),
    ),
    # Overwrite another student's submission, the gradebook and the course's code.
    "write_others": Attack(
        before_tests=(
            "for p in ['{victim}', '{course}/gradebook.db', '{repo}/autograder/checks.py',\n"
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
from autograder import cases as _cases, probes as _probes
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


MODEL_ATTACKS = {
    # Replace each model test with a display of forged facts: the kernel never saves the model.
    "model_input_transformer_forges_facts": ModelAttack(
        before_tests=(
            _FORGE_MODEL + "import re\n"
            "def _swap(lines):\n"
            "    src = ''.join(lines)\n"
            "    names = re.findall(r'check_(model_\\w+)\\(', src)\n"
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
