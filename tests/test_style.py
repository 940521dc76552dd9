"""Tests of lab_utils.style: palette, colormap and style application."""

import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from lab_utils import style


def test_palette_members_are_valid_matplotlib_colours():
    for colour in style.Palette:
        assert to_hex(colour.value).lower() == colour.value.lower()


def test_class_cmap_gives_one_palette_colour_per_class():
    cmap = style.class_cmap(4)
    assert cmap.N == 4
    assert [to_hex(c).upper() for c in cmap.colors] == [c.upper() for c in style.CLASS_COLORS[:4]]


@pytest.mark.parametrize("n", [0, len(style.CLASS_COLORS) + 1])
def test_class_cmap_rejects_unsupported_class_counts(n):
    with pytest.raises(ValueError, match="supports 1 to"):
        style.class_cmap(n)


def test_style_file_is_package_data():
    assert style.style_path().endswith("course.mplstyle")
    with open(style.style_path()) as fh:
        assert "axes.prop_cycle" in fh.read()


def test_importing_lab_utils_changes_no_rcparams():
    import importlib

    before = dict(mpl.rcParams)
    import lab_utils

    importlib.reload(lab_utils)
    importlib.reload(style)
    assert dict(mpl.rcParams) == before


def test_context_applies_course_style_only_inside_block():
    default_cycle = mpl.rcParams["axes.prop_cycle"]
    with style.context():
        first = mpl.rcParams["axes.prop_cycle"].by_key()["color"][0]
        assert to_hex(first).upper() == style.Palette.BLUE.value.upper()
    assert mpl.rcParams["axes.prop_cycle"] == default_cycle


def test_use_applies_course_style_globally():
    with plt.rc_context():
        style.use()
        assert mpl.rcParams["axes.spines.top"] is False
