"""Every lab notebook is committed clean and executes top to bottom without errors."""

from __future__ import annotations

import json

import pytest

from lab_utils.course import error_outputs

from conftest import LABS, REPO_ROOT

ALL_NOTEBOOKS = LABS + sorted((REPO_ROOT / "assignment").glob("*/*.ipynb"))


def _ids(paths):
    return [p.name for p in paths]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"cell {index} of {path.name} has outputs"
            assert cell.get("execution_count") is None, f"cell {index} has an execution count"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_notebook_uses_lab_utils_without_star_imports(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "import *" not in source
    assert "lab_utils" in source
    assert "plt.style.use(" not in source, "apply the style with lab_utils.style.use()"


@pytest.mark.slow
@pytest.mark.parametrize("path", LABS, ids=_ids(LABS))
def test_lab_executes_without_errors(path, executed_notebook):
    nb = executed_notebook(path)
    assert error_outputs(nb) == []
