"""Does the course's feedback configuration render a page a student understands at a glance?

The autograded notebook is built in memory the way nbgrader leaves it (hidden tests restored,
scores added by ``GetGrades``, TensorFlow's start-up lines on stderr, an ipympl figure and a
slider widget); the page is rendered with the exporter and preprocessors that
``autograder/course/nbgrader_config.py`` configures, without the gradebook.
"""

from __future__ import annotations

import html as html_module
import re

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder import feedback
from autograder.kernel import FACTS_MIME

from conftest import REPO_ROOT

CANARY = "CANARY-FEEDBACK-PAGE-3c1f"
TF_STARTUP = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796041786.022669    7046 port.cc:153] oneDNN custom operations are on.\n"
    "I0000 00:00:1796041786.023278    7046 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n"
    "E0000 00:00:1796041789.316381    7046 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error\n"
)
VBOX_REPR = "VBox(children=(FloatSlider(value=1.0, description='z0'),))"
CANVAS_REPR = "Canvas(toolbar=Toolbar(toolitems=[('Home', 'Reset original view', 'home', 'home')"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
LARGE_INPUTS_MESSAGE = (
    "For a float64 input of length 3 my_softmax returned nan or inf. "
    "Fix: subtract max(z) from z before taking np.exp."
)


def _meta(grade_id, *, points=0.0, score=None, solution=False, grade=True):
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution}
    meta |= {"schema_version": 3, "points": points}
    if grade:
        meta["score"] = score
    return {"nbgrader": meta}


def _test_cell(grade_id, doc, body, *, points, score, outputs):
    source = f'"""{doc}"""\n### BEGIN HIDDEN TESTS\n# {CANARY}\n{body}\n### END HIDDEN TESTS'
    cell = new_code_cell(source, metadata=_meta(grade_id, points=points, score=score))
    cell.outputs = outputs
    return cell


def _facts(check):
    return new_output("display_data", data={FACTS_MIME: {"check": check, "facts": {}}})


