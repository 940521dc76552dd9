"""Can a student's HTML, script or CSS run, or restyle the summary, in a page made from their work?

Two pages are rendered from a student's autograded notebook: the feedback page the student
opens (``generate_feedback``, the course's ``FeedbackExporter``), and the Formgrader's
submission view, which the instructor opens inside the JupyterLab origin, so a script there
acts as the instructor. Both are rendered here the way nbgrader renders them, with the course's
``nbgrader_config.py``. Each attack carries a ``PWNED`` marker; the tests parse the pages and
assert that no marker reaches a script, an event handler, a ``javascript:`` or ``data:`` link,
a frame or a style, and that the real summary stays the only one.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output, new_raw_cell
from test_feedback_page import autograded_notebook, course_config, render

from autograder.feedback import sanitize

from support import courses

MARKER = "PWNED"
SCRIPT_IN_MARKDOWN = "<script>window.PWNED_markdown_script = 1</script>"
EVENT_HANDLERS = (
    '<img src="x" onerror="PWNED_img_onerror()">\n\n'
    '<svg onload="PWNED_svg_onload()"><script>PWNED_svg_script()</script></svg>\n\n'
    '<details open ontoggle="PWNED_details_ontoggle()"><summary>open</summary></details>'
)
JS_LINKS = (
    "[click me](javascript:PWNED_markdown_link())\n\n"
    '<a href="javascript:PWNED_a_href()">and me</a>\n\n'
    '<a href="data:text/html,<script>PWNED_data_link()</script>">or me</a>'
)
FRAMES = (
    '<iframe src="https://evil.example/PWNED_iframe"></iframe>\n\n'
    '<object data="https://evil.example/PWNED_object"></object>'
    '<embed src="https://evil.example/PWNED_embed">\n\n'
    '<meta http-equiv="refresh" content="0; url=https://evil.example/PWNED_meta">\n\n'
    '<base href="https://evil.example/PWNED_base/">\n\n'
    '<link rel="stylesheet" href="https://evil.example/PWNED_link.css">\n\n'
    '<form action="https://evil.example/PWNED_form"><button>Save</button></form>'
)
MATH_INJECTION = (
    "$\\text{<img src=x onerror=PWNED_math_text()>}$ and $\\href{javascript:PWNED_math_href()}{x}$"
)
HIDE_SUMMARY_CSS = (
    "<style>/* PWNED_css */ #nn-summary, .panel-heading { display: none !important; }</style>\n\n"
    '<div style="position: fixed; top: 0; left: 0; width: 100%; z-index: 9999" '
    'id="nn-summary" class="panel-heading nn-check nn-passed">'
    "<h4>Digits: 16 / 16 points</h4><p>All checks passed. PWNED_fake_summary</p></div>"
)
HTML_OUTPUT = (
    "<script>PWNED_html_output_script()</script>"
    '<img src="x" onerror="PWNED_html_output_onerror()">'
    "<style>/* PWNED_output_css */ #nn-summary { visibility: hidden; }</style>"
    '<iframe srcdoc="<script>PWNED_srcdoc()</script>"></iframe>'
)
JS_OUTPUT = "PWNED_javascript_output()"
SVG_OUTPUT = '<svg xmlns="http://www.w3.org/2000/svg"><script>PWNED_svg_output()</script></svg>'
MARKDOWN_OUTPUT = '<script>PWNED_markdown_output()</script><img src=x onerror="PWNED_md_out()">'
LATEX_OUTPUT = "$\\href{javascript:PWNED_latex_output()}{x} \\text{<img src=x onerror=PWNED()>}$"
RAW_HTML = "<script>PWNED_raw_cell()</script>"

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "srcdoc"}


class ActiveContent(HTMLParser):
    """Collect what in a page can run code, load a page or restyle it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []  # script elements: their src and text
        self.handlers: list[str] = []  # on* attributes
        self.urls: list[str] = []  # javascript:/data: URLs in links, frames, forms (not images)
        self.frames: list[str] = []  # iframe, object, embed, base, meta, link, form elements
        self.styles: list[str] = []  # style elements: their text
        self.style_attributes: list[str] = []
        self.summary_ids = 0  # elements with id="nn-summary"
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}={value}")
            elif name in URL_ATTRIBUTES and not (tag == "img" and name == "src"):
                if value.strip().lower().startswith(("javascript:", "data:", "vbscript:")):
                    self.urls.append(f"{tag} {name}={value}")
            elif name == "style":
                self.style_attributes.append(f"{tag} style={value}")
            elif name == "id" and value == "nn-summary":
                self.summary_ids += 1
        if tag == "img":
            src = dict(attrs).get("src") or ""
            if src.lower().startswith("javascript:"):
                self.urls.append(f"img src={src}")
        if tag in ("iframe", "object", "embed", "base", "meta", "link", "form", "frame"):
            self.frames.append(f"{tag} {attrs}")
        if tag in ("script", "style"):
            self._in = tag
            getattr(self, f"{tag}s").append(" ".join(f"{n}={v}" for n, v in attrs))

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            getattr(self, f"{self._in}s")[-1] += data


