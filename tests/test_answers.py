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
