"""nbgrader preprocessors of the autograde step, wired in ``course/nbgrader_config.py``.

* :class:`ExecuteWithEnv`: nbgrader's ``Execute`` with extra environment variables for the
  grading kernel (quiet TensorFlow logging at the source).
* :class:`FilterLibraryWarnings`: removes known library-warning lines (TensorFlow, absl,
  Keras, Python ``*Warning:``) from the stderr of graded cells before grades are computed,
  because nbgrader scores any test cell with stderr output zero. Other stderr, such as a
  student's own ``print(..., file=sys.stderr)``, is kept and still costs the cell.

The feedback step's preprocessors are in :mod:`autograder.feedback.preprocessors`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Dict, List, Unicode

#: Regular expressions of stderr lines written by libraries, not by the student.
LIBRARY_WARNING_PATTERNS = (
    # absl / TensorFlow C++ log lines: "W0000 00:00:1700000000.123456   1234 file.cc:52] ..."
    r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] ",
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"^To enable the following instructions: .* rebuild TensorFlow",
    # Python logging of TensorFlow, absl and Keras: "WARNING:tensorflow:..."
    r"^(DEBUG|INFO|WARNING|ERROR):(tensorflow|absl|keras|h5py)\b",
    # Python warnings: "/path/file.py:12: UserWarning: message" (source line follows, indented)
    r"^\S.*:\d+: [A-Za-z]*Warning: ",
)


class ExecuteWithEnv(Execute):  # type: ignore[misc]  # nbgrader is untyped
    """Execute a notebook like nbgrader's ``Execute``, adding variables to the kernel's env."""

    kernel_env = Dict(
        {},
        help="Environment variables added to the grading kernel's environment, "
        "e.g. {'TF_CPP_MIN_LOG_LEVEL': '2'} to keep TensorFlow's C++ logging off stderr.",
    ).tag(config=True)

    @contextlib.contextmanager
    def setup_kernel(self, **kwargs: Any) -> Iterator[None]:
        # nbconvert's ExecutePreprocessor starts its kernel through this context manager.
        if self.kernel_env:
            env = dict(kwargs.get("env") or os.environ)
            env.update({str(k): str(v) for k, v in self.kernel_env.items()})
            kwargs["env"] = env
        with super().setup_kernel(**kwargs):
            yield


class FilterLibraryWarnings(NbGraderPreprocessor):  # type: ignore[misc]  # nbgrader is untyped
    """Remove library-warning lines from the stderr of graded cells."""

    enabled = Bool(True, help="Whether to filter library warnings out of stderr.").tag(config=True)
    patterns = List(
        Unicode(),
        list(LIBRARY_WARNING_PATTERNS),
        help="Regular expressions of stderr lines to remove (matched at the line start). "
        "Indented lines right after a removed line (a warning's source line) go too.",
    ).tag(config=True)
    graded_cells_only = Bool(
        True, help="Only filter graded cells (the ones whose stderr costs points)."
    ).tag(config=True)

    def _filter_text(self, text: str) -> str:
        compiled = [re.compile(p) for p in self.patterns]
        kept, dropping = [], False
        for line in text.splitlines(keepends=True):
            if any(p.search(line) for p in compiled):
                dropping = True
                continue
            if dropping and line[:1] in (" ", "\t"):
                continue
            dropping = False
            kept.append(line)
        return "".join(kept)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if not self.enabled or cell.cell_type != "code":
            return cell, resources
        if self.graded_cells_only and not utils.is_grade(cell):
            return cell, resources
        outputs = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                text = self._filter_text(output.text)
                if text != output.text:
                    removed = len(output.text.splitlines()) - len(text.splitlines())
                    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                    self.log.info(
                        "Removed %d library-warning line(s) from the stderr of %s",
                        removed,
                        f"graded cell {grade_id}" if grade_id else f"cell {cell_index}",
                    )
                if not text.strip():
                    continue
                output.text = text
            outputs.append(output)
        cell.outputs = outputs
        return cell, resources