def active_content(page: str) -> ActiveContent:
    parser = ActiveContent()
    parser.feed(page)
    parser.close()
    return parser


def assert_nothing_of_the_student_runs(page: str) -> None:
    """Fail if a PWNED marker reaches a script, a handler, a link or frame, or a style."""
    found = active_content(page)
    for kind in ("scripts", "handlers", "urls", "styles"):
        hits = [item for item in getattr(found, kind) if MARKER in item]
        assert hits == [], f"student {kind} in the page: {hits}"
    assert [f for f in found.frames if MARKER in f or "evil.example" in f] == []


def hostile_notebook() -> nbformat.NotebookNode:
    """Return the autograded notebook of test_feedback_page with a student's attacks added."""
    nb = autograded_notebook()
    answer = new_code_cell("display(HTML(...)); display(Javascript(...))")
    answer.outputs = [
        new_output("display_data", data={"text/html": HTML_OUTPUT, "text/plain": "HTML"}),
        new_output(
            "display_data",
            data={"application/javascript": JS_OUTPUT, "text/plain": "Javascript"},
        ),
        new_output("display_data", data={"image/svg+xml": SVG_OUTPUT, "text/plain": "SVG"}),
        new_output("display_data", data={"text/markdown": MARKDOWN_OUTPUT, "text/plain": "MD"}),
        new_output("display_data", data={"text/latex": LATEX_OUTPUT, "text/plain": "Latex"}),
    ]
    raw = new_raw_cell(RAW_HTML, metadata={"raw_mimetype": "text/html"})
    markdown = [
        SCRIPT_IN_MARKDOWN,
        EVENT_HANDLERS,
        JS_LINKS,
        FRAMES,
        MATH_INJECTION,
        HIDE_SUMMARY_CSS,
    ]
    nb.cells[1:1] = [*(new_markdown_cell(m) for m in markdown), answer, raw]
    return nb


@pytest.fixture(scope="module")
def feedback_page() -> str:
    return render(hostile_notebook(), score=1.0, max_score=5.0)


# The Formgrader: what nbgrader's server extension does when JupyterLab loads it
# (formgrader.load_jupyter_server_extension) and when the instructor opens a submission
# (handlers.SubmissionHandler.get), minus the web server and the gradebook.
STUDENT = "mallory"
ASSIGNMENT = "C2_W2_Assignment"


def formgrader_page(root: Path, nb: nbformat.NotebookNode, monkeypatch) -> str:
    """Render ``nb`` as the Formgrader's submission view, with the course's real config.

    The course root holds a copy of the repository's ``nbgrader_config.py``; as on the hub,
    the instructor's Jupyter config names the course root, and nbgrader loads the course's
    config from there.
    """
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

    course = courses.new_course(root / "repo", sources={})
    jupyter_dir = root / "jupyter"
    jupyter_dir.mkdir()
    (jupyter_dir / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n", encoding="utf-8"
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(jupyter_dir))
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the extension adds the cwd to it
    path = course / "autograded" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)

    formgrader = FormgradeExtension()
    formgrader.root_dir = str(root)
    formgrader.initialize([])
    exporter = HTMLExporter(config=formgrader.config)  # formgrader.init_tornado_settings
    resources = {  # what SubmissionHandler.get passes
        "assignment_id": ASSIGNMENT,
        "notebook_id": ASSIGNMENT,
        "submission_id": "0123abcd",
        "index": 0,
        "total": 1,
        "base_url": "/user/instructor",
        "student": STUDENT,
        "last_name": "M",
        "first_name": "Mallory",
        "notebook_path": f"autograded/{STUDENT}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
    }
    html, _ = exporter.from_filename(str(path), resources=resources)
    return html


