"""Show a lab's computed answers folded, so that running every cell does not reveal them.

Introduced in C2_W2_Derivatives; also used in C2_W2_Backprop, C2_W2_Layer_Types and C2_W2_Relu
(a figure folded with its answers).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io

#: The line a folded block shows until it is opened.
SUMMARY = "Computed answers (open after answering)"


@dataclasses.dataclass(frozen=True)
class FoldedAnswers:
    """Hold answers (lines, maybe a figure): folded in a notebook (HTML ``<details>``), else text."""

    lines: tuple[str, ...]
    summary: str = SUMMARY
    png: bytes | None = None  # a figure shown under the lines when the block is opened

    @property
    def text(self) -> str:
        """Return the answers as plain text, one per line."""
        return "\n".join(self.lines)

    def _repr_html_(self) -> str:
        image = ""
        if self.png is not None:
            data = base64.b64encode(self.png).decode("ascii")
            image = f'<img src="data:image/png;base64,{data}" alt="figure">'
        return (
            f"<details><summary>{html.escape(self.summary)}</summary>"
            f"<pre>{html.escape(self.text)}</pre>{image}</details>"
        )

    def __repr__(self) -> str:
        return self.text


def folded(*lines: str, summary: str = SUMMARY, figure=None) -> FoldedAnswers:
    """Return ``lines`` as one folded block for the notebook to display.

    ``figure``, a Matplotlib Figure, is drawn inside the block as a picture and closed,
    so that the notebook does not also show it unfolded below the cell.
    Introduced in C2_W2_Derivatives; ``figure`` in C2_W2_Relu.
    """
    if not lines or not all(isinstance(line, str) for line in lines):
        raise TypeError("folded() takes one or more answer lines as strings")
    return FoldedAnswers(tuple(lines), summary, None if figure is None else _png(figure))


def _png(figure) -> bytes:
    """Return ``figure`` drawn as PNG bytes, and close it if pyplot manages it."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if not isinstance(figure, Figure):
        raise TypeError(
            f"figure must be a Matplotlib Figure, e.g. fig = plt.figure(); got {type(figure).__name__}"
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)  # a pyplot figure still open at the end of the cell would show unfolded
    return buffer.getvalue()
