"""Tests of lab_utils.multiclass: data, decision-region and per-layer plots."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.colors import to_hex

from lab_utils import data, multiclass
from lab_utils.style import CLASS_COLORS


@pytest.fixture(scope="module")
def blobs():
    return data.make_blobs(100)


def _nearest_centre_scores(X):
    """Score each class by minus the distance to its centre (a known, simple classifier)."""
    return -np.linalg.norm(X[:, None, :] - data.BLOB_CENTERS[None, :, :], axis=2)


def _meshes(ax):
    return [c for c in ax.collections if isinstance(c, QuadMesh)]


def _cell_centres(mesh):
    """Return x and y of each cell centre of a QuadMesh drawn with shading='auto'."""
    edges = mesh.get_coordinates()
    cx = (edges[:-1, :-1, 0] + edges[1:, 1:, 0]) / 2
    cy = (edges[:-1, :-1, 1] + edges[1:, 1:, 1]) / 2
    return cx, cy


def test_plot_multiclass_data_draws_one_coloured_group_per_class(blobs):
    X, y = blobs
    _, ax = plt.subplots()
    assert multiclass.plot_multiclass_data(X, y, ax=ax) is ax
    groups = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(groups) == 4
    for c, group in enumerate(groups):
        assert to_hex(group.get_facecolor()[0]) == CLASS_COLORS[c].lower()
        assert np.allclose(group.get_offsets(), X[y == c])


def test_plot_multiclass_data_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        multiclass.plot_multiclass_data(np.zeros((5, 3)), np.zeros(5, int))
    with pytest.raises(ValueError, match="labels"):
        multiclass.plot_multiclass_data(np.zeros((5, 2)), np.zeros(4, int))
    with pytest.raises(ValueError, match="integer class labels"):
        multiclass.plot_multiclass_data(np.zeros((2, 2)), np.array([0.5, 1.0]))


def test_plot_decision_boundary_calls_predict_once_for_the_whole_grid(blobs):
    X, y = blobs
    calls = []

    def predict(grid):
        calls.append(grid.shape)
        return _nearest_centre_scores(grid)

    _, ax = plt.subplots()
    assert multiclass.plot_decision_boundary(predict, X, y, ax=ax, resolution=50) is ax
    assert calls == [(50 * 50, 2)]


def test_plot_decision_boundary_shades_the_argmax_class_with_one_colour_per_class(blobs):
    X, y = blobs
    ax = multiclass.plot_decision_boundary(_nearest_centre_scores, X, y, resolution=40)
    (mesh,) = _meshes(ax)
    cx, cy = _cell_centres(mesh)
    expected = np.argmin(
        np.linalg.norm(np.stack([cx, cy], axis=-1)[..., None, :] - data.BLOB_CENTERS, axis=-1),
        axis=-1,
    )
    assert np.array_equal(np.asarray(mesh.get_array()).reshape(cx.shape), expected)
    assert set(np.unique(expected)) == {0, 1, 2, 3}
    colours = [to_hex(mesh.cmap(mesh.norm(c))) for c in range(4)]
    assert colours == [c.lower() for c in CLASS_COLORS[:4]]
    assert len([c for c in ax.collections if isinstance(c, PathCollection)]) == 4


def test_plot_decision_boundary_accepts_labels_and_reports_bad_predictions(blobs):
    X, y = blobs
    ax = multiclass.plot_decision_boundary(
        lambda G: np.argmax(_nearest_centre_scores(G), axis=1), X, y, resolution=20
    )
    assert set(np.unique(_meshes(ax)[0].get_array())) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="one row of scores"):
        multiclass.plot_decision_boundary(lambda G: np.zeros((3, 4)), X, y, resolution=20)
    with pytest.raises(TypeError, match="predict_fn"):
        multiclass.plot_decision_boundary("model", X, y)


def test_plot_layer1_units_shades_relu_of_each_unit_and_draws_its_zero_line(blobs):
    X, y = blobs
    W1 = np.array([[0.5, 1.4], [-1.8, 0.75]])
    b1 = np.array([1.5, 1.7])
    fig = plt.figure()
    assert multiclass.plot_layer1_units(W1, b1, X, y, fig=fig, resolution=30) is fig
    panels = [ax for ax in fig.axes if _meshes(ax)]
    panels = [ax for ax in panels if ax.get_title().startswith("layer 1")]
    assert len(panels) == 2
    for j, ax in enumerate(panels):
        mesh = _meshes(ax)[0]
        cx, cy = _cell_centres(mesh)
        values = np.asarray(mesh.get_array()).reshape(cx.shape)
        assert np.allclose(values, np.maximum(0, W1[0, j] * cx + W1[1, j] * cy + b1[j]))
        # The z = 0 contour: its points satisfy w.x + b = 0.
        contour_paths = [
            p
            for c in ax.collections
            if not isinstance(c, QuadMesh | PathCollection)
            for p in c.get_paths()
        ]
        vertices = np.concatenate([p.vertices for p in contour_paths])
        assert np.allclose(vertices @ W1[:, j] + b1[j], 0, atol=1e-6)


def test_plot_layer1_units_rejects_weights_of_the_wrong_shape(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"shape \(2, units\)"):
        multiclass.plot_layer1_units(np.zeros((3, 2)), np.zeros(2), X, y)
    with pytest.raises(ValueError, match="biases"):
        multiclass.plot_layer1_units(np.zeros((2, 2)), np.zeros(3), X, y)


def test_plot_output_units_shades_each_linear_output_over_the_feature_plane(blobs):
    X, y = blobs
    A1 = np.maximum(0, X @ np.array([[0.5, 1.4], [-1.8, 0.75]]) + np.array([1.5, 1.7]))
    W2 = np.array([[-1.4, 2.2, -1.0, 1.7], [-2.6, -2.4, 0.5, -0.1]])
    b2 = np.array([4.1, 0.3, -0.1, -2.2])
    fig = multiclass.plot_output_units(W2, b2, A1, y, resolution=25)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("output unit")]
    assert len(panels) == 4
    for k, ax in enumerate(panels):
        mesh = _meshes(ax)[0]
        cx, cy = _cell_centres(mesh)
        values = np.asarray(mesh.get_array()).reshape(cx.shape)
        assert np.allclose(values, W2[0, k] * cx + W2[1, k] * cy + b2[k])
        groups = [c for c in ax.collections if isinstance(c, PathCollection)]
        # Class k is drawn bright, the other classes faded.
        alphas = [g.get_alpha() for g in groups]
        assert alphas[k] == max(alphas) and sorted(alphas)[0] < alphas[k]
        assert cx.min() < 0 <= A1.min() and A1.max() < cx.max()


def test_inactive_fraction_counts_zero_activations_per_class():
    A1 = np.array([[0.0, 1.0], [0.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    y = np.array([0, 0, 1, 1])
    # Unit 0 is zero for both class-0 rows and no class-1 row; unit 1 for 1 of 2 and 2 of 2.
    assert np.allclose(multiclass.inactive_fraction(A1, y), [[1.0, 0.0], [0.5, 1.0]])
    with pytest.raises(ValueError, match="rows"):
        multiclass.inactive_fraction(A1, y[:3])


@pytest.mark.parametrize(("lines", "regions"), [(0, 1), (1, 2), (2, 4), (3, 7), (4, 11)])
def test_max_regions_counts_what_lines_in_general_position_make(lines, regions):
    # Drawn by hand: each new line crosses all earlier ones and adds as many regions as its pieces.
    assert multiclass.max_regions(lines) == regions


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_max_regions_rejects_anything_but_a_count(bad):
    with pytest.raises(ValueError, match="whole number"):
        multiclass.max_regions(bad)


def _grid(half=5.0, n=201):
    xx, yy = np.meshgrid(np.linspace(-half, half, n), np.linspace(-half, half, n))
    return np.column_stack([xx.ravel(), yy.ravel()])


def test_activation_patterns_of_two_crossing_lines_are_all_four():
    # Units "x0 > 0" and "x1 > 0": the four quadrants.
    patterns = multiclass.activation_patterns(np.eye(2), np.zeros(2), _grid())
    assert sorted(map(tuple, patterns.tolist())) == [
        (False, False),
        (False, True),
        (True, False),
        (True, True),
    ]


def test_activation_patterns_of_two_parallel_lines_miss_one():
    # Units "x0 > 0" and "x0 > 1": a point cannot have x0 > 1 without x0 > 0.
    W1, b1 = np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([0.0, -1.0])
    patterns = multiclass.activation_patterns(W1, b1, _grid())
    assert sorted(map(tuple, patterns.tolist())) == [(False, False), (True, False), (True, True)]


def test_activation_patterns_of_three_lines_stay_below_two_to_the_three():
    # x0 > 0, x1 > 0 and x0 + x1 < 1 (z = 1 - x0 - x1): seven regions; all three "on" is the
    # triangle inside, and "x0 <= 0, x1 <= 0, x0 + x1 >= 1" is impossible.
    W1, b1 = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]]), np.array([0.0, 0.0, 1.0])
    patterns = {tuple(p) for p in multiclass.activation_patterns(W1, b1, _grid()).tolist()}
    assert len(patterns) == multiclass.max_regions(3) == 7
    assert (False, False, False) not in patterns and (True, True, True) in patterns


def test_activation_patterns_reject_points_that_are_not_2d():
    with pytest.raises(ValueError, match=r"\(m, 2\)"):
        multiclass.activation_patterns(np.eye(2), np.zeros(2), np.zeros((5, 3)))
