"""Small synthetic datasets in the user's own formats: an IDX folder and an .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.data import write_idx


def images(n: int, shape: tuple[int, int], n_classes: int, seed: int) -> tuple[np.ndarray, ...]:
    """(n, h, w) uint8 images, one fixed blob pattern per class plus noise, and (n,) labels."""
    patterns = np.random.default_rng(0).random((n_classes, *shape)) > 0.6
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes  # every class present, in equal parts
    rng.shuffle(y)
    noisy = 0.65 * patterns[y] + 0.35 * rng.random((n, *shape))
    return (noisy * 255).astype(np.uint8), y.astype(np.uint8)


def idx_folder(folder: Path, shape: tuple[int, int], n_classes: int) -> Path:
    """A folder in MNIST's layout (gzipped): 240 training and 60 test images."""
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train = images(240, shape, n_classes, seed=1)
    x_test, y_test = images(60, shape, n_classes, seed=2)
    write_idx(folder / "train-images-idx3-ubyte.gz", x_train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", y_train)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x_test)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y_test)
    return folder


def npz_file(path: Path, shape: tuple[int, int], n_classes: int, **replace: np.ndarray) -> Path:
    """x_train, y_train, x_test, y_test (int64 labels) in one .npz; `replace` swaps arrays."""
    x_train, y_train = images(240, shape, n_classes, seed=1)
    x_test, y_test = images(60, shape, n_classes, seed=2)
    arrays = {"x_train": x_train, "y_train": y_train.astype(np.int64), "x_test": x_test,
              "y_test": y_test.astype(np.int64)}  # fmt: skip
    np.savez(path, **(arrays | replace))
    return path
