"""Feedback before the deadline: public tests in full, hidden tests only as their total.

What counts as hidden or public, and when the deadline is, is defined once in
:mod:`autograder.grading.deadline`.
"""

from __future__ import annotations

from typing import Any

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from autograder.grading import deadline


def _pts(value: float) -> str:
    return f"{value:g}"


class HideHiddenTests(NbGraderPreprocessor):  # type: ignore[misc]  # nbgrader is untyped
    """Before the due date, replace each hidden test cell by a note and show their total.

    Run after ``GetGrades`` (which puts each cell's score into its metadata) and before
    ``ClearHiddenTests`` (which removes the hidden regions this preprocessor recognises the
    hidden tests by). A hidden test's cell (its question, code, outputs and score) becomes a
    Markdown note saying it is hidden and what it is worth, so neither the page nor the
    summary built from it says which hidden test passed; one Markdown cell at the top gives
    the hidden tests' total. The page's overall score stays the sum of both. After the due
    date (see :class:`autograder.grading.deadline.FeedbackDeadline`) the notebook is left as it
    is and the page shows every test.
    """

    def preprocess(
        self, nb: nbformat.NotebookNode, resources: dict[str, Any]
    ) -> tuple[nbformat.NotebookNode, dict[str, Any]]:
        info = resources.get("nbgrader", {})
        if not info.get("db_url") or not info.get("assignment"):
            return nb, resources  # rendered without a gradebook: no due date to keep back for
        now = deadline.utcnow()
        scope = deadline.FeedbackDeadline(config=self.config).scope(
            info["db_url"], info["assignment"], now
        )
        resources["nn_feedback_scope"] = str(scope)
        if scope != deadline.FeedbackScope.PUBLIC:
            return nb, resources
        begin = ClearHiddenTests(config=self.config).begin_test_delimeter
        due = deadline.due_date(info["db_url"], info["assignment"])
        score = points = 0.0
        hidden = 0
        cells = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not deadline.is_hidden_test(
                cell.source, meta, begin=begin
            ):
                cells.append(cell)
                continue
            hidden += 1
            score += float(meta.get("score") or 0.0)
            points += float(meta.get("points") or 0.0)
            cells.append(
                nbformat.v4.new_markdown_cell(
                    f"*A hidden test ({_pts(float(meta.get('points') or 0.0))} points) was here: "
                    "its result is shown after the deadline.*"
                )
            )
        if hidden:
            when = due.strftime("%Y-%m-%d %H:%M UTC") if due else "the deadline"
            cells.insert(
                0,
                nbformat.v4.new_markdown_cell(
                    f"**Hidden tests: {_pts(score)} / {_pts(points)} points** in total "
                    f"({hidden} tests). Until the deadline ({when}) this page shows the "
                    "public tests' results and only the hidden tests' total; after it, the "
                    "feedback shows every test."
                ),
            )
        nb.cells = cells
        return nb, resources
