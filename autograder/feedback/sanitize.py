"""Student-written HTML, made safe for the pages an instructor or a student opens.

Everything in an autograded notebook is the student's: Markdown cells (rendered with raw HTML
passed through), and every output their code made (``text/html``, ``text/markdown``,
``image/svg+xml``, ``application/javascript``). Two pages show it: the feedback page, and the
Formgrader's submission view, which the instructor opens inside the JupyterLab origin, where a
script could use the Jupyter APIs as the instructor. Both are rendered by nbconvert's
``HTMLExporter`` with nbgrader's templates.

``HTMLExporter.sanitize_html`` passes outputs through the ``clean_html`` filter and drops
JavaScript and widget outputs, but nbgrader's ``feedback`` and ``formgrade`` templates render
Markdown cells without that filter, and nbconvert's ``clean_html`` escapes headings, paragraphs,
images and MathML. So ``nbgrader_config.py`` swaps both filters of every ``HTMLExporter`` for
the ones here (:data:`HTML_FILTERS`): :func:`clean_html`, an allowlist that keeps what notebooks
show (text structure, tables, images as ``data:`` URLs, links to web pages, MathML, syntax
highlighting) and drops the rest; and :class:`SanitizedMarkdown`, the exporter's own
``markdown2html`` followed by :func:`clean_html`.

What is not allowed is escaped, not dropped, so a grader sees a student's ``<script>`` as text.
No ``style`` element or attribute survives, and no ``id`` or ``class`` in the ``nn-`` namespace
of the feedback summary, so a student's content cannot hide the summary or pose as it.
"""

from __future__ import annotations

import re
from typing import Any

import bleach
from jinja2 import pass_context
from jinja2.runtime import Context
from traitlets.config import LoggingConfigurable

_MATHML_TAGS = frozenset(
    {
        "math",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "mfrac",
        "msqrt",
        "mroot",
        "msub",
        "msup",
        "msubsup",
        "munder",
        "mover",
        "munderover",
        "mmultiscripts",
        "mprescripts",
        "none",
        "mtable",
        "mtr",
        "mtd",
        "mlabeledtr",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
        "merror",
        "semantics",
        "annotation",
    }
)
_HTML_TAGS = frozenset(
    {
        "a",
        "abbr",
        "acronym",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "tt",
        "u",
        "ul",
        "var",
    }
)
ALLOWED_TAGS = _HTML_TAGS | _MATHML_TAGS

_MATHML_ATTRIBUTES = [
    "display",
    "xmlns",
    "mathvariant",
    "mathcolor",
    "mathsize",
    "stretchy",
    "fence",
    "separator",
    "form",
    "lspace",
    "rspace",
    "largeop",
    "movablelimits",
    "accent",
    "accentunder",
    "linethickness",
    "displaystyle",
    "scriptlevel",
    "width",
    "height",
    "depth",
    "voffset",
    "notation",
    "columnalign",
    "rowalign",
    "columnspan",
    "rowspan",
    "columnspacing",
    "rowspacing",
    "columnlines",
    "rowlines",
    "frame",
    "encoding",
]
_ATTRIBUTES = {
    "*": ["title", "lang", "dir", "class"],
    "a": ["href"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align", "scope"],
    "ol": ["start", "type"],
    "font": ["color"],
    "details": ["open"],
    **{f"h{level}": ["id"] for level in range(1, 7)},
    **{tag: _MATHML_ATTRIBUTES for tag in _MATHML_TAGS},
}

# Classes the Markdown renderer writes (heading anchors, Pygments' short token classes, the
# highlight box, code languages), and the TeX fallback of autograder.feedback; not the page's
# own ones (the summary's nn-*, Bootstrap's panel-*), so student content cannot look like them.
_CLASS = re.compile(r"anchor-link|highlight|hl-[\w-]+|language-[\w+-]+|nn-tex|[a-z][a-z0-9]{0,2}")
_IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,", re.IGNORECASE)
_LINK = re.compile(r"(https?://|mailto:|#|[\w./-]*$)", re.IGNORECASE)


def _allowed(tag: str, name: str, value: str) -> bool:
    if name not in _ATTRIBUTES.get(tag, ()) and name not in _ATTRIBUTES["*"]:
        return False
    if name == "class":
        return all(_CLASS.fullmatch(c) for c in value.split())
    if name == "id":
        return not value.lower().startswith("nn-")
    if tag == "img" and name == "src":
        return bool(_IMAGE_DATA.match(value.strip()))
    if tag == "a" and name == "href":
        return bool(_LINK.match(value.strip()))
    return True


_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=_allowed,
    # bleach checks these after _allowed: data: is for images (which _allowed limits to
    # data:image/...), never for links.
    protocols={"http", "https", "mailto", "data"},
    strip=False,
    strip_comments=True,
)


def clean_html(html: str | bytes) -> str:
    """Return student-written ``html`` with only text, tables, images, links and MathML left."""
    html = html.decode() if isinstance(html, bytes) else str(html)
    cleaned: str = _cleaner.clean(html)
    return cleaned


class SanitizedMarkdown(LoggingConfigurable):
    """The ``markdown2html`` filter of an ``HTMLExporter`` (its ``parent``), then :func:`clean_html`.

    nbconvert makes a filter class given in ``HTMLExporter.filters`` with the exporter as its
    parent, so this keeps each exporter's own rendering (the feedback's MathML, the
    Formgrader's TeX for MathJax, attachments, anchors) and only adds the cleaning.
    """

    @pass_context
    def __call__(self, context: Context, source: str) -> str:
        exporter: Any = self.parent  # the HTMLExporter (traitlets types its parent loosely)
        return clean_html(exporter.markdown2html(context, source))

    # Jinja looks for pass_context's mark on the filter object, here an instance.
    jinja_pass_arg = __call__.jinja_pass_arg  # type: ignore[attr-defined]  # set by pass_context


# The filters nbgrader_config.py gives every HTMLExporter (the Formgrader's and the feedback's).
HTML_FILTERS = {"markdown2html": SanitizedMarkdown, "clean_html": clean_html}
