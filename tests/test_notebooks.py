"""Every lab notebook is committed clean and executes top to bottom without errors."""

from __future__ import annotations

import json
import re

import pytest

from autograder.notebooks import error_lines

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
    assert error_lines(nb) == []


@pytest.mark.parametrize("path", LABS, ids=_ids(LABS))
def test_lab_title_follows_the_course_pattern(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    title = "".join(nb["cells"][0]["source"]).splitlines()[0]
    assert re.fullmatch(r"# Optional lab: [a-zA-Z].*[^.]", title), title


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_notebook_writes_updates_with_one_arrow(path):
    text = path.read_text(encoding="utf-8")
    assert "\\\\leftarrow" not in text and "\\\\gets" not in text, "write updates as w := w - ..."


@pytest.mark.slow
@pytest.mark.parametrize("path", LABS, ids=_ids(LABS))
def test_lab_shows_no_stray_return_values_or_error_looking_noise(path, executed_notebook):
    """Does Run All show only what the lab means to show: no Text(...), no E0000 lines?"""
    nb = executed_notebook(path)
    results, stderr = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "execute_result":
                results.append(out["data"].get("text/plain", ""))
            elif out.get("name") == "stderr":
                stderr.append(out.get("text", ""))
    stray = [r for r in results if re.match(r"\[?<?(matplotlib|Text\(|Line2D|<Axes)", r)]
    assert stray == []
    noise = "".join(stderr)
    assert "E0000" not in noise and "WARNING:tensorflow" not in noise


@pytest.mark.slow
@pytest.mark.parametrize("path", LABS, ids=_ids(LABS))
def test_lab_keeps_computed_answers_folded_under_run_all(path, executed_notebook):
    """Does the cell after "Check your understanding" fold its answers, unless it is a try-it?"""
    nb = executed_notebook(path)
    heading = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown" and c.source.startswith("## Check your understanding")
    ]
    assert len(heading) == 1, "every lab ends with one Check your understanding section"
    cell = next(c for c in nb.cells[heading[0] + 1 :] if c.cell_type == "code")
    if re.search(r"#\s*(change me|try )", cell.source):
        return  # the student's own attempt, checked by the cell: nothing to hide
    streams = [o for o in cell.outputs if o.get("output_type") == "stream"]
    html = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
    assert streams == [], "print nothing here: show the answers with answers.folded(...)"
    assert len(html) == 1 and html[0].startswith("<details><summary>")
