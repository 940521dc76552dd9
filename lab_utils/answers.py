"""Show a lab's computed answers folded, so that running every cell does not reveal them.

Introduced in C2_W2_Derivatives; also used in C2_W2_Backprop and C2_W2_Layer_Types.
"""

from __future__ import annotations

import dataclasses
import html

#: The line a folded block shows until it is opened.
SUMMARY = "Computed answers (open after answering)"


@dataclasses.dataclass(frozen=True)
class FoldedAnswers:
    """Hold answer lines: folded (an HTML ``<details>``) in a notebook, plain text elsewhere."""

    lines: tuple[str, ...]
    summary: str = SUMMARY

    @property
    def text(self) -> str:
        """Return the answers as plain text, one per line."""
        return "\n".join(self.lines)

    def _repr_html_(self) -> str:
        return (
            f"<details><summary>{html.escape(self.summary)}</summary>"
            f"<pre>{html.escape(self.text)}</pre></details>"
        )

    def __repr__(self) -> str:
        return self.text


def folded(*lines: str, summary: str = SUMMARY) -> FoldedAnswers:
    """Return ``lines`` as one folded block for the notebook to display.

    Introduced in C2_W2_Derivatives.
    """
    if not lines or not all(isinstance(line, str) for line in lines):
        raise TypeError("folded() takes one or more answer lines as strings")
    return FoldedAnswers(tuple(lines), summary)
