"""Write the submission fixtures from the released assignment notebook.

Each submission is the release with its answer cells (found by ``grade_id``) replaced;
fixtures are named after their expected result, and ``expected_scores.json`` beside this
file holds each one's expected points per graded cell. Used by the end-to-end test; run
``python tests/submissions/make_submissions.py RELEASE.ipynb OUT_DIR`` to look at them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

ASSIGNMENT = "C2_W2_Assignment"
EXPECTED_SCORES = Path(__file__).with_name("expected_scores.json")

_SOFTMAX_HEADER = "# UNQ_C1\n# GRADED FUNCTION: my_softmax\n\n\n"
_MODEL_HEADER = (
    "# UNQ_C2\n# GRADED CELL: Sequential model\n\ntf.keras.utils.set_random_seed(1234)\n"
)

SOFTMAX_STABLE = (
    _SOFTMAX_HEADER
    + '''def my_softmax(z):
    """Return the softmax of z."""
    ez = np.exp(z - np.max(z))
    a = ez / np.sum(ez)
    return a
'''
)

SOFTMAX_NAIVE = (
    _SOFTMAX_HEADER
    + '''def my_softmax(z):
    """Return the softmax of z, straight from the formula."""
    ez = np.exp(z)
    return ez / np.sum(ez)
'''
)

SOFTMAX_NOT_NORMALISED = (
    _SOFTMAX_HEADER
    + '''def my_softmax(z):
    """Forget to divide by the sum."""
    return np.exp(z - np.max(z))
'''
)

SOFTMAX_RETURNS_LIST = (
    _SOFTMAX_HEADER
    + '''def my_softmax(z):
    """Return the softmax of z as a Python list, built with a loop."""
    top = max(z)
    terms = [np.exp(z_j - top) for z_j in z]
    total = sum(terms)
    return [t / total for t in terms]
'''
)

# tf.function retraces for every new input shape and TensorFlow logs a retracing warning
# to stderr inside the graded test cells: a correct answer that makes library noise.
SOFTMAX_TF_FUNCTION = (
    _SOFTMAX_HEADER
    + '''@tf.function
def my_softmax(z):
    """Return the softmax of z with TensorFlow operations."""
    ez = tf.exp(z - tf.reduce_max(z))
    return ez / tf.reduce_sum(ez)
'''
)

SOFTMAX_SYNTAX_ERROR = (
    _SOFTMAX_HEADER
    + """def my_softmax(z)
    ez = np.exp(z - np.max(z))
    return ez / np.sum(ez)
"""
)


def _sequential(first: str, act1: str, act2: str, act3: str, units3: int = 10) -> str:
    return (
        _MODEL_HEADER
        + f"""model = Sequential(
    [
        {first}Dense(25, activation={act1}, name="L1"),
        Dense(15, activation={act2}, name="L2"),
        Dense({units3}, activation={act3}, name="L3"),
    ],
    name="my_model",
)
"""
    )


_INPUT = "tf.keras.Input(shape=(400,)),\n        "

MODEL_REFERENCE = _sequential(_INPUT, '"relu"', '"relu"', '"linear"')
MODEL_SIGMOID = _sequential(_INPUT, '"sigmoid"', '"sigmoid"', '"linear"')
MODEL_SOFTMAX_OUTPUT = _sequential(_INPUT, '"relu"', '"relu"', '"softmax"')
MODEL_ONE_OUTPUT = _sequential(_INPUT, '"relu"', '"relu"', '"linear"', units3=1)

MODEL_TF_NN_RELU_INPUT_SHAPE = (
    _MODEL_HEADER
    + """model = Sequential(
    [
        Dense(25, activation=tf.nn.relu, input_shape=(400,), name="L1"),
        Dense(15, activation=tf.nn.relu, name="L2"),
        Dense(10, name="L3"),
    ],
    name="my_model",
)
"""
)

MODEL_KERAS_RELU_ADD_NO_INPUT = (
    _MODEL_HEADER
    + """from tensorflow import keras

model = Sequential(name="my_model")
model.add(Dense(25, activation=keras.activations.relu, name="L1"))
model.add(Dense(15, activation=keras.activations.relu, name="L2"))
model.add(Dense(10, activation=keras.activations.linear, name="L3"))
"""
)

MODEL_INPUT_LAYER = (
    _MODEL_HEADER
    + """from tensorflow.keras.activations import relu
