"""Does the browser harness see what it claims to? Checked on small notebooks made here."""

from __future__ import annotations

import pytest

from .conftest import SKIP_REASON
from .jupyterlab import CHROMIUM, make_notebook, missing_widgets

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.timeout(300),
]

SETUP = (
    "%matplotlib widget\n"
    "import sys\n"
    "import ipywidgets as widgets\n"
    "import matplotlib.pyplot as plt\n"
    "import numpy as np\n"
    "print('a warning on stderr is not an error', file=sys.stderr)"
)
SLIDER_DRIVES_FIGURE = """\
fig, ax = plt.subplots(figsize=(4, 3))
x = np.linspace(-3, 3, 50)
(line,) = ax.plot(x, x)
ax.set_ylim(-10, 10)
w = widgets.FloatSlider(value=1, min=-2, max=2, step=0.1, description="w")
b = widgets.FloatText(value=0.5, description="b")


def redraw(_change=None):
    line.set_ydata(w.value * x + b.value)
    fig.canvas.draw_idle()


w.observe(redraw, "value")
b.observe(redraw, "value")
widgets.VBox([w, b, widgets.Button(description="does nothing")])"""
SLIDER_DRAWS_NOTHING = """\
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([0, 1], [0, 1])
never_shown = widgets.Button(description="created but never displayed")
widgets.FloatSlider(value=0, min=-2, max=2, step=0.1, description="idle")"""
# A widget view whose model the kernel never created: JupyterLab cannot draw it.
VIEW_OF_NO_MODEL = """\
view = {"model_id": "0" * 32, "version_major": 2, "version_minor": 0}
display({"application/vnd.jupyter.widget-view+json": view}, raw=True)"""


def test_harness_finds_the_error_and_the_cells_run_all_skipped(lab_root, open_notebook):
    make_notebook(lab_root / "harness" / "raises.ipynb", [SETUP, "1 / 0", "print('never reached')"])
    notebook = open_notebook("harness/raises.ipynb")
    notebook.run_all_cells(timeout_s=120)
    assert notebook.error_outputs() == ["cell 1: ZeroDivisionError: division by zero"]
    assert notebook.shown_traceback_count() == 1
    assert notebook.unexecuted_cells() == [2]


def test_harness_counts_widgets_and_sees_slider_and_text_redraw_figure(lab_root, open_notebook):
    make_notebook(lab_root / "harness" / "slider.ipynb", [SETUP, SLIDER_DRIVES_FIGURE])
    notebook = open_notebook("harness/slider.ipynb")
    notebook.run_all_cells(timeout_s=120)
    notebook.wait_widgets_settled()
    assert notebook.error_outputs() == []
    assert notebook.unexecuted_cells() == []
    created = notebook.kernel_widget_counts()
    assert {k: v for k, v in created.items() if v} == {
        "slider": 1,
        "text input": 1,
        "button": 1,
        "ipympl figure": 1,
    }
    assert missing_widgets(created, notebook.rendered_widget_counts()) == []
    assert notebook.widget_problems() == []

    before = notebook.settled_drawing_state(notebook.first_slider())
    slider = notebook.nudge_first_slider()
    assert notebook.wait_for_drawing_change(slider, before)

    before = notebook.settled_drawing_state(notebook.first_text_input())
    box = notebook.type_in_first_text_input()
    assert notebook.wait_for_drawing_change(box, before)


def test_harness_reports_an_inert_slider_an_unshown_widget_and_a_broken_view(
    lab_root, open_notebook
):
    make_notebook(
        lab_root / "harness" / "inert.ipynb", [SETUP, SLIDER_DRAWS_NOTHING, VIEW_OF_NO_MODEL]
    )
    notebook = open_notebook("harness/inert.ipynb")
    notebook.run_all_cells(timeout_s=120)
    notebook.wait_widgets_settled()
    assert missing_widgets(notebook.kernel_widget_counts(), notebook.rendered_widget_counts()) == [
        "button: kernel created 1, page rendered 0"
    ]
    assert notebook.widget_problems() != []
    before = notebook.settled_drawing_state(notebook.first_slider())
    slider = notebook.nudge_first_slider()
    assert not notebook.wait_for_drawing_change(slider, before, timeout_s=5)
