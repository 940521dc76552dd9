"""Every lab and the solved assignment run in JupyterLab, render their widgets, and respond."""

from __future__ import annotations

import pytest

from .conftest import SCREENSHOTS, SKIP_REASON, course_notebooks, record_timing
from .jupyterlab import CHROMIUM, LabNotebook, missing_widgets

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.timeout(900),
]

NOTEBOOKS = course_notebooks()


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=[n.rsplit("/", 1)[-1] for n in NOTEBOOKS])
def ran_notebook(request, jupyter_lab, chromium):
    """Open one notebook, choose Run > Run All Cells, wait for the kernel; save a screenshot.

    Module scope groups the tests by notebook, so each notebook runs once and only one
    notebook (and kernel) is open at a time; it is closed and its kernel shut down afterwards.
    """
    name = request.param
    notebook = LabNotebook(chromium.new_page(), jupyter_lab, name).open()
    try:
        record_timing(name, notebook.run_all_cells(timeout_s=600))
        notebook.wait_widgets_settled()
        notebook.screenshot(SCREENSHOTS / f"{name.rsplit('/', 1)[-1].removesuffix('.ipynb')}.png")
        yield notebook
    finally:
        notebook.close()


def test_all_cells_run_without_errors(ran_notebook):
    assert ran_notebook.error_outputs() == []
    assert ran_notebook.shown_traceback_count() == 0
    assert ran_notebook.unexecuted_cells() == [], "Run All Cells stopped before these cells"


def test_every_widget_renders(ran_notebook):
    assert ran_notebook.widget_problems() == []
    created = ran_notebook.kernel_widget_counts()
    rendered = ran_notebook.rendered_widget_counts()
    assert missing_widgets(created, rendered) == []
    canvases = ran_notebook.panel.locator(".jupyter-matplotlib-canvas-div canvas")
    for index in range(canvases.count()):
        box = canvases.nth(index).bounding_box()
        assert box and box["width"] > 50 and box["height"] > 50, f"ipympl canvas {index} is empty"


def test_moving_first_slider_redraws(ran_notebook):
    if ran_notebook.kernel_widget_counts()["slider"] == 0:
        pytest.skip(f"{ran_notebook.name} has no slider")
    before = ran_notebook.settled_drawing_state(ran_notebook.first_slider())
    slider = ran_notebook.nudge_first_slider()
    assert ran_notebook.wait_for_drawing_change(slider, before), "the drawing did not change"


def test_typing_in_first_text_input_redraws(ran_notebook):
    if ran_notebook.kernel_widget_counts()["text input"] == 0:
        pytest.skip(f"{ran_notebook.name} has no text input")
    before = ran_notebook.settled_drawing_state(ran_notebook.first_text_input())
    box = ran_notebook.type_in_first_text_input()
    assert ran_notebook.wait_for_drawing_change(box, before), "the drawing did not change"
