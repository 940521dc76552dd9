"""Course colour palette and matplotlib style (introduced in every lab's first cell)."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from importlib import resources

import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap


class Palette(str, enum.Enum):
    """Name the course colours; each member's value is a matplotlib colour string."""

    BLUE = "#0A7BD8"
    ORANGE = "#F28C1E"
    DARK_RED = "#B8202E"
    MAGENTA = "#D63ACF"
    PURPLE = "#6B2FA0"
    DARK_BLUE = "#1F4E9E"
    GREEN = "#2E8B57"

    def __str__(self) -> str:
        return self.value


#: Colours for class labels 0, 1, 2, ... in the order the labs use them.
CLASS_COLORS: tuple[str, ...] = tuple(
    c.value
    for c in (
        Palette.BLUE,
        Palette.ORANGE,
        Palette.DARK_RED,
        Palette.MAGENTA,
        Palette.PURPLE,
        Palette.DARK_BLUE,
        Palette.GREEN,
    )
)


def class_cmap(num_classes: int) -> ListedColormap:
    """Return a colormap with one course colour per class."""
    if not 1 <= num_classes <= len(CLASS_COLORS):
        raise ValueError(f"class_cmap supports 1 to {len(CLASS_COLORS)} classes, got {num_classes}")
    return ListedColormap(CLASS_COLORS[:num_classes], name=f"course{num_classes}")


def style_path() -> str:
    """Return the file path of the course matplotlib style sheet (package data)."""
    return str(resources.files("lab_utils").joinpath("styles/course.mplstyle"))


def use() -> None:
    """Apply the course matplotlib style globally for this session."""
    plt.style.use(style_path())


@contextlib.contextmanager
def context() -> Iterator[None]:
    """Apply the course style only inside a ``with`` block."""
    with plt.style.context(style_path()):
        yield