from tensorflow.keras.layers import InputLayer

model = Sequential(
    [
        InputLayer(shape=(400,)),
        Dense(units=25, activation=relu, name="L1"),
        Dense(units=15, activation=relu, name="L2"),
        Dense(units=10, activation=None, name="L3"),
    ],
    name="my_model",
)
"""
)

MODEL_COMPILED_WITHOUT_LOGITS = (
    MODEL_REFERENCE
    + """model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
"""
)

#: Submission name -> {grade_id of an answer cell: its new source}.
SUBMISSIONS: dict[str, dict[str, str]] = {
    "passes_all": {"my_softmax": SOFTMAX_STABLE, "model_definition": MODEL_REFERENCE},
    "naive_softmax": {"my_softmax": SOFTMAX_NAIVE, "model_definition": MODEL_REFERENCE},
    "softmax_not_normalised": {
        "my_softmax": SOFTMAX_NOT_NORMALISED,
        "model_definition": MODEL_REFERENCE,
    },
    "softmax_returns_list": {
        "my_softmax": SOFTMAX_RETURNS_LIST,
        "model_definition": MODEL_REFERENCE,
    },
    "model_sigmoid": {"my_softmax": SOFTMAX_STABLE, "model_definition": MODEL_SIGMOID},
    "model_softmax_output": {
        "my_softmax": SOFTMAX_STABLE,
        "model_definition": MODEL_SOFTMAX_OUTPUT,
    },
    "model_one_output": {"my_softmax": SOFTMAX_STABLE, "model_definition": MODEL_ONE_OUTPUT},
    "model_compiled_without_logits": {
        "my_softmax": SOFTMAX_STABLE,
        "model_definition": MODEL_COMPILED_WITHOUT_LOGITS,
    },
    "unanswered": {},
    "syntax_error": {"my_softmax": SOFTMAX_SYNTAX_ERROR, "model_definition": MODEL_REFERENCE},
    "model_tf_nn_relu_input_shape": {
        "my_softmax": SOFTMAX_STABLE,
        "model_definition": MODEL_TF_NN_RELU_INPUT_SHAPE,
    },
    "model_keras_relu_add_no_input": {
        "my_softmax": SOFTMAX_STABLE,
        "model_definition": MODEL_KERAS_RELU_ADD_NO_INPUT,
    },
    "model_input_layer": {"my_softmax": SOFTMAX_STABLE, "model_definition": MODEL_INPUT_LAYER},
    "passes_all_with_tf_warnings": {
        "my_softmax": SOFTMAX_TF_FUNCTION,
        "model_definition": MODEL_TF_NN_RELU_INPUT_SHAPE,
    },
}


def answer_ids(nb) -> list[str]:
    """Return the grade_ids of the answer (solution) cells of a notebook."""
    return [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    ]


def make_submission(release, answers: dict[str, str]):
    """Return a copy of the release notebook with the given answer cells replaced."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(release)))
    unknown = set(answers) - set(answer_ids(nb))
    if unknown:
        raise KeyError(f"no answer cells with grade_id {sorted(unknown)} in the release")
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers and cell.metadata["nbgrader"].get("solution"):
            cell.source = answers[grade_id].rstrip("\n")
    return nb


def write_submissions(release_path: Path, submitted_dir: Path, names=None) -> list[str]:
    """Write ``submitted_dir/<name>/C2_W2_Assignment/C2_W2_Assignment.ipynb`` per submission."""
    release = nbformat.read(release_path, as_version=4)
    names = list(SUBMISSIONS) if names is None else list(names)
    for name in names:
        folder = submitted_dir / name / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(make_submission(release, SUBMISSIONS[name]), folder / f"{ASSIGNMENT}.ipynb")
    return names


def expected_scores() -> dict[str, dict[str, float]]:
    """Return ``{submission: {grade_id: points}}`` from ``expected_scores.json``."""
    return json.loads(EXPECTED_SCORES.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Write every submission fixture from a release notebook."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", type=Path, help="the released C2_W2_Assignment.ipynb")
    parser.add_argument("out", type=Path, help="folder to hold <student>/C2_W2_Assignment/")
    args = parser.parse_args(argv)
    for name in write_submissions(args.release, args.out):
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