def autograded_notebook():
    """Return an autograded notebook as nbgrader leaves it, with scores as GetGrades adds."""
    imports = new_code_cell("%matplotlib widget\nimport tensorflow as tf")
    imports.outputs = [new_output("stream", name="stderr", text=TF_STARTUP)]
    figure = new_code_cell("fig = activations.plot_activations()")
    figure.outputs = [
        new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "a" * 32},
                "image/png": PNG,
                "text/html": '<div class="jupyter-widgets widget-label">Figure</div>',
                "text/plain": CANVAS_REPR,
            },
        )
    ]
    sliders = new_code_cell("softmax_sliders.widget")
    sliders.outputs = [
        new_output(
            "execute_result",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "b" * 32},
                "text/plain": VBOX_REPR,
            },
            execution_count=3,
        )
    ]
    derivative = new_code_cell("sympy.diff(J, w)")
    derivative.outputs = [
        new_output(
            "execute_result",
            data={"text/latex": "$\\displaystyle \\frac{2}{w^{3}}$", "text/plain": "2/w**3"},
            execution_count=4,
        )
    ]
    passed = [new_output("stream", name="stdout", text="Passed: matches the examples.\n")]
    failed = new_output(
        "error",
        ename="CheckFailed",
        evalue=LARGE_INPUTS_MESSAGE,
        traceback=[f"CheckFailed [failed]: {LARGE_INPUTS_MESSAGE}"],
    )
    name_error = new_output(
        "error",
        ename="NameError",
        evalue="name 'model' is not defined",
        traceback=["----> 3 kernel.check_model_units(model)", "NameError: ..."],
    )
    cells = [
        new_markdown_cell("# Digits\n\n## 2 - The ReLU activation\n\n$$a = \\max(0, z).$$"),
        imports,
        figure,
        new_markdown_cell("<a name='ex01'></a>\n### Exercise 1\n\nThe logits $z_0, \\dots, z_3$."),
        new_code_cell(
            "def my_softmax(z): ...", metadata=_meta("my_softmax", solution=True, grade=False)
        ),
        _test_cell(
            "softmax_original_cases",
            "Does my_softmax reproduce the lab's two examples?",
            "kernel.check_softmax_original_cases(my_softmax)",
            points=1,
            score=1,
            outputs=[_facts("softmax_original_cases"), *passed],
        ),
        _test_cell(
            "softmax_large_inputs",
            "Does my_softmax stay finite on large logits?",
            "kernel.check_softmax_large_inputs(my_softmax)",
            points=2,
            score=0,
            outputs=[_facts("softmax_large_inputs"), failed],
        ),
        sliders,
        derivative,
        new_markdown_cell("### Exercise 2\n\nBuild `model`; code such as `$x$` stays code."),
        new_code_cell(
            "model = ...", metadata=_meta("model_definition", solution=True, grade=False)
        ),
        _test_cell(
            "model_units",
            "Do the Dense layers have 25, 15 and 10 units?",
            "kernel.check_model_units(model)",
            points=2,
            score=0,
            outputs=[name_error],
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def course_config() -> Config:
    """Return the course's nbgrader configuration, loaded from its file."""
    path = REPO_ROOT / "autograder" / "course" / "nbgrader_config.py"
    return PyFileConfigLoader(path.name, str(path.parent)).load_config()


def render(nb, *, score=1.0, max_score=5.0) -> str:
    """Render ``nb`` as generate_feedback would, minus GetGrades (the scores are in ``nb``)."""
    from nbgrader.converters import GenerateFeedback

    config = course_config()
    # What GenerateFeedback adds at start-up: where bootstrap.min.css is found.
    converter = GenerateFeedback(config=config)
    exporter = config.GenerateFeedback.exporter_class(config=converter.config)
    for preprocessor in config.GenerateFeedback.preprocessors:
        if preprocessor.__name__ != "GetGrades":
            exporter.register_preprocessor(preprocessor, enabled=True)
    resources = {
        "nbgrader": {
            "notebook": "Digits",
            "score": score,
            "max_score": max_score,
            "late_penalty": 0,
        }
    }
    page, _ = exporter.from_notebook_node(nb, resources)
    return page


def visible_text(page: str) -> str:
    """Return the text of an HTML page without tags, scripts and styles."""
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.DOTALL)
    return html_module.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module")
def page() -> str:
    return render(autograded_notebook())


def _summary(page: str) -> str:
    match = re.search(r'<section [^>]*id="nn-summary".*?</section>', page, re.DOTALL)
    assert match, "the page has no summary section"
    return match.group(0)


def test_course_config_uses_the_feedback_exporter_and_template():
    config = course_config()
    assert config.GenerateFeedback.exporter_class is feedback.FeedbackExporter
    assert config.FeedbackExporter.template_name == feedback.TEMPLATE_NAME


def test_summary_names_each_check_by_question_and_grade_id_grouped_by_exercise(page):
    summary = visible_text(_summary(page))
    assert "Digits: 1 / 5 points" in summary
    assert "1 of 3 checks passed" in summary
    first, second = summary.index("Exercise 1"), summary.index("Exercise 2")
    assert first < summary.index("Does my_softmax stay finite on large logits?") < second
    assert second < summary.index("Do the Dense layers have 25, 15 and 10 units?")
    for grade_id in ("softmax_original_cases", "softmax_large_inputs", "model_units"):
        assert grade_id in summary
    assert "Exercise 1 · my_softmax 1 / 3 points" in " ".join(summary.split())
    assert "Test cell" not in summary


def test_summary_gives_each_failed_check_its_reason_and_a_link_to_its_cell(page):
    summary = _summary(page)
    rows = re.findall(r'<tr class="nn-check nn-(\w+)">(.*?)</tr>', summary, re.DOTALL)
    by_id = {re.search(r'href="#(\w+)"', row).group(1): (status, row) for status, row in rows}
    assert {k: s for k, (s, _) in by_id.items()} == {
        "softmax_original_cases": "passed",
        "softmax_large_inputs": "failed",
        "model_units": "failed",
    }
    assert LARGE_INPUTS_MESSAGE in visible_text(by_id["softmax_large_inputs"][1])
    assert "NameError: name 'model' is not defined" in visible_text(by_id["model_units"][1])
    assert "nn-reason" not in by_id["softmax_original_cases"][1]
    for grade_id in by_id:  # each link lands on the cell's anchor
        assert f'<a name="{grade_id}"></a>' in page


def test_no_library_startup_noise_and_no_widget_reprs(page):
    text = visible_text(page)
    for noise in ("WARNING: All log messages", "I0000", "E0000", "Could not find cuda"):
        assert noise not in text
    assert "VBox(children" not in text and "Canvas(toolbar" not in text
    assert "An interactive widget was shown here" in text
    assert f"data:image/png;base64,{PNG}" in page  # the figure, as its image
    assert "widget-state+json" not in page and "widget-view+json" not in page


def test_math_is_mathml_and_the_page_loads_no_script_from_the_network(page):
    # (the exporter re-serialises the page, so attribute order is not fixed)
    assert re.search(r'<math [^>]*display="block"', page)
    assert re.search(r'<math [^>]*display="inline"', page)
    assert "<mo>max</mo>" in page
    assert "<mfrac>" in page  # the LaTeX output (SymPy's) too
    text = visible_text(page)
    for tex in ("$$", "\\max", "\\dots", "\\frac", "\\displaystyle"):
        assert tex not in text
    assert "<code>$x$</code>" in page  # a code span is not math
    assert not re.findall(r"<script[^>]+src=", page), "the page must open offline"
    assert "x-mathjax-config" not in page and "MathJax.Hub" not in page


def test_page_shows_no_hidden_test_or_facts(page):
    assert CANARY not in page
    assert "kernel.check_softmax_large_inputs" not in page
    assert FACTS_MIME not in page and '"facts"' not in page


def test_tex_that_cannot_convert_is_shown_as_code():
    out = feedback.tex_to_mathml("\\frac{1}{", display=False)
    assert out.startswith('<code class="nn-tex">')


def test_a_comment_on_several_cells_is_summarised_once_with_links():
    nb = autograded_notebook()
    note = "[cell_timeout] the notebook ran past 300 s in cell 41"
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.metadata.nbgrader["comment"] = note
    summary = _summary(render(nb))
    assert visible_text(summary).count(note) == 1
    assert 'href="#comment-my_softmax"' in summary
    assert 'href="#comment-model_definition"' in summary


def test_a_notebook_without_graded_cells_says_no_check_ran():
    nb = new_notebook(cells=[new_markdown_cell("# Digits: not graded\n\nCould not be read.")])
    summary = visible_text(_summary(render(nb, score=0, max_score=16)))
    assert "Digits: 0 / 16 points" in summary
    assert "No check ran on this notebook" in summary


def test_summary_escapes_what_it_quotes():
    nb = autograded_notebook()
    test = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "model_units"
    )
    test.source = test.source.replace("Do the Dense", "Do <b>the</b> Dense")
    summary = _summary(render(nb))
    assert "Do &lt;b&gt;the&lt;/b&gt; Dense" in summary and "<b>the</b>" not in summary
