"""nbgrader preprocessors of the feedback step, wired in ``course/nbgrader_config.py``.

* :class:`SanitizeFeedback`: strips the facts outputs and error tracebacks (which quote
  hidden test source) from graded cells before ``generate_feedback`` renders them.
* :class:`HideLibraryNoise`: the library-warning filter on every cell of the feedback (the
  TensorFlow start-up lines under the imports mean nothing to a student).
* :class:`StaticWidgets`: figures as their image, other widgets as a one-line note, in the
  feedback (a widget needs a live kernel; its text repr means nothing to a student).
* :class:`SummarizeChecks`: the summary at the top of the feedback page (each check's
  question, ``grade_id``, points and, if it failed, why), for the ``nn_feedback`` template.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Unicode

from autograder.feedback import standing
from autograder.grading.preprocessors import FilterLibraryWarnings
from autograder.kernel.protocol import FACTS_MIME, Code


class SanitizeFeedback(NbGraderPreprocessor):  # type: ignore[misc]  # nbgrader is untyped
    """Hide grading internals from feedback: facts outputs and tracebacks of graded cells.

    A traceback quotes the source of the cell it ran in, which for a hidden test cell is the
    hidden test; only the error's last line (the check's message) is kept.
    """

    facts_mime = Unicode(FACTS_MIME, help="MIME type of the facts outputs to remove.").tag(
        config=True
    )

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type != "code":
            return cell, resources
        graded = utils.is_grade(cell)
        outputs = []
        for output in cell.get("outputs", []):
            if self.facts_mime in output.get("data", {}):
                continue
            if graded and output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
            outputs.append(output)
        cell.outputs = outputs
        return cell, resources


class HideLibraryNoise(FilterLibraryWarnings):
    """Remove library-warning lines from the stderr of every cell shown in the feedback."""

    graded_cells_only = Bool(
        False, help="Only filter graded cells; the feedback filters every cell by default."
    ).tag(config=True)


WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


class StaticWidgets(NbGraderPreprocessor):  # type: ignore[misc]  # nbgrader is untyped
    """Show each widget output as its image, or as a one-line note if it has none.

    A widget view needs a live kernel; a static page would show its text repr
    (``VBox(children=...``). An ipympl figure's output carries a PNG drawn after its cell ran:
    that image is kept alone. The notebook's saved widget state goes too, so the page loads
    no widget script.
    """

    note = Unicode(
        "An interactive widget was shown here; run the notebook in JupyterLab to use it.",
        help="The line shown in place of a widget that has no image.",
    ).tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        nb.metadata.pop("widgets", None)
        done: tuple[NotebookNode, dict[str, Any]] = super().preprocess(nb, resources)
        return done

    def _note_output(self) -> NotebookNode:
        note: NotebookNode = new_output(
            "display_data",
            data={
                "text/html": f'<p class="nn-widget-note">{self.note}</p>',
                "text/plain": self.note,
            },
        )
        return note

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type != "code":
            return cell, resources
        outputs, noted = [], False
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW_MIME not in data:
                outputs.append(output)
            elif "image/png" in data:
                output.data = {"image/png": data["image/png"]}
                outputs.append(output)
            elif not noted:
                outputs.append(self._note_output())
                noted = True
        cell.outputs = outputs
        return cell, resources


class CheckStatus(Code):
    """How one graded cell did, as the summary shows it (its mark and CSS class)."""

    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"
    UNGRADED = "ungraded"


@dataclass(frozen=True)
class CheckSummary:
    """One graded cell as the summary shows it."""

    grade_id: str
    question: str
    points: float
    score: float | None  # None: not graded yet (a manually graded answer)
    reason: str  # why it lost points; "" if it did not

    @property
    def status(self) -> CheckStatus:
        if self.score is None:
            return CheckStatus.UNGRADED
        if self.score >= self.points:
            return CheckStatus.PASSED
        return CheckStatus.PARTIAL if self.score > 0 else CheckStatus.FAILED

    @property
    def status_text(self) -> str:
        return {CheckStatus.UNGRADED: "not graded yet", CheckStatus.PARTIAL: "partly passed"}.get(
            self.status, str(self.status)
        )


@dataclass(frozen=True)
class ExerciseSummary:
    """The checks of one exercise, in notebook order."""

    title: str
    checks: tuple[CheckSummary, ...]

    @property
    def score(self) -> float:
        return sum(c.score or 0 for c in self.checks)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)


@dataclass(frozen=True)
class CommentSummary:
    """A comment on one or more answer cells (an instructor's, or the grading command's status)."""

    text: str
    grade_ids: tuple[str, ...]


@dataclass(frozen=True)
class FeedbackSummary:
    """What the top of the feedback page says: the checks by exercise, and comments."""

    exercises: tuple[ExerciseSummary, ...]
    comments: tuple[CommentSummary, ...]

    @property
    def checks(self) -> list[CheckSummary]:
        return [c for e in self.exercises for c in e.checks]

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def passed(self) -> int:
        return sum(c.status == "passed" for c in self.checks)

    @property
    def failed(self) -> int:
        return sum(c.status in ("failed", "partial") for c in self.checks)


def first_docstring_line(source: str) -> str:
    """Return the first line of a cell's leading docstring, or "" if it has none."""
    try:
        doc = ast.get_docstring(ast.parse(source), clean=True)
    except SyntaxError:  # IPython magics; the docstring still leads the cell
        match = re.match(r'\s*[rRuU]?("""|\'\'\')\s*(.*?)\s*\1', source, re.DOTALL)
        doc = match.group(2) if match else None
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""


def failure_reason(cell: NotebookNode) -> str:
    """Return one line saying why a graded code cell lost points, from its (sanitised) outputs."""
    outputs = cell.get("outputs", [])
    for output in outputs:
        if output.output_type == "error":
            message = (output.get("evalue") or "").strip().splitlines()
            first = message[0] if message else ""
            if output.ename == "CheckFailed" and first:
                return first
            return f"{output.ename}: {first}" if first else output.ename
    for output in outputs:
        if output.output_type == "stream" and output.name == "stderr" and output.text.strip():
            line = output.text.strip().splitlines()[0]
            return f"The cell wrote to standard error, which fails a test cell: {line}"
    if not outputs:
        return "The cell did not run: the notebook stopped, or ran out of time, before it."
    return "The cell did not pass; see its output."


class SummarizeChecks(NbGraderPreprocessor):  # type: ignore[misc]  # nbgrader is untyped
    """Put the summary of graded cells into ``resources["nn_summary"]`` for the template.

    Run after ``GetGrades`` (scores), ``ClearHiddenTests`` and ``SanitizeFeedback`` (so the
    summary quotes only what the page itself shows). Each graded cell is named by its
    question (the first line of its docstring) and grouped under its exercise: the last
    Markdown heading matching ``exercise_heading`` above it, with the last solution cell's
    ``grade_id``. It also puts where the submission stands (its time, how late, whether it
    counts: :mod:`autograder.feedback.standing`) into ``resources["nn_submission"]``.
    """

    exercise_heading = Unicode(
        r"^#{1,6}\s+(Exercise\b.*?)\s*#*\s*$",
        help="Regular expression (multiline, case-insensitive) of a Markdown heading that "
        "starts an exercise; its first group is the exercise's title.",
    ).tag(config=True)
    ungrouped_title = Unicode(
        "Checks", help="Title of the checks that come before any exercise or solution cell."
    ).tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        heading_re = re.compile(self.exercise_heading, re.MULTILINE | re.IGNORECASE)
        heading, solution = None, None
        groups: dict[str, list[CheckSummary]] = {}
        comments: dict[str, list[str]] = {}  # the same text on several cells is shown once
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and not meta.get("grade"):
                found = heading_re.findall(cell.source)
                if found:
                    heading, solution = found[-1], None
            if meta.get("comment") and meta["comment"].strip():
                comments.setdefault(meta["comment"].strip(), []).append(meta["grade_id"])
            if meta.get("solution"):
                solution = meta["grade_id"]
            if meta.get("grade"):
                title = " · ".join(t for t in (heading, solution) if t) or self.ungrouped_title
                groups.setdefault(title, []).append(self._check(cell))
        resources["nn_submission"] = standing.read_standing(resources, self.config)
        resources["nn_summary"] = FeedbackSummary(
            exercises=tuple(ExerciseSummary(t, tuple(c)) for t, c in groups.items()),
            comments=tuple(CommentSummary(t, tuple(ids)) for t, ids in comments.items()),
        )
        return nb, resources

    def _check(self, cell: NotebookNode) -> CheckSummary:
        meta = cell.metadata["nbgrader"]
        score, points = meta.get("score"), float(meta.get("points") or 0)
        question = ""
        if cell.cell_type == "code" and not meta.get("solution"):
            question = first_docstring_line(cell.source)
        if not question:
            question = "Your answer" if meta.get("solution") else "Test cell"
        reason = ""
        if score is not None and score < points and cell.cell_type == "code":
            reason = failure_reason(cell)
        return CheckSummary(
            grade_id=meta["grade_id"],
            question=question,
            points=points,
            score=None if score is None else float(score),
            reason=reason,
        )
