"""The real datasets: scikit-learn's digits, and Debian's Fashion-MNIST when installed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from conftest import require

from hpsearch.data import _dataset, load_dataset, load_splits

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def test_digits() -> None:
    data = load_dataset("digits")
    assert data.x_train.shape == (1438, 64) and data.x_test.shape == (359, 64)
    assert data.x_train.dtype == np.float32 and data.y_test.dtype == np.int64
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    assert data.image_shape == (8, 8) and data.n_classes == 10
    for labels in (data.y_train, data.y_test):
        assert set(np.unique(labels)) == set(range(10))
    assert load_dataset("digits") is data


def test_digits_are_scikit_learns_read_without_importing_it() -> None:
    from sklearn.datasets import load_digits

    pixels, labels = _dataset._digits_arrays()
    bunch = load_digits()
    assert np.array_equal(pixels, bunch.data) and np.array_equal(labels, bunch.target)
    code = "import sys; from hpsearch.data import load_dataset; load_dataset('digits'); "
    code += "print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # a second of every digits worker's start-up


def test_digits_splits() -> None:
    splits = load_splits("digits", seed=0)
    assert len(splits.y_val) == 144 and len(splits.y_train) == 1438 - 144
    assert splits.input_dim == 64
    assert load_splits("digits", seed=0) is splits  # repeated trials reuse them


def test_fashion_mnist_from_the_system_dir() -> None:
    require(FASHION_DIR.is_dir(), f"{FASHION_DIR} absent (Debian package dataset-fashion-mnist)")
    started = time.perf_counter()
    data = load_dataset("fashion-mnist", allow_download=False)
    cold = time.perf_counter() - started
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert data.y_train.shape == (60000,) and data.y_test.shape == (10000,)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(data.y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(data.y_test), [1000] * 10)

    _dataset.release_loaded()
    started = time.perf_counter()
    again = load_dataset("fashion-mnist", allow_download=False)
    warm = time.perf_counter() - started
    np.testing.assert_array_equal(again.x_train[::97], data.x_train[::97])
    assert warm < max(0.5, cold / 2), (cold, warm)

    splits = load_splits("fashion-mnist", allow_download=False)
    assert splits.x_train.shape == (54000, 784) and splits.x_val.shape == (6000, 784)
    np.testing.assert_array_equal(np.bincount(splits.y_val), [600] * 10)
