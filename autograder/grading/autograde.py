"""nbgrader's ``Autograde`` converter with the sandboxed run standing in for its ``Execute`` step.

nbgrader's shape is kept: a converter whose preprocessors each do one thing, per-notebook
data in ``resources``. :class:`SandboxedAutograde` is the course's ``Autograde`` (the
preprocessors of ``nbgrader_config.py``) with any execute preprocessor replaced by
:class:`InjectExecution`, which takes the outputs of the run a worker made in a sandbox and
the verdicts judged outside the kernel from ``resources[RESOURCES_KEY]`` (a
:class:`GradedRun`), so the notebook is never run again in this process.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor
from nbgrader.converters import Autograde
from nbgrader.preprocessors import NbGraderPreprocessor

#: The key of a notebook's :class:`GradedRun` in nbgrader's ``resources``.
RESOURCES_KEY = "nn_graded_run"


@dataclasses.dataclass(frozen=True)
class GradedRun:
    """One submission's sandboxed run, as the autograde step puts it into the notebook.

    Attributes:
        executed: the outputs of each code cell of the run, by cell index.
        verdicts: the outputs of each graded test cell, by grade_id (its verdict).
    """

    executed: dict[int, list[dict[str, Any]]]
    verdicts: dict[str, list[dict[str, Any]]]


class InjectExecution(NbGraderPreprocessor):  # type: ignore[misc]  # nbgrader is untyped
    """Put the sandboxed run's outputs and the outside verdicts into the notebook.

    Stands in for nbgrader's ``Execute``: each graded test cell gets its verdict's output
    (clean if passed, an error otherwise), every other code cell the outputs its sandboxed run
    produced; both come from ``resources[RESOURCES_KEY]``.
    """

    def preprocess_cell(
        self, cell: nbformat.NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[nbformat.NotebookNode, dict[str, Any]]:
        if cell.cell_type != "code":
            return cell, resources
        run: GradedRun = resources[RESOURCES_KEY]
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        outputs = run.verdicts[grade_id] if grade_id in run.verdicts else run.executed.get(index)
        cell.outputs = [nbformat.from_dict(o) for o in outputs or []]
        return cell, resources


class SandboxedAutograde(Autograde):  # type: ignore[misc]  # nbgrader is untyped
    """The course's ``Autograde`` for one submission whose notebook already ran in a sandbox.

    ``run`` is that submission's :class:`GradedRun`; it reaches :class:`InjectExecution`
    through each notebook's resources.
    """

    def __init__(self, *, run: GradedRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run

    def _init_preprocessors(self) -> None:
        if self._sanitizing:
            super()._init_preprocessors()
            return
        self.exporter._preprocessors = []
        for pp in self.autograde_preprocessors:
            executes = isinstance(pp, type) and issubclass(pp, ExecutePreprocessor)
            self.exporter.register_preprocessor(InjectExecution if executes else pp)

    def init_single_notebook_resources(self, notebook_filename: str) -> dict[str, Any]:
        resources: dict[str, Any] = super().init_single_notebook_resources(notebook_filename)
        resources[RESOURCES_KEY] = self.run
        return resources
