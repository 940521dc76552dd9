import matplotlib.pyplot as plt
import numpy as np
import pytest

from lab_utils import digits
from lab_utils.style import Palette


def _toy(m=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(m, 400))
    y = np.arange(m).reshape(-1, 1) % 10
    return X, y


def _titles(fig) -> dict[int, object]:
    """Return ``row of X -> title Text`` for every digit a grid figure shows."""
    return {
        int(t.get_gid().split(":")[1]): t
        for ax in fig.axes
        for t in ax.texts
        if (t.get_gid() or "").startswith("digit:")
    }


def test_plot_digit_grid_draws_one_titled_image_per_requested_digit():
    X, y = _toy()
    fig = digits.plot_digit_grid(X, y, num_images=6, ncols=3, seed=1)
    (ax,) = fig.axes
    assert len(ax.images) == 1  # one mosaic, not one Axes per digit
    titles = _titles(fig)
    assert len(titles) == 6
    assert all(t.get_text() == str(y[i, 0]) for i, t in titles.items())


def test_plot_digit_grid_shows_each_pixel_row_as_an_image_row():
    X = np.zeros((1, 400))
    X[0, :20] = 1.0  # first row of pixels lit
    fig = digits.plot_digit_grid(X, [3], num_images=1, ncols=1)
    shown = np.ma.filled(fig.axes[0].images[0].get_array(), np.nan)
    tile = shown[~np.isnan(shown).all(axis=1)]  # the rows that belong to the digit
    assert tile.shape == (20, 20)
    assert np.all(tile[0] == 1.0) and tile[1:].sum() == 0


def test_plot_digit_grid_marks_wrong_predictions_red():
    X, y = _toy(m=4)
    y_hat = y.ravel().copy()
    y_hat[0] = (y_hat[0] + 1) % 10
    fig = digits.plot_digit_grid(X, y, y_hat, num_images=4, ncols=4, seed=0)
    red = {
        i: t.get_text() for i, t in _titles(fig).items() if t.get_color() == Palette.DARK_RED.value
    }
    assert red == {0: f"{y[0, 0]},{y_hat[0]}"}


def test_plot_digit_grid_draws_on_a_given_figure():
    X, y = _toy()
    fig = plt.figure()
    assert digits.plot_digit_grid(X, y, fig=fig, num_images=4) is fig


def test_plot_digit_grid_rejects_images_of_the_wrong_size():
    with pytest.raises(ValueError, match="expected \\(m, 400\\)"):
        digits.plot_digit_grid(np.zeros((3, 10)), [1, 2, 3])


def test_misclassified_returns_indices_where_prediction_differs():
    assert digits.misclassified([[1], [2], [3]], [1, 0, 3]).tolist() == [1]


def test_plot_misclassified_draws_only_wrong_images():
    X, y = _toy(m=10)
    y_hat = y.ravel().copy()
    y_hat[[2, 5]] = 9 - y_hat[[2, 5]]
    fig = digits.plot_misclassified(X, y, y_hat)
    titles = {i: t.get_text() for i, t in _titles(fig).items()}
    assert titles == {2: f"{y[2, 0]},{y_hat[2]}", 5: f"{y[5, 0]},{y_hat[5]}"}


def test_plot_misclassified_samples_errors_from_all_of_the_data_and_says_how_many():
    X, y = _toy(m=100)
    y_hat = y.ravel().copy()
    wrong = np.arange(0, 100, 5)  # 20 errors spread over the whole (sorted) data
    y_hat[wrong] = (y_hat[wrong] + 1) % 10
    fig = digits.plot_misclassified(X, y, y_hat, seed=0)
    assert fig._suptitle.get_text().startswith("8 of 20 misclassified")
    rows = sorted(_titles(fig))
    assert len(rows) == 8 and set(rows) <= set(wrong)
    assert sorted(_titles(digits.plot_misclassified(X, y, y_hat, seed=0))) == rows
    picked = set()
    for seed in range(5):
        picked |= set(_titles(digits.plot_misclassified(X, y, y_hat, seed=seed)))
    assert max(picked) > wrong[7]  # not always the first eight errors


def test_plot_misclassified_says_so_when_all_are_right():
    X, y = _toy(m=3)
    fig = digits.plot_misclassified(X, y, y.ravel())
    assert "no misclassified" in fig.texts[0].get_text()


def test_plot_confusion_matrix_counts_label_prediction_pairs():
    y = [0, 0, 1, 2, 2, 2]
    y_hat = [0, 1, 1, 2, 2, 0]
    ax = digits.plot_confusion_matrix(y, y_hat, num_classes=3)
    counts = ax.images[0].get_array()
    # by hand: row = true label, column = prediction
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert [t.get_text() for t in ax.texts][:3] == ["1", "1", "0"]


def test_plot_confusion_matrix_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 labels but y_hat has 3"):
        digits.plot_confusion_matrix([0, 1], [0, 1, 1])


def test_plot_digit_draws_one_image_pixel_for_pixel_titled_with_its_label():
    x = np.zeros(400)
    x[:20] = 1.0  # the top row of pixels lit
    ax = digits.plot_digit(x, label=np.int64(2))
    (image,) = ax.images
    shown = image.get_array()
    assert shown.shape == (20, 20)
    assert np.all(shown[0] == 1.0) and shown[1:].sum() == 0
    assert image.get_interpolation() == "nearest"  # sharp pixels, not a blur
    assert image.get_clim() == (0.0, 1.0)
    assert ax.get_title() == "label: 2"
    width, height = ax.figure.get_size_inches()
    assert min(width, height) >= 2.5  # the grid's one-inch tiles were too small to read


def test_plot_digit_takes_a_square_image_and_a_given_axes():
    _, ax = plt.subplots()
    assert digits.plot_digit(np.eye(20), ax=ax) is ax
    assert ax.get_title() == "" and ax.get_xlabel() == "20 x 20 pixels"


def test_plot_digit_explains_that_it_wants_one_row_of_X():
    with pytest.raises(ValueError, match=r"800 values; expected 400: one image, a row of X"):
        digits.plot_digit(np.zeros((2, 400)))


def test_most_confused_lists_the_largest_mistakes_first():
    counts = np.array([[50, 3, 0], [7, 40, 1], [0, 3, 45]])
    # by hand: off the diagonal, 7 (1 -> 0), then the two 3s in row order, then 1 (1 -> 2)
    assert digits.most_confused(counts, top=3) == [(1, 0, 7), (0, 1, 3), (2, 1, 3)]
    assert digits.most_confused(counts, top=10) == [(1, 0, 7), (0, 1, 3), (2, 1, 3), (1, 2, 1)]
    assert counts[0, 0] == 50  # the caller's matrix keeps its diagonal


def test_most_confused_returns_nothing_when_there_are_no_mistakes():
    assert digits.most_confused(np.diag([5, 5, 5])) == []


@pytest.mark.parametrize("counts", [np.zeros((2, 3)), np.zeros(4)])
def test_most_confused_wants_a_square_confusion_matrix(counts):
    with pytest.raises(ValueError, match="expected a square confusion matrix"):
        digits.most_confused(counts)
