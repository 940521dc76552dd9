"""The students' feedback page: nbgrader's feedback template with a summary, and math as MathML.

``nbgrader generate_feedback`` renders each autograded notebook with an nbconvert
``HTMLExporter``; ``nbgrader_config.py`` swaps in :class:`FeedbackExporter` and the
``nn_feedback`` template shipped in this package. The template extends nbgrader's own
``feedback`` template: the score list at the top becomes the summary that
:class:`autograder.feedback.preprocessors.SummarizeChecks` puts into the resources (each check named by
its question and ``grade_id``, grouped by exercise, with points, reasons and links), and the
CSS makes long failure messages wrap.

Formulas are typeset when the page is written, not when it is opened: Markdown math and
``text/latex`` outputs are converted to MathML with ``latex2mathml``, which browsers draw
natively, so the page needs no script and no network (students open feedback offline, and
nbgrader's default loads MathJax from a CDN).

Everything the student wrote is sanitized (:mod:`autograder.feedback.sanitize`): no script,
event handler or style of theirs reaches the page, nor the Formgrader's view of the submission.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Iterator
from importlib import resources
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from jupyter_core.paths import jupyter_path
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from traitlets import default

from autograder.feedback import sanitize

TEMPLATE_NAME = "nn_feedback"

log = logging.getLogger(__name__)


def _nbgrader_templates() -> str:
    import nbgrader

    return os.path.join(
        os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates"
    )


def template_basedirs() -> list[str]:
    """Return the template folders the feedback needs: this package's, then nbgrader's."""
    return [str(resources.files(__name__) / "templates"), _nbgrader_templates()]


def tex_to_mathml(tex: str, *, display: bool) -> str:
    """Return ``tex`` as a MathML element, or as escaped TeX in ``<code>`` if it cannot convert."""
    try:
        return latex_to_mathml(tex, display="block" if display else "inline")
    except Exception as err:  # latex2mathml raises many kinds on TeX it does not know
        log.warning("Could not convert math to MathML (%s): %s", err, tex)
        return f'<code class="nn-tex">{html.escape(tex)}</code>'


def latex_output_to_mathml(latex: str) -> str:
    """Return a ``text/latex`` output (``$...$``, ``$$...$$``, ``\\[...\\]``) as MathML."""
    tex = latex.strip()
    for start, end in (("$$", "$$"), ("\\[", "\\]"), ("$", "$"), ("\\(", "\\)")):
        if tex.startswith(start) and tex.endswith(end) and len(tex) > len(start) + len(end):
            return tex_to_mathml(tex[len(start) : -len(end)], display=True)
    return tex_to_mathml(tex, display=True)


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, writing math as MathML instead of TeX for MathJax."""

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)

    def multiline_math(self, text: str) -> str:  # mistune 2 only
        return tex_to_mathml(text.strip().strip("$"), display=True)


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter with math pre-rendered as MathML, and student HTML sanitized.

    Math in Markdown and LaTeX outputs becomes MathML. What the student wrote (Markdown
    cells, HTML, SVG and Markdown outputs) passes through :func:`sanitize.clean_html`, and
    JavaScript outputs are dropped (``sanitize_html``), so no script or style of theirs is on
    the page (:mod:`autograder.feedback.sanitize`).
    """

    def default_filters(self) -> Iterator[tuple[str, Any]]:
        yield from super().default_filters()  # type: ignore[no-untyped-call]  # nbconvert's is unannotated
        yield from sanitize.HTML_FILTERS.items()
        yield ("latex_output_to_mathml", latex_output_to_mathml)

    @default("sanitize_html")
    def _sanitize_html_default(self) -> bool:
        return True

    @default("template_data_paths")
    def _template_data_paths_default(self) -> list[str]:
        # nbgrader's template folder itself, so that ``nn_feedback/index.html.j2`` can extend
        # ``feedback/index.html.j2`` by that explicit name (its own name shadows it).
        return [*jupyter_path("nbconvert", "templates"), _nbgrader_templates()]

    @pass_context
    def markdown2html(self, context: Context, source: str) -> str:
        """Render Markdown with math as MathML (the ``markdown2html`` filter cleans the result)."""
        cell = context.get("cell", {})
        path = context.get("resources", {}).get("metadata", {}).get("path", "")
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=path,
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)
