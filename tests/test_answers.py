"""Tests of lab_utils.answers: computed answers shown folded in a notebook, plain elsewhere."""

import pytest

from lab_utils import answers


def test_folded_answers_are_a_closed_details_block_in_html():
    block = answers.folded("question 1: 12", "question 2: a = 2.5")
    html = block._repr_html_()
    assert html.startswith("<details><summary>") and " open" not in html
    assert "<pre>question 1: 12\nquestion 2: a = 2.5</pre>" in html


def test_folded_answers_are_plain_lines_as_text():
    assert (
        repr(answers.folded("question 1: 12", "question 2: 7")) == "question 1: 12\nquestion 2: 7"
    )


def test_folded_answers_escape_html_in_the_lines_and_the_summary():
    html = answers.folded("a < b & c", summary="<b>x</b>")._repr_html_()
    assert "a &lt; b &amp; c" in html and "&lt;b&gt;x&lt;/b&gt;" in html


@pytest.mark.parametrize("lines", [(), (12,), ("ok", None)])
def test_folded_rejects_anything_but_answer_strings(lines):
    with pytest.raises(TypeError, match="answer lines as strings"):
        answers.folded(*lines)


def test_folded_figure_is_a_picture_inside_the_closed_block_and_is_closed():
    import base64
    import re

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    html = answers.folded("solution: w = 1", figure=fig)._repr_html_()
    match = re.fullmatch(
        r"<details><summary>[^<]*</summary><pre>solution: w = 1</pre>"
        r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="figure"></details>',
        html,
    )
    assert match, html[:200]
    assert base64.b64decode(match.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    assert fig.number not in plt.get_fignums()  # closed, so the notebook does not show it again


def test_folded_answers_without_a_figure_have_no_picture():
    assert "<img" not in answers.folded("question 1: 12")._repr_html_()


def test_folded_rejects_a_figure_that_is_not_a_matplotlib_figure():
    with pytest.raises(TypeError, match="Matplotlib Figure"):
        answers.folded("question 1: 12", figure="plot.png")
