"""Unit tests for the course's nbgrader preprocessors, on notebooks built in memory."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.feedback.preprocessors import SanitizeFeedback
from autograder.grading.preprocessors import FilterLibraryWarnings
from autograder.kernel import FACTS_MIME

WIDGET = "application/vnd.jupyter.widget-view+json"
TF_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795684894.288877   10211 port.cc:153] oneDNN custom operations are on.\n"
    "W0000 00:00:1795684894.3   10211 cuda_platform.cc:52] failed call to cuInit\n"
    "WARNING:tensorflow:5 out of the last 5 calls to <function my_softmax> triggered "
    "tf.function retracing.\n"
    "/venv/lib/keras/src/layers/core/dense.py:107: UserWarning: Do not pass an `input_shape`\n"
    "  super().__init__(activity_regularizer=activity_regularizer, **kwargs)\n"
)


def _graded(outputs, grade_id="check_x"):
    cell = new_code_cell("kernel.check_x(f)")
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "grade_id": grade_id,
        "points": 1,
        "schema_version": 3,
    }
    cell.outputs = outputs
    return cell


def _stderr(text):
    return new_output("stream", name="stderr", text=text)


def _run(preprocessor, *cells):
    nb = new_notebook(cells=list(cells))
    nb, _ = preprocessor.preprocess(nb, {})
    return nb


def test_library_warnings_are_removed_from_graded_cells():
    nb = _run(FilterLibraryWarnings(), _graded([_stderr(TF_NOISE)]))
    assert nb.cells[0].outputs == []


def test_a_students_own_stderr_is_kept():
    text = TF_NOISE + "my debug message\n"
    nb = _run(FilterLibraryWarnings(), _graded([_stderr(text)]))
    assert nb.cells[0].outputs[0].text == "my debug message\n"


def test_stdout_and_ungraded_cells_are_left_alone():
    plain = new_code_cell("import tensorflow")
    plain.outputs = [_stderr(TF_NOISE)]
    stdout = new_output("stream", name="stdout", text="WARNING:tensorflow:looks like noise\n")
    nb = _run(FilterLibraryWarnings(), plain, _graded([stdout]))
    assert nb.cells[0].outputs[0].text == TF_NOISE
    assert nb.cells[1].outputs[0].text == stdout.text


def test_filter_can_be_disabled():
    nb = _run(FilterLibraryWarnings(enabled=False), _graded([_stderr(TF_NOISE)]))
    assert nb.cells[0].outputs[0].text == TF_NOISE


def test_feedback_drops_facts_and_shortens_tracebacks_of_graded_cells():
    facts = new_output("display_data", data={FACTS_MIME: {"check": "x", "facts": {}}})
    error = new_output(
        "error",
        ename="NameError",
        evalue="name 'my_softmax' is not defined",
        traceback=["----> 3 kernel.check_hidden(my_softmax)", "NameError: ..."],
    )
    nb = _run(SanitizeFeedback(), _graded([facts, error]))
    (only,) = nb.cells[0].outputs
    assert only.traceback == ["NameError: name 'my_softmax' is not defined"]


def test_grading_kernel_gets_the_configured_environment(monkeypatch, tmp_path):
    from autograder.grading.preprocessors import ExecuteWithEnv

    monkeypatch.delenv("NN_COURSE_PROBE", raising=False)
    cell = new_code_cell("import os\nprint(os.environ.get('NN_COURSE_PROBE'))")
    nb = new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    execute = ExecuteWithEnv(kernel_env={"NN_COURSE_PROBE": "quiet"})
    nb, _ = execute.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert nb.cells[0].outputs[0].text == "quiet\n"


def test_feedback_noise_filter_cleans_ungraded_cells_too():
    from autograder.feedback.preprocessors import HideLibraryNoise

    imports = new_code_cell("import tensorflow as tf")
    imports.outputs = [_stderr(TF_NOISE + "my debug message\n")]
    nb = _run(HideLibraryNoise(), imports)
    assert nb.cells[0].outputs[0].text == "my debug message\n"


def test_widgets_become_their_figure_image_or_one_note():
    from autograder.feedback.preprocessors import StaticWidgets

    view = {"model_id": "0" * 32, "version_major": 2, "version_minor": 0}
    figure = new_output(
        "display_data",
        data={WIDGET: view, "image/png": "iVBOR", "text/plain": "Canvas(toolbar=...)"},
    )
    sliders = [
        new_output("display_data", data={WIDGET: view, "text/plain": "FloatSlider(value=1.0)"})
        for _ in range(2)
    ]
    cell = new_code_cell("widgets")
    cell.outputs = [figure, *sliders, new_output("stream", name="stdout", text="kept\n")]
    nb = new_notebook(cells=[cell])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    nb, _ = StaticWidgets().preprocess(nb, {})
    image, note, stdout = nb.cells[0].outputs
    assert image.data == {"image/png": "iVBOR"}
    assert "interactive widget" in note.data["text/plain"]
    assert stdout.text == "kept\n"
    assert "widgets" not in nb.metadata


def _scored(grade_id, source, score, points, outputs=()):
    cell = _graded(list(outputs), grade_id)
    cell.source = source
    cell.metadata["nbgrader"] |= {"score": score, "points": points}
    return cell


def _solution(grade_id):
    cell = new_code_cell("answer = 1")
    cell.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": grade_id}
    return cell


def test_summary_groups_checks_by_exercise_and_names_them_by_their_question():
    from nbformat.v4 import new_markdown_cell

    from autograder.feedback.preprocessors import SummarizeChecks

    failed = new_output("error", ename="CheckFailed", evalue="Found 3 layers.\nmore", traceback=[])
    cells = [
        _scored("before_any", '"""Is it there?"""\ncheck()', 1, 1),
        new_markdown_cell("<a name='ex01'></a>\n### Exercise 1 ###\n\nWrite it."),
        _solution("my_softmax"),
        _scored("passes", '"""Does it pass?\n\nMore words."""\ncheck()', 2, 2),
        new_markdown_cell("## Not an exercise"),
        _scored("fails", "%time check()", 0, 2, [failed]),
        new_markdown_cell("### Exercise 2"),
        _scored("partly", '"""Partly?"""\ncheck()', 0.5, 1, []),
    ]
    _, resources = SummarizeChecks().preprocess(new_notebook(cells=cells), {})
    summary = resources["nn_summary"]
    titles = [(e.title, [c.grade_id for c in e.checks]) for e in summary.exercises]
    assert titles == [
        ("Checks", ["before_any"]),
        ("Exercise 1 · my_softmax", ["passes", "fails"]),
        ("Exercise 2", ["partly"]),
    ]
    checks = {c.grade_id: c for c in summary.checks}
    assert checks["passes"].question == "Does it pass?"
    assert checks["fails"].question == "Test cell"  # no docstring
    assert (checks["fails"].status, checks["fails"].reason) == ("failed", "Found 3 layers.")
    assert checks["partly"].status == "partial"
    assert "did not run" in checks["partly"].reason
    assert (summary.passed, summary.failed, summary.total) == (2, 2, 4)
    assert summary.exercises[1].score == 2 and summary.exercises[1].points == 4


def test_failure_reason_names_other_errors_and_stderr():
    from autograder.feedback.preprocessors import failure_reason

    error = new_output("error", ename="NameError", evalue="name 'x' is not defined", traceback=[])
    assert failure_reason(_graded([error])) == "NameError: name 'x' is not defined"
    reason = failure_reason(_graded([_stderr("my debug message\n")]))
    assert reason.startswith("The cell wrote to standard error") and "my debug" in reason


def test_docstring_is_found_in_a_cell_with_ipython_magics():
    from autograder.feedback.preprocessors import first_docstring_line

    assert first_docstring_line('"""Is it fast?"""\n%timeit f()') == "Is it fast?"
    assert first_docstring_line("x = 1") == ""
