"""The feedback course: a small course graded both ways the README gives, with its feedback.

A small course (tests/adversarial/course.py) whose notebook has what the real assignment has
around its checks: math, TensorFlow's start-up lines on stderr under the imports, an ipympl
figure and a slider widget. One student also writes a script, event handlers and CSS into a
Markdown cell and displays HTML and JavaScript. It is graded by stock `nbgrader autograde` or
by `python -m autograder grade`, then `nbgrader generate_feedback` runs from the course root.
The session fixture ``graded_feedback_course`` (tests/conftest.py) builds each once for
tests/test_feedback_course.py and tests/browser/test_feedback_browser.py.
"""

from __future__ import annotations

import html as html_module
import os
import re
import subprocess
import sys
from base64 import b64encode
from pathlib import Path

import nbformat

from autograder.grading import sandbox

from adversarial import course

GRADERS = ("nbgrader_autograde", "grading_command")

# What TensorFlow 2.21 writes to stderr on import on a machine without a GPU (copied from a
# real run). The kernel prints it, so the course needs no TensorFlow import; base64-encoded,
# so the cell's source does not itself show the lines.
TF_STARTUP = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796041786.022669    7046 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results due to floating-point round-off errors "
    "from different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.\n"
    "I0000 00:00:1796041786.023278    7046 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n"
    "E0000 00:00:1796041789.316381    7046 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
MATH = (
    "## The softmax\n\n"
    "$$a_j = \\frac{e^{z_j}}{\\sum_{k=0}^{N-1} e^{z_k}}$$\n\n"
    "for the logits $z_0, \\dots, z_{N-1}$."
)
SETUP = (
    "%matplotlib widget\n"
    "import sys\n\n"
    "import ipywidgets as widgets\n"
    "import matplotlib.pyplot as plt\n\n"
    "from base64 import b64decode\n\n"
    f"print(b64decode({b64encode(TF_STARTUP.encode())!r}).decode(), file=sys.stderr, end='')"
)
FIGURE = "fig, ax = plt.subplots(figsize=(4, 2.5))\nax.plot([0, 1, 2], [0, 1, 4]);"
SLIDERS = "widgets.VBox([widgets.FloatSlider(value=1.0, description='z0')])"
HOSTILE_MARKDOWN = (
    "<script>window.PWNED_markdown = 1</script>\n\n"
    '<img src="x" onerror="PWNED_onerror()">\n\n'
    "<style>/* PWNED_css */ #nn-summary { display: none }</style>"
)
HOSTILE_OUTPUTS = (
    "from IPython.display import HTML, Javascript, display\n"
    "display(HTML('<script>PWNED_html()</script><img src=x onerror=PWNED_html_onerror()>'))\n"
    "display(Javascript('PWNED_javascript()'))"
)


def feedback_source() -> nbformat.NotebookNode:
    """Return the mini assignment with math, library noise, a figure and sliders added."""
    nb = course.source_notebook()
    new = nbformat.v4
    answer = next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")
    )
    nb.cells[answer:answer] = [
        new.new_markdown_cell(MATH),
        new.new_code_cell(SETUP),
        new.new_code_cell(FIGURE),
        new.new_code_cell(SLIDERS),
    ]
    return nb


def grading_command(course_root: Path) -> None:
    """Run `python -m autograder grade` from the course root, as the README shows it."""
    args = [sys.executable, "-m", "autograder", "grade", course.ASSIGNMENT]
    args += ["--workers", "2", "--no-progress"]
    if not sandbox.sandbox_available():
        args.append("--no-sandbox")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        args, cwd=course_root, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"grading failed:\n{done.stdout}\n{done.stderr}"
    assert "grading_error" not in done.stdout, done.stdout


def build_graded_course(root: Path, grader: str) -> Path:
    """Make the course, submit three students, grade with ``grader``, write their feedback."""
    course_root = course.make_course(root, feedback_source())
    course.submit(course_root, "passes_all", course.submission(course_root))
    naive = course.submission(course_root, softmax=course.NAIVE_SOFTMAX)
    course.submit(course_root, "naive_softmax", naive)
    course.submit(course_root, "unanswered", course.released(course_root))
    hostile = course.submission(course_root, before_tests=[HOSTILE_OUTPUTS])
    hostile.cells.insert(1, nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN))
    course.submit(course_root, "hostile_html", hostile)
    if grader == "grading_command":
        grading_command(course_root)
    else:
        course.nbgrader(course_root, "autograde", course.ASSIGNMENT)
    course.nbgrader(course_root, "generate_feedback", course.ASSIGNMENT)
    return course_root


def feedback_page(course_root: Path, student: str) -> Path:
    return course_root / "feedback" / student / course.ASSIGNMENT / f"{course.ASSIGNMENT}.html"


def visible_text(page: str) -> str:
    """Return the text of an HTML page without tags, scripts and styles."""
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.DOTALL)
    return html_module.unescape(re.sub(r"<[^>]+>", "", page))