def test_feedback_settings_reach_only_the_feedback_exporter():
    config = course_config()
    assert "template_name" not in config.HTMLExporter
    assert "extra_template_basedirs" not in config.HTMLExporter
    assert config.HTMLExporter.sanitize_html is True


def test_formgrader_renders_a_submission_with_the_course_config(tmp_path, monkeypatch):
    page = formgrader_page(tmp_path, autograded_notebook(), monkeypatch)
    assert "Submission 1 / 1" in page  # nbgrader's formgrade template, not the feedback one
    assert 'class="score tabbable" id="softmax_large_inputs"' in page
    assert "nn-summary" not in page


def test_formgrader_page_runs_no_student_html_or_script(tmp_path, monkeypatch):
    page = formgrader_page(tmp_path, hostile_notebook(), monkeypatch)
    assert "Submission 1 / 1" in page
    assert_nothing_of_the_student_runs(page)
    assert active_content(page).summary_ids == 0


def test_feedback_page_runs_no_script_from_markdown(feedback_page):
    assert "PWNED_markdown_script" in feedback_page  # shown, as text
    assert_nothing_of_the_student_runs(feedback_page)


def test_feedback_page_keeps_no_event_handler_or_script_link(feedback_page):
    found = active_content(feedback_page)
    assert [h for h in found.handlers if MARKER in h] == []
    assert [u for u in found.urls if MARKER in u] == []
    assert "PWNED_markdown_link" not in "".join(found.urls)


def test_feedback_page_runs_no_script_from_outputs(feedback_page):
    found = active_content(feedback_page)
    for marker in ("PWNED_html_output", "PWNED_javascript_output", "PWNED_markdown_output"):
        assert [s for s in found.scripts if marker in s] == []
    assert [s for s in found.scripts if "PWNED_latex" in s or "PWNED_raw_cell" in s] == []
    assert "PWNED_svg_output" not in "".join(found.scripts)


def test_feedback_page_loads_no_frame_form_or_stylesheet_of_the_student(feedback_page):
    found = active_content(feedback_page)
    assert [f for f in found.frames if "evil.example" in f or MARKER in f] == []


def test_student_css_cannot_hide_or_fake_the_summary(feedback_page):
    found = active_content(feedback_page)
    assert [s for s in found.styles if MARKER in s] == []
    assert found.style_attributes == []  # the template sets none; the student's are gone
    assert found.summary_ids == 1  # the real summary, and no student element posing as it
    real = re.search(r'<section [^>]*id="nn-summary".*?</section>', feedback_page, re.DOTALL)
    assert "Digits: 1 / 5 points" in real.group(0)
    assert real.end() < feedback_page.index("PWNED_fake_summary")  # below, in the student's cell
    assert 'class="panel-heading nn-check' not in feedback_page


def test_math_still_typesets_as_mathml_after_sanitizing(feedback_page):
    assert "<mfrac>" in feedback_page and "<mo>max</mo>" in feedback_page
    assert "PWNED_math_href" not in "".join(active_content(feedback_page).urls)


@pytest.mark.parametrize(
    "attack",
    [
        SCRIPT_IN_MARKDOWN,
        '<img src="x" onerror="PWNED()">',
        '<a href="javascript:PWNED()">x</a>',
        '<a href="data:text/html,PWNED">x</a>',
        '<iframe src="https://evil.example/PWNED"></iframe>',
        '<svg onload="PWNED()"></svg>',
        "<style>#nn-summary { display: none } /* PWNED */</style>",
        '<p style="display: none" id="nn-summary" class="nn-check PWNED">x</p>',
        '<math><mrow href="javascript:PWNED()"><mi>x</mi></mrow></math>',
    ],
)
def test_clean_html_removes_the_attack(attack):
    cleaned = sanitize.clean_html(attack)
    assert_nothing_of_the_student_runs(cleaned)
    assert 'id="nn-summary"' not in cleaned and "nn-check" not in cleaned


def test_clean_html_keeps_text_structure_images_and_mathml():
    kept = (
        '<h2 id="Exercise-2">Exercise 2<a class="anchor-link" href="#Exercise-2">¶</a></h2>'
        '<p>See <a href="https://www.tensorflow.org/">TensorFlow</a>.</p>'
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="figure">'
        '<math display="block"><mfrac><mn>1</mn><mi>z</mi></mfrac></math>'
        '<div class="highlight hl-ipython3"><pre><span class="kn">import</span></pre></div>'
        "<details><summary>Hint</summary><b>Use</b> <code>np.max</code>.</details>"
    )
    assert sanitize.clean_html(kept) == kept
