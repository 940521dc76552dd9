"""Unit tests for the course's nbgrader preprocessors, on notebooks built in memory."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.kernel import FACTS_MIME
from autograder.preprocessors import FilterLibraryWarnings, SanitizeFeedback

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
    from autograder.preprocessors import ExecuteWithEnv

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
