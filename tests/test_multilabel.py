"""Tests for lab_utils.multilabel: digit attributes, data split, thresholds, scores, widget."""

from __future__ import annotations

import numpy as np
import pytest

from lab_utils import multilabel

# By hand: (even, > 5, prime) for the digits 0-9.
ATTRIBUTES_BY_HAND = {
    0: (1, 0, 0),
    1: (0, 0, 0),
    2: (1, 0, 1),
    3: (0, 0, 1),
    4: (1, 0, 0),
    5: (0, 0, 1),
    6: (1, 1, 0),
    7: (0, 1, 1),
    8: (1, 1, 0),
    9: (0, 1, 0),
}


def test_digit_attributes_follow_the_even_greater_than_5_prime_rules():
    Y = multilabel.digit_attributes(np.arange(10))
    assert Y.tolist() == [list(ATTRIBUTES_BY_HAND[d]) for d in range(10)]


def test_digit_attributes_accept_a_column_and_reject_non_digits():
    assert multilabel.digit_attributes(np.array([[7], [1]])).tolist() == [[0, 1, 1], [0, 0, 0]]
    with pytest.raises(ValueError, match="0-9"):
        multilabel.digit_attributes(np.array([3, 10]))
    with pytest.raises(ValueError, match="integer"):
        multilabel.digit_attributes(np.array([0.5, 2.0]))


def _small_digits(m=100):
    rng = np.random.default_rng(0)
    return rng.random((m, 4)), np.arange(m) % 10


def test_make_digit_labels_gives_stated_shapes_and_consistent_labels():
    X, y = _small_digits()
    data = multilabel.make_digit_labels(X=X, y=y, test_fraction=0.2, seed=1)
    assert data.X_train.shape == (80, 4) and data.X_test.shape == (20, 4)
    assert data.y_train.shape == (80,) and data.Y_train.shape == (80, 3)
    for digit, row in zip(data.y_test, data.Y_test, strict=True):
        assert tuple(row) == ATTRIBUTES_BY_HAND[int(digit)]
    # Rows keep their pixels: each X row is found in the input with the same label.
    index = np.flatnonzero(np.all(np.isclose(X, data.X_train[0], atol=1e-6), axis=1))[0]
    assert y[index] == data.y_train[0]


def test_make_digit_labels_has_overlapping_labels():
    X, y = _small_digits()
    data = multilabel.make_digit_labels(X=X, y=y)
    counts = data.Y_train.sum(axis=1)
    assert (counts == 2).any() and (counts == 0).any()


def test_make_digit_labels_is_reproducible_with_a_seed():
    X, y = _small_digits()
    a = multilabel.make_digit_labels(X=X, y=y, seed=5)
    b = multilabel.make_digit_labels(X=X, y=y, seed=5)
    c = multilabel.make_digit_labels(X=X, y=y, seed=6)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_test, c.y_test)


def test_make_digit_labels_uses_the_course_digits_by_default():
    data = multilabel.make_digit_labels()
    assert data.X_train.shape == (4000, 400) and data.X_test.shape == (1000, 400)
    assert data.Y_test.shape == (1000, 3)
    assert data.X_val.shape == (0, 400)  # no validation set unless asked for
    assert data.label_names == ("even", "greater than 5", "prime")


def test_make_digit_labels_carves_validation_from_training_and_keeps_the_test_set():
    X, y = _small_digits()
    X[:, 0] = np.arange(len(X))  # tag each row so that the splits can be told apart
    plain = multilabel.make_digit_labels(X=X, y=y, test_fraction=0.2, seed=3)
    split = multilabel.make_digit_labels(
        X=X, y=y, test_fraction=0.2, validation_fraction=0.3, seed=3
    )
    assert (len(split.X_train), len(split.X_val), len(split.X_test)) == (50, 30, 20)
    np.testing.assert_array_equal(split.X_test, plain.X_test)
    ids = {
        name: set(getattr(split, f"X_{name}")[:, 0].tolist()) for name in ("train", "val", "test")
    }
    assert ids["val"] <= set(plain.X_train[:, 0].tolist())  # carved from the training data
    assert not ids["train"] & ids["val"] and not ids["val"] & ids["test"]
    assert len(ids["train"] | ids["val"] | ids["test"]) == len(X)
    for digit, row in zip(split.y_val, split.Y_val, strict=True):
        assert tuple(row) == ATTRIBUTES_BY_HAND[int(digit)]


@pytest.mark.parametrize("fraction", [-0.1, 0.8, 0.95])
def test_make_digit_labels_rejects_a_validation_fraction_that_leaves_no_training_data(fraction):
    X, y = _small_digits()
    with pytest.raises(ValueError, match="validation_fraction"):
        multilabel.make_digit_labels(X=X, y=y, test_fraction=0.2, validation_fraction=fraction)


def test_make_digit_labels_rejects_a_bad_test_fraction():
    X, y = _small_digits()
    with pytest.raises(ValueError, match="test_fraction"):
        multilabel.make_digit_labels(X=X, y=y, test_fraction=1.5)


def test_labels_from_probabilities_applies_one_or_per_label_thresholds():
    P = np.array([[0.9, 0.5, 0.2], [0.4, 0.6, 0.7]])
    assert multilabel.labels_from_probabilities(P).tolist() == [[1, 1, 0], [0, 1, 1]]
    assert multilabel.labels_from_probabilities(P, [0.3, 0.7, 0.1]).tolist() == [
        [1, 0, 1],
        [1, 0, 1],
    ]
    with pytest.raises(ValueError, match="one per label"):
        multilabel.labels_from_probabilities(P, [0.5, 0.5])


