"""Do the in-kernel modules stand alone: importing nothing of the grading side, and importable
from the copy a sandbox gets, without the rest of the package?"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from autograder import sandbox

PACKAGE = Path(sandbox.__file__).resolve().parent

#: The in-kernel modules, as module names (what the sandbox receives).
IN_KERNEL = {
    name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    for name in sandbox.KERNEL_MODULES
}


def _autograder_imports(tree: ast.AST):
    """Yield (function name or None, imported autograder module) for every import in ``tree``."""

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef) else function
            if isinstance(child, ast.ImportFrom) and child.module:
                if child.module == "autograder":
                    for alias in child.names:
                        yield function, alias.name
                elif child.module.startswith("autograder."):
                    yield function, child.module.removeprefix("autograder.")
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("autograder."):
                        yield function, alias.name.removeprefix("autograder.")
            yield from visit(child, inner)

    yield from visit(tree, None)


@pytest.mark.parametrize("module", sorted(IN_KERNEL))
def test_an_in_kernel_module_imports_only_in_kernel_modules(module):
    path = PACKAGE / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE / module.replace(".", "/") / "__init__.py"
    for function, imported in _autograder_imports(ast.parse(path.read_text())):
        where = f"{module}.{function}" if function else module
        assert imported.split(".")[0] in IN_KERNEL, f"{where} imports autograder.{imported}"


def test_the_in_kernel_modules_import_from_the_sandboxs_copy_alone():
    space = sandbox.make_workspace()
    try:
        limits = sandbox.Limits(threads=1)
        sandboxed = sandbox.sandbox_available()
        prefix, env = sandbox.confinement(space, limits, sandboxed=sandboxed)
        code = (
            "import autograder, sys\n"
            f"import {', '.join('autograder.' + m for m in sorted(IN_KERNEL))}\n"
            "print(autograder.__file__)\n"
            "print(sorted(m for m in sys.modules if m.startswith('autograder')))\n"
        )
        done = subprocess.run(
            [*prefix, sandbox.python_executable(), "-P", "-c", code],
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
    assert set(ast.literal_eval(loaded)) == {"autograder"} | {f"autograder.{m}" for m in IN_KERNEL}
