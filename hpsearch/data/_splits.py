"""Train/validation/test splits: validation is carved from the training set, never the test set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import numpy as np

from hpsearch.data import _dataset
from hpsearch.data._cache import LRU
from hpsearch.data._dataset import Dataset, load_dataset
from hpsearch.data._errors import DatasetError
from hpsearch.data._stratify import stratified_take

_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
_MEMORY = LRU(maxsize=4)  # trials in one worker reuse the same splits (and their fingerprint)


@dataclass(frozen=True, eq=False)
class Splits:
    """What a trial trains on. Arrays are read-only; rows of x are flattened images."""

    name: str
    x_train: np.ndarray  # (N_train, D) float32 in [0, 1]
    y_train: np.ndarray  # (N_train,) int64
    x_val: np.ndarray  # (N_val, D) float32, carved from the official training set
    y_val: np.ndarray  # (N_val,) int64
    x_test: np.ndarray  # (N_test, D) float32: the official test set, untouched
    y_test: np.ndarray  # (N_test,) int64
    n_classes: int
    image_shape: tuple[int, int]
    source: str = ""  # the dataset's (hpsearch.data.Dataset.source)

    @property
    def input_dim(self) -> int:
        return int(self.x_train.shape[1])

    def fingerprint(self) -> str:
        """SHA-256 over the six arrays (name, dtype, shape and bytes of each), computed once."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        # cached_property writes the instance __dict__ directly, which a frozen dataclass allows.
        digest = hashlib.sha256()
        for name in _ARRAYS:
            array = np.ascontiguousarray(getattr(self, name))
            digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
            digest.update(array.data)
        return digest.hexdigest()


def make_splits(
    dataset: Dataset, *, val_fraction: float = 0.1, train_subset: int | None = None, seed: int = 0
) -> Splits:
    """Carve a stratified validation set (`val_fraction` of the training set) with `seed`.

    `train_subset` keeps a stratified subset of that many samples of the remaining training part
    (all of it when it has fewer). The test set is passed through unchanged.
    """
    n = len(dataset.y_train)
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"{dataset.name}: val_fraction must be in (0, 1), got {val_fraction}")
    n_val = min(max(round(val_fraction * n), 1), n - 1)
    if n_val < 1:
        raise DatasetError(f"{dataset.name}: {n} training samples are too few to split")
    rng = np.random.default_rng(seed)
    val, train = stratified_take(dataset.y_train, n_val, rng)
    if train_subset is not None:
        if train_subset < 1:
            raise DatasetError(f"{dataset.name}: train_subset must be >= 1, got {train_subset}")
        if train_subset < len(train):
            kept, _ = stratified_take(dataset.y_train[train], train_subset, rng)
            train = train[kept]
    splits = Splits(
        name=dataset.name,
        x_train=dataset.x_train[train],
        y_train=dataset.y_train[train],
        x_val=dataset.x_train[val],
        y_val=dataset.y_train[val],
        x_test=dataset.x_test,
        y_test=dataset.y_test,
        n_classes=dataset.n_classes,
        image_shape=dataset.image_shape,
        source=dataset.source,
    )
    for field in fields(splits):
        value = getattr(splits, field.name)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return splits


def release_loaded() -> None:
    """Forget the splits and datasets kept in memory (a process that only checked one needs
    none)."""
    _MEMORY.clear()
    _dataset.release_loaded()


def load_splits(
    name: str,
    *,
    data_dir: Path | None = None,
    val_fraction: float = 0.1,
    train_subset: int | None = None,
    seed: int = 0,
    allow_download: bool = True,
) -> Splits:
    """`make_splits(load_dataset(name, ...), ...)`, remembered for repeated calls in one process."""
    dataset = load_dataset(name, data_dir, allow_download=allow_download)
    key = (id(dataset), val_fraction, train_subset, seed)
    cached = _MEMORY.get(key)
    if cached is not None and cached[0] is dataset:
        return cached[1]
    splits = make_splits(dataset, val_fraction=val_fraction, train_subset=train_subset, seed=seed)
    _MEMORY.put(key, (dataset, splits))  # holding the dataset keeps its id from being reused
    return splits