# Tiny example scored by hand at threshold 0.5:
# label 0: predicted yes on rows 0, 1 (true 1, 0) -> precision 1/2; true yes rows 0, 2 -> recall 1/2.
# label 1: predicted yes on row 2 (true 1) -> precision 1; true yes rows 2, 3 -> recall 1/2.
Y_TRUE = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
Y_PROB = np.array([[0.9, 0.1], [0.6, 0.2], [0.3, 0.8], [0.1, 0.45]])


def test_per_label_scores_match_hand_counts():
    scores = multilabel.per_label_scores(Y_TRUE, Y_PROB, 0.5)
    np.testing.assert_allclose(scores["precision"], [0.5, 1.0])
    np.testing.assert_allclose(scores["recall"], [0.5, 0.5])
    assert scores["support"].tolist() == [2, 2]
    # At 0.25, label 0 says yes on rows 0-2 (2 of 3 right), label 1 on rows 2-3 (both right).
    low = multilabel.per_label_scores(Y_TRUE, Y_PROB, 0.25)
    np.testing.assert_allclose(low["precision"], [2 / 3, 1.0])
    np.testing.assert_allclose(low["recall"], [1.0, 1.0])


def test_per_label_scores_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        multilabel.per_label_scores(Y_TRUE[:3], Y_PROB, 0.5)


def test_exact_match_rate_counts_only_whole_label_sets_that_are_right():
    # At 0.5 the predicted sets are [1, 0], [1, 0], [0, 1], [0, 0]: only row 0 matches Y_TRUE.
    assert multilabel.exact_match_rate(Y_TRUE, Y_PROB, 0.5) == 0.25
    # At 0.25: [1, 0], [1, 0], [1, 1], [0, 1]: rows 0, 2 and 3 match.
    assert multilabel.exact_match_rate(Y_TRUE, Y_PROB, 0.25) == 0.75
    with pytest.raises(ValueError, match="one shape"):
        multilabel.exact_match_rate(Y_TRUE[:3], Y_PROB)


def test_score_table_lists_each_label_with_its_numbers():
    table = multilabel.score_table(Y_TRUE, Y_PROB, 0.5, label_names=("car", "bus"))
    lines = table.splitlines()
    assert lines[0].split() == ["label", "precision", "recall", "support"]
    assert lines[1].split() == ["car", "0.500", "0.500", "2"]
    assert lines[2].split() == ["bus", "1.000", "0.500", "2"]
    with pytest.raises(ValueError, match="one name per label"):
        multilabel.score_table(Y_TRUE, Y_PROB, 0.5, label_names=("car",))


def test_plot_output_bars_draws_each_value_and_its_sum():
    sigmoid = np.array([0.9, 0.8, 0.1])
    softmax = np.array([0.5, 0.45, 0.05])
    ax = multilabel.plot_output_bars({"sigmoid": sigmoid, "softmax": softmax})
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [*sigmoid, *softmax])
    labels = ax.get_legend_handles_labels()[1]
    assert "sigmoid (sum 1.80)" in labels and "softmax (sum 1.00)" in labels
    with pytest.raises(ValueError, match="expected 3"):
        multilabel.plot_output_bars({"bad": [0.1, 0.2]})


def test_threshold_widget_updates_bars_and_table_when_slider_moves():
    explorer = multilabel.threshold_widget(Y_TRUE, Y_PROB, label_names=("car", "bus"))
    assert [b.get_height() for b in explorer.precision_bars] == pytest.approx([0.5, 1.0])
    assert "0.500" in explorer.text.value
    explorer.slider.value = 0.25
    assert [b.get_height() for b in explorer.precision_bars] == pytest.approx([2 / 3, 1.0])
    assert [b.get_height() for b in explorer.recall_bars] == pytest.approx([1.0, 1.0])
    assert "0.667" in explorer.text.value
    assert explorer.ax.get_title() == "threshold = 0.25"


def test_threshold_widget_says_which_set_it_scores():
    explorer = multilabel.threshold_widget(Y_TRUE, Y_PROB, label_names=("car", "bus"))
    assert explorer.ax.get_ylabel() == "score on the validation set"
    other = multilabel.threshold_widget(Y_TRUE, Y_PROB, label_names=("car", "bus"), set_name="test")
    assert other.ax.get_ylabel() == "score on the test set"


def test_threshold_widget_rejects_probabilities_of_the_wrong_width():
    with pytest.raises(ValueError, match="label columns"):
        multilabel.threshold_widget(Y_TRUE, Y_PROB)  # default names are three labels


def test_largest_threshold_for_recall_finds_the_edge_of_the_target():
    Y_true = np.array([[1], [1], [1], [1], [0]])
    Y_prob = np.array([[0.9], [0.8], [0.3], [0.2], [0.95]])
    # recall >= 0.75 needs three of the four positives: threshold <= 0.3
    assert multilabel.largest_threshold_for_recall(Y_true, Y_prob, 0, 0.75) == 0.3
    assert multilabel.largest_threshold_for_recall(Y_true, Y_prob, 0, 1.0) == 0.2


def test_check_recall_threshold_says_lower_larger_or_done():
    Y_true = np.array([[1], [1], [1], [1], [0]])
    Y_prob = np.array([[0.9], [0.8], [0.3], [0.2], [0.95]])
    assert "Not yet" in multilabel.check_recall_threshold(Y_true, Y_prob, 0, 0.5, target=0.75)
    assert "larger threshold" in multilabel.check_recall_threshold(Y_true, Y_prob, 0, 0.1, 0.75)
    assert "Well done" in multilabel.check_recall_threshold(Y_true, Y_prob, 0, 0.3, target=0.75)
