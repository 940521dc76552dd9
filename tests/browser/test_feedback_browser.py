"""Does a student's feedback page read at a glance in Chromium, offline?

The pages come from `nbgrader generate_feedback` after each grader (the small course of
tests/support/feedback_course.py, built once per session for this test and
tests/test_feedback_course.py); Chromium opens them from disk with every network request
refused, as a student without internet would. A screenshot of each page is kept in
tests/browser/screenshots/.
"""

from __future__ import annotations

import pytest

from .conftest import SCREENSHOTS, SKIP_REASON
from .jupyterlab import CHROMIUM
from support.feedback_course import GRADERS, feedback_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.timeout(900),
]

NOISE = ("I0000", "E0000", "WARNING: All log messages", "Could not find cuda drivers")
WIDGET_REPRS = ("VBox(children", "Canvas(toolbar")

# Each MathML fraction: is its numerator drawn above its denominator, with a real size?
FRACTIONS_STACKED = """() => [...document.querySelectorAll('mfrac')].map(f => {
    const [num, den] = [...f.children].map(c => c.getBoundingClientRect());
    return num.height > 0 && den.height > 0 && num.bottom <= den.top + 1;
})"""


@pytest.fixture(scope="module", params=GRADERS)
def opened(request, graded_feedback_course, chromium):
    """Open the naive-softmax student's feedback offline; yield the page and refused URLs."""
    course_root = graded_feedback_course(request.param)
    refused: list[str] = []

    def offline(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page = chromium.new_page()
    page.route("**/*", offline)
    page.goto(feedback_page(course_root, "naive_softmax").as_uri())
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(
        path=SCREENSHOTS / f"feedback_naive_softmax_{request.param}.png", full_page=True
    )
    yield page, refused
    page.close()


def test_summary_is_on_screen_and_names_the_failed_check_with_its_reason(opened):
    page, _ = opened
    summary = page.locator("#nn-summary")
    box = summary.bounding_box()
    assert box["y"] + box["height"] <= page.viewport_size["height"], "read without scrolling"
    text = summary.inner_text()
    assert "Mini: 2 / 4 points" in text
    assert "Does my_softmax stay finite on large inputs?" in text
    assert "softmax_large_inputs" in text
    assert "subtract max(z)" in text
    failed = summary.locator("tr.nn-failed")
    assert failed.count() == 1
    assert "softmax_large_inputs" in failed.inner_text()


def test_the_failed_checks_link_scrolls_to_its_cell(opened):
    page, _ = opened
    anchor_top = (
        "document.querySelector('a[name=\"softmax_large_inputs\"]').getBoundingClientRect().top"
    )
    height = page.viewport_size["height"]
    page.evaluate("window.scrollTo(0, 0)")
    assert page.evaluate(anchor_top) > height, "the cell starts below the first screen"
    page.locator('#nn-summary a[href="#softmax_large_inputs"]').click()
    page.wait_for_function("window.scrollY > 0")
    assert 0 <= page.evaluate(anchor_top) < height, "the link brings the cell into view"


def test_no_library_noise_or_widget_repr_is_shown(opened):
    page, _ = opened
    text = page.locator("body").inner_text()
    assert [n for n in NOISE if n in text] == []
    assert [r for r in WIDGET_REPRS if r in text] == []
    assert "An interactive widget was shown here" in text
    figures = page.locator("img[src^='data:image/png']")
    assert figures.count() == 1
    assert figures.first.evaluate("img => img.naturalWidth > 0 && img.complete")


def test_math_is_typeset_offline(opened):
    page, refused = opened
    assert refused == [], "the page must not need the network"
    assert page.locator("math").count() >= 2
    assert page.evaluate(FRACTIONS_STACKED) == [True]
    text = page.locator("body").inner_text()
    assert "$$" not in text and "\\frac" not in text and "\\dots" not in text
