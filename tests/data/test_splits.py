"""Splits: validation carved from the training set (stratified, seeded), test set untouched."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hpsearch.data import Dataset, DatasetError, make_splits


def toy(n_train: int = 1000, n_test: int = 100) -> Dataset:
    """Row i of x_train holds i in its first column, so samples can be traced through splits."""
    rng = np.random.default_rng(0)
    y_train = rng.choice(4, size=n_train, p=[0.4, 0.3, 0.2, 0.1]).astype(np.int64)
    x_train = rng.random((n_train, 6), dtype=np.float32)
    x_train[:, 0] = np.arange(n_train)
    x_test = rng.random((n_test, 6), dtype=np.float32)
    y_test = rng.integers(0, 4, n_test)
    return Dataset("toy", x_train, y_train, x_test, y_test, n_classes=4, image_shape=(2, 3))


def ids(x: np.ndarray) -> np.ndarray:
    return x[:, 0].astype(np.int64)


def test_validation_is_stratified_disjoint_and_from_train() -> None:
    data = toy()
    splits = make_splits(data, val_fraction=0.2, seed=3)
    train, val = ids(splits.x_train), ids(splits.x_val)
    assert len(val) == 200 and len(train) == 800
    assert not set(train) & set(val) and set(train) | set(val) == set(range(1000))
    np.testing.assert_array_equal(splits.y_val, data.y_train[val])
    full = np.bincount(data.y_train, minlength=4)
    assert np.all(np.abs(np.bincount(splits.y_val, minlength=4) - 0.2 * full) <= 1)
    assert splits.input_dim == 6 and splits.n_classes == 4 and splits.image_shape == (2, 3)


def test_test_set_is_untouched() -> None:
    data = toy()
    splits = make_splits(data, seed=1, train_subset=50)
    assert splits.x_test is data.x_test and splits.y_test is data.y_test


def test_deterministic_per_seed() -> None:
    data = toy()
    a, b, c = (make_splits(data, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert not np.array_equal(ids(a.x_val), ids(c.x_val))


def test_train_subset_is_a_stratified_subset_of_the_training_part() -> None:
    data = toy()
    full = make_splits(data, seed=2)
    small = make_splits(data, seed=2, train_subset=100)
    np.testing.assert_array_equal(small.x_val, full.x_val)  # same validation set
    assert len(small.y_train) == 100
    assert set(ids(small.x_train)) <= set(ids(full.x_train))
    share = np.bincount(full.y_train, minlength=4) / len(full.y_train)
    assert np.all(np.abs(np.bincount(small.y_train, minlength=4) - 100 * share) <= 1)
    bigger = make_splits(data, seed=2, train_subset=10**6)  # more than there is: all of it
    np.testing.assert_array_equal(bigger.x_train, full.x_train)


def test_arrays_are_read_only() -> None:
    splits = make_splits(toy())
    with pytest.raises(ValueError, match="read-only"):
        splits.x_train[0, 0] = 1.0


def test_fingerprint_follows_the_data() -> None:
    data = toy()
    splits = make_splits(data)
    assert len(splits.fingerprint()) == 64
    assert splits.fingerprint() == make_splits(toy()).fingerprint()
    x_test = data.x_test.copy()
    x_test[3, 3] += 0.5
    changed = dataclasses.replace(splits, x_test=x_test)
    assert changed.fingerprint() != splits.fingerprint()
    relabelled = Dataset(
        "toy", data.x_train, (data.y_train + 1) % 4, data.x_test, data.y_test, 4, (2, 3)
    )
    assert make_splits(relabelled).fingerprint() != splits.fingerprint()


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_bad_fraction(fraction: float) -> None:
    with pytest.raises(DatasetError, match="val_fraction"):
        make_splits(toy(), val_fraction=fraction)


def test_bad_subset() -> None:
    with pytest.raises(DatasetError, match="train_subset"):
        make_splits(toy(), train_subset=0)
