"""Does `nbgrader generate_feedback` write the course's feedback page for real graded work? (slow)

The feedback course (tests/support/feedback_course.py): a small course whose notebook has what
the real assignment has around its checks (math, TensorFlow's start-up lines on stderr, an
ipympl figure and a slider widget), and one student who writes a script, event handlers and
CSS into a Markdown cell and displays HTML and JavaScript. It is graded both ways the README
gives, stock `nbgrader autograde` and `python -m autograder grade`, then `nbgrader
generate_feedback` runs from the course root; each once per session (``graded_feedback_course``),
shared with the browser test (tests/browser/test_feedback_browser.py), which opens the same
pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_feedback_hostile_html import assert_nothing_of_the_student_runs

from adversarial import course
from support.feedback_course import GRADERS, feedback_page, visible_text

pytestmark = pytest.mark.slow

NOISE = ("WARNING: All log messages", "I0000", "E0000", "Could not find cuda drivers")
WIDGET_REPRS = ("VBox(children", "Canvas(toolbar")


@pytest.fixture(scope="module", params=GRADERS)
def graded(request, graded_feedback_course) -> Path:
    return graded_feedback_course(request.param)


def _summary_text(page: str) -> str:
    match = re.search(r'<section [^>]*id="nn-summary".*?</section>', page, re.DOTALL)
    assert match, "the feedback has no summary"
    return " ".join(visible_text(match.group(0)).split())


def test_summary_names_the_failed_check_says_why_and_links_to_it(graded):
    page = feedback_page(graded, "naive_softmax").read_text(encoding="utf-8")
    summary = _summary_text(page)
    assert "Mini: 2 / 4 points" in summary
    assert "2 of 3 checks passed" in summary
    assert "my_softmax 2 / 4 points" in summary  # the exercise, by its solution cell
    assert "Does my_softmax stay finite on large inputs? softmax_large_inputs" in summary
    assert "subtract max(z)" in summary  # the reason, from the check's message
    assert "Does my_softmax handle a vector with one entry? softmax_length_one" in summary
    assert 'href="#softmax_large_inputs"' in page and '<a name="softmax_large_inputs">' in page


def test_unanswered_exercise_is_explained_in_the_summary(graded):
    summary = _summary_text(feedback_page(graded, "unanswered").read_text(encoding="utf-8"))
    assert "0 of 3 checks passed" in summary
    assert summary.count("NotImplementedError") + summary.count("not ready") >= 3


def test_feedback_has_no_library_noise_or_widget_reprs_but_the_figure(graded):
    for student in ("passes_all", "naive_softmax", "unanswered"):
        page = feedback_page(graded, student).read_text(encoding="utf-8")
        text = visible_text(page)
        assert [n for n in NOISE if n in text] == [], student
        assert [r for r in WIDGET_REPRS if r in text] == [], student
        assert "An interactive widget was shown here" in text
        assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == 1, student


def test_math_is_typeset_without_a_network(graded):
    page = feedback_page(graded, "passes_all").read_text(encoding="utf-8")
    assert re.search(r'<math [^>]*display="block"', page) and "<mfrac>" in page
    assert "$$" not in visible_text(page) and "\\frac" not in visible_text(page)
    assert not re.findall(r"<script[^>]+src=", page)


def test_feedback_shows_no_hidden_test(graded):
    for student in ("passes_all", "naive_softmax", "unanswered"):
        page = feedback_page(graded, student).read_text(encoding="utf-8")
        assert course.HIDDEN_CANARY not in page
        assert "kernel.check_softmax_large_inputs" not in page
        assert "application/vnd.nn-course.facts+json" not in page


def test_student_script_and_css_do_not_reach_the_feedback(graded):
    page = feedback_page(graded, "hostile_html").read_text(encoding="utf-8")
    assert "PWNED_markdown" in page  # shown as text
    assert_nothing_of_the_student_runs(page)
    assert "Mini: 4 / 4 points" in _summary_text(page)
