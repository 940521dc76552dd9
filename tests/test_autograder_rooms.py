"""Do the rooms of the package import only what they may?

``autograder.kernel`` runs inside the student's kernel (and the model describer's sandbox): it
imports nothing of ours outside itself, and a sandbox gets a copy of it alone. The grading
driver (``autograder.grading``) may import the kernel room (the protocol, cases and checks it
shares) and the notebook-execution core (``autograder.notebooks``, which imports nothing of
ours) but not the feedback room; the feedback room may import both; ``lab_utils``, the
students' helper package, imports nothing of the autograder; the hub may import the grading side.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from autograder.grading import sandbox, workspace
from autograder.grading.limits import Limits

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "autograder"

#: Room (a package, or a module's dotted name) -> the rooms of ours it may import.
MAY_IMPORT = {
    "autograder.kernel": {"autograder.kernel"},
    "autograder.notebooks": set(),
    "autograder.runner": {"autograder.notebooks", "autograder.runner"},
    # lab_utils.data: the grader builds the processed digits once and stages a copy per sandbox.
    "autograder.grading": {
        "autograder.kernel",
        "autograder.grading",
        "autograder.notebooks",
        "lab_utils.data",
    },
    "autograder.feedback": {"autograder.kernel", "autograder.grading", "autograder.feedback"},
    # The hub runs the course: it reads the grading side's settings and gradebook helpers and
    # starts the watcher as a service; nothing of the grading side imports the hub.
    "autograder.hub": {"autograder.hub", "autograder.grading"},
    "lab_utils": {"lab_utils"},
}


def _modules(room: str) -> list[Path]:
    path = REPO / room.replace(".", "/")
    return (
        [path.with_suffix(".py")]
        if path.with_suffix(".py").is_file()
        else sorted(path.rglob("*.py"))
    )


def _our_imports(path: Path):
    """Yield every module of ours (``autograder.*`` or ``lab_utils.*``) that ``path`` imports."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if node.module in {"autograder", "lab_utils"}:
                yield from names[1:]
            elif node.module.split(".")[0] in {"autograder", "lab_utils"}:
                yield node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in {"autograder", "lab_utils"}:
                    yield alias.name


def _room_of(module: str) -> str:
    return ".".join(module.split(".")[:2]) if module.startswith("autograder.") else module


CASES = [(room, path) for room in MAY_IMPORT for path in _modules(room)]


@pytest.mark.parametrize(("room", "path"), CASES, ids=[str(p.relative_to(REPO)) for _, p in CASES])
def test_a_module_imports_only_the_rooms_its_room_may_import(room, path):
    for imported in _our_imports(path):
        allowed = MAY_IMPORT[room]
        assert _room_of(imported) in allowed or imported.split(".")[0] in allowed, (
            f"{path.relative_to(REPO)} imports {imported}; {room} may import only {sorted(allowed)}"
        )


def test_the_rules_catch_a_kernel_module_importing_the_grading_side(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from autograder.grading import grade\nfrom autograder import kernel\n")
    assert [_room_of(m) for m in _our_imports(bad)] == ["autograder.grading", "autograder.kernel"]


def test_the_kernel_room_imports_from_the_sandboxs_copy_alone():
    kernel_modules = sorted(
        "autograder.kernel" + ("" if p.stem == "__init__" else f".{p.stem}")
        for p in _modules("autograder.kernel")
    )
    space = workspace.make_workspace()
    try:
        limits = Limits(threads=1)
        prefix, env = sandbox.confinement(space, limits, sandboxed=sandbox.sandbox_available())
        code = (
            "import autograder, sys\n"
            f"import {', '.join(kernel_modules)}\n"
            "print(autograder.__file__)\n"
            "print(sorted(m for m in sys.modules if m.startswith('autograder')))\n"
        )
        done = subprocess.run(
            [*prefix, *sandbox.python_command("-c", code)],
            env=env,
            cwd=space.work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        space.cleanup()
    assert done.returncode == 0, done.stderr[-3000:]
    location, loaded = done.stdout.strip().splitlines()[-2:]
    assert location.startswith(str(space.pkg)), location
    assert set(ast.literal_eval(loaded)) == {"autograder", *kernel_modules}
