"""Build a small nbgrader course in a temporary folder: the graded cells of the assignment
(softmax checks), no training, so each grading costs a kernel start and NumPy only.

The source notebook plants canary strings in its hidden tests; the tests assert that no
student's feedback ever shows them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from support import courses

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "Mini"

#: Planted in the hidden tests of the mini assignment (and so in the gradebook).
HIDDEN_CANARY = "CANARY-HIDDEN-TEST-5b9e1c"

CORRECT_SOFTMAX = """def my_softmax(z):
    ez = np.exp(z - np.max(z))
    return ez / ez.sum()
"""

NAIVE_SOFTMAX = """def my_softmax(z):
    ez = np.exp(z)
    return ez / ez.sum()
"""

#: Points per test of the mini assignment; a naive softmax fails only the large inputs.
POINTS = {"softmax_original_cases": 1, "softmax_large_inputs": 2, "softmax_length_one": 1}
NAIVE_SCORE = 2.0
FULL_SCORE = 4.0


def _notebook(cells) -> nbformat.NotebookNode:
    """Return a notebook of ``cells`` for the python3 kernel."""
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _grade_meta(grade_id: str, *, points: float = 0, solution: bool = False) -> dict:
    meta = {
        "grade": not solution,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
    }
    if not solution:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook() -> nbformat.NotebookNode:
    """Return the mini assignment's source notebook (solution and hidden tests included)."""
    new = nbformat.v4
    cells = [
        new.new_markdown_cell("# Mini assignment\n\nWrite `my_softmax`."),
        new.new_code_cell("import numpy as np\n\nfrom autograder import kernel"),
        new.new_code_cell(
            "def my_softmax(z):\n    ### BEGIN SOLUTION\n    ez = np.exp(z - np.max(z))\n"
            "    return ez / ez.sum()\n    ### END SOLUTION\n",
            metadata=_grade_meta("my_softmax", solution=True),
        ),
        new.new_code_cell(
            '"""Does my_softmax reproduce the lab\'s two examples?"""\n'
            "kernel.check_softmax_original_cases(my_softmax)",
            metadata=_grade_meta("softmax_original_cases", points=1),
        ),
        new.new_code_cell(
            '"""Does my_softmax stay finite on large inputs?"""\n### BEGIN HIDDEN TESTS\n'
            f"# {HIDDEN_CANARY}\n"
            f'assert "{HIDDEN_CANARY}"\n'
            "kernel.check_softmax_large_inputs(my_softmax)\n### END HIDDEN TESTS",
            metadata=_grade_meta("softmax_large_inputs", points=2),
        ),
        new.new_code_cell(
            '"""Does my_softmax handle a vector with one entry?"""\n### BEGIN HIDDEN TESTS\n'
            "kernel.check_softmax_length_one(my_softmax)\n### END HIDDEN TESTS",
            metadata=_grade_meta("softmax_length_one", points=1),
        ),
        new.new_markdown_cell("## After the graded cells"),
        new.new_code_cell('print("after the last graded cell")'),
    ]
    return _notebook(cells)


def make_course(root: Path, source: nbformat.NotebookNode | None = None) -> Path:
    """Create a course of the mini assignment under ``root``, released; return its course root."""
    course = courses.new_course(root, {ASSIGNMENT: source or source_notebook()})
    courses.release(course, ASSIGNMENT)
    return course


nbgrader = courses.nbgrader


def released(course: Path) -> nbformat.NotebookNode:
    """Return the student version of the mini assignment."""
    return nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def submission(
    course: Path,
    *,
    softmax: str = CORRECT_SOFTMAX,
    before_tests: list[str] = (),
    after_first_test: list[str] = (),
) -> nbformat.NotebookNode:
    """Return a filled-in release with extra cells before the tests or after the first test."""
    nb = released(course)
    cells = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "my_softmax":
            cell.source = softmax
            cells.append(cell)
            cells += [nbformat.v4.new_code_cell(src) for src in before_tests]
            continue
        cells.append(cell)
        if grade_id == "softmax_original_cases":
            cells += [nbformat.v4.new_code_cell(src) for src in after_first_test]
    nb.cells = cells
    return nb


def submit(course: Path, student: str, content: nbformat.NotebookNode | bytes) -> Path:
    """Place a submission at ``submitted/<student>/Mini/Mini.ipynb``."""
    return courses.submit(course, student, content, ASSIGNMENT)


# ----------------------------------------------------------------------------- model course

MODEL_HEADER = (
    "import os\n\n"
    'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"\n'
    "import tensorflow as tf\n"
    "from tensorflow.keras import Sequential\n"
    "from tensorflow.keras.layers import Dense\n\n"
    "from autograder import kernel"
)


def dense_model(act1: str, act2: str, act3: str = '"linear"') -> str:
    """Return an answer cell building the assignment's model with the given activations."""
    return (
        "model = Sequential(\n    [\n        tf.keras.Input(shape=(400,)),\n"
        f"        Dense(25, activation={act1}),\n        Dense(15, activation={act2}),\n"
        f"        Dense(10, activation={act3}),\n    ]\n)\n"
    )


CORRECT_MODEL = dense_model('"relu"', '"relu"')
SIGMOID_MODEL = dense_model('"sigmoid"', '"sigmoid"')

#: Points per test of the mini model assignment; a sigmoid model fails only the activations.
MODEL_POINTS = {
    "model_three_dense_layers": 1,
    "model_units": 1,
    "model_activations": 2,
    "model_parameter_count": 1,
}
MODEL_FULL_SCORE = 5.0
SIGMOID_SCORE = 3.0


def model_source_notebook() -> nbformat.NotebookNode:
    """Return a mini assignment with the model exercise and four of its model tests."""
    new = nbformat.v4
    solution = CORRECT_MODEL.replace("model = ", "### BEGIN SOLUTION\nmodel = ", 1)
    cells = [
        new.new_markdown_cell("# Mini model assignment\n\nBuild `model`."),
        new.new_code_cell(MODEL_HEADER),
        new.new_code_cell(
            f"{solution}### END SOLUTION\n", metadata=_grade_meta("model_definition", solution=True)
        ),
    ]
    docs = {
        "model_three_dense_layers": "Is the model three Dense layers?",
        "model_units": "Do the layers have 25, 15 and 10 units?",
        "model_activations": "Do the layers act as relu, relu, linear?",
        "model_parameter_count": "Does the model have 10,575 parameters?",
    }
    for grade_id, points in MODEL_POINTS.items():
        body = f"kernel.check_{grade_id}(model)"
        if points > 1:
            body = f"### BEGIN HIDDEN TESTS\n# {HIDDEN_CANARY}\n{body}\n### END HIDDEN TESTS"
        cells.append(
            new.new_code_cell(
                f'"""{docs[grade_id]}"""\n{body}', metadata=_grade_meta(grade_id, points=points)
            )
        )
    return _notebook(cells)


def model_submission(
    course: Path, model: str, *, before_tests: list[str] = ()
) -> nbformat.NotebookNode:
    """Return the released mini model assignment answered with ``model``, plus extra cells."""
    nb = released(course)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "model_definition":
            cell.source = model
            cells += [nbformat.v4.new_code_cell(src) for src in before_tests]
    nb.cells = cells
    return nb
