"""Unit tests for autograder.kernel: what the notebook's test cells call."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import kernel
from autograder.kernel import reference


def _naive(z):
    with np.errstate(all="ignore"):
        return np.exp(z) / np.exp(z).sum()


def _stable(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def test_a_passing_check_prints_what_passed(capsys):
    kernel.check_softmax_original_cases(_stable)
    assert "Passed: my_softmax matches the lab's two examples" in capsys.readouterr().out


def test_a_failing_check_raises_an_assertion_with_the_message():
    with pytest.raises(AssertionError, match="subtract max\\(z\\)"):
        kernel.check_softmax_large_inputs(_naive)


def test_failures_render_as_one_line_in_jupyter():
    err = kernel.CheckFailed("what went wrong")
    assert err._render_traceback_() == ["CheckFailed: what went wrong"]


def test_facts_are_displayed_only_while_nbgrader_autogrades(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw: shown.append(obj))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    kernel.check_softmax_length_one(_stable)
    assert shown == []
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    kernel.check_softmax_length_one(_stable)
    payload = shown[0][kernel.FACTS_MIME]
    assert payload["check"] == "softmax_length_one"
    assert set(payload["facts"]["cases"]) == {"single_zero", "single_positive"}


def test_without_reference_data_a_check_only_reports(monkeypatch):
    def hidden():
        raise reference.ReferenceUnavailable("hidden by the sandbox")

    monkeypatch.setattr(kernel, "load", hidden)
    kernel.check_softmax_large_inputs(_naive)  # no raise


def test_placeholder_explains_which_exercise_to_finish():
    model = kernel.unanswered("model", "Exercise 2")
    with pytest.raises(kernel.ExerciseNotDone, match="finish Exercise 2"):
        model.summary()
    with pytest.raises(kernel.ExerciseNotDone):
        model(np.zeros((1, 400)))
    assert "not written yet" in repr(model)
    assert not hasattr(model, "_repr_html_")  # IPython's display probing stays quiet


def test_unknown_check_names_are_rejected():
    with pytest.raises(KeyError, match="unknown check"):
        kernel.run_check("softmax_typo", {})


def _model(activation: str):
    import keras

    return keras.Sequential(
        [keras.Input(shape=(400,)), keras.layers.Dense(10, activation=activation)]
    )


def test_model_checks_save_the_model_once_per_kernel_only_for_the_grading_command(
    monkeypatch, tmp_path
):
    import keras

    path = tmp_path / kernel.MODEL_FILE
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw: shown.append(obj))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setitem(kernel._model_file, "state", None)
    monkeypatch.delenv(kernel.MODEL_FILE_ENV, raising=False)
    kernel.check_model_input_features(_model("relu"))
    assert not path.exists() and "model_file" not in shown[-1][kernel.FACTS_MIME]["facts"]
    monkeypatch.setenv(kernel.MODEL_FILE_ENV, str(path))
    kernel.check_model_input_features(_model("relu"))
    assert shown[-1][kernel.FACTS_MIME]["facts"]["model_file"] == {"saved": True, "error": None}
    saved = path.read_bytes()
    kernel.check_model_input_features(_model("sigmoid"))  # a later check saves nothing new
    assert path.read_bytes() == saved
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.layers[-1].activation.__name__ == "relu"


def test_a_model_that_cannot_be_saved_is_reported_not_raised(monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw: shown.append(obj))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setitem(kernel._model_file, "state", None)
    # Keras refuses a file name without the .keras suffix.
    monkeypatch.setenv(kernel.MODEL_FILE_ENV, str(tmp_path / "model.txt"))
    kernel.check_model_input_features(_model("relu"))
    saved = shown[-1][kernel.FACTS_MIME]["facts"]["model_file"]
    assert saved["saved"] is False and "keras" in saved["error"]
