"""Named datasets as arrays: pixels float32 in [0, 1], flattened; labels int64."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpsearch.data._cache import LRU, load_parsed, source_key, store_parsed
from hpsearch.data._errors import DatasetError
from hpsearch.data._idx import read_idx
from hpsearch.data._registry import (
    DATASET_NAMES,
    DIGITS_CLASSES,
    DIGITS_IMAGE_SHAPE,
    IDX_DATASETS,
    IdxSpec,
)
from hpsearch.data._sources import locate
from hpsearch.data._stratify import stratified_take

_MEMORY = LRU(maxsize=2)  # Fashion-MNIST as float32 is about 220 MB
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")  # field order of Dataset
_DIGITS_TEST_FRACTION = 0.2  # scikit-learn's digits has no official test set
_DIGITS_SPLIT_SEED = 20240101  # fixed forever: the digits test set must never move
DIGITS_SOURCE = "sklearn.datasets.load_digits"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset's official train and test parts. The arrays are read-only (they are shared)."""

    name: str
    x_train: np.ndarray  # (N_train, H*W) float32 in [0, 1]
    y_train: np.ndarray  # (N_train,) int64 in [0, n_classes)
    x_test: np.ndarray  # (N_test, H*W) float32 in [0, 1]
    y_test: np.ndarray  # (N_test,) int64
    n_classes: int
    image_shape: tuple[int, int]
    source: str = ""  # where it came from: a file:// URI, or the loader of a bundled set

    @property
    def input_dim(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


def load_dataset(
    name: str, data_dir: Path | None = None, *, allow_download: bool = True
) -> Dataset:
    """Load a named dataset (one of `DATASET_NAMES`) from the first source that has it, or the
    user's own: a path to a folder of IDX files or to an .npz (see hpsearch.data._user).

    Sources: `data_dir`, `$HPSEARCH_DATA_DIR`, the user cache, system dirs, then the mirrors
    (when `allow_download`). `digits` is bundled with scikit-learn and ignores `data_dir`.
    """
    from hpsearch.data import _user  # it builds a Dataset: imported here, not at the top

    if _user.is_user_source(name):
        return _user.load_user_dataset(name)
    if name == "digits":
        return _digits()
    spec = IDX_DATASETS.get(name)
    if spec is None:
        raise DatasetError(f"unknown dataset {name!r}; allowed: {', '.join(DATASET_NAMES)}")
    paths = locate(spec, data_dir, allow_download=allow_download)
    key = source_key(paths)
    dataset = _MEMORY.get((name, key))
    if dataset is None:
        source = paths["x_train"].resolve().parent.as_uri()
        dataset = _from_cache(spec, key, source) or _from_sources(spec, paths, key, source)
        _MEMORY.put((name, key), dataset)
    return dataset


def release_loaded() -> None:
    """Forget the datasets kept in memory (a process that only checked one needs none)."""
    _MEMORY.clear()


def _from_cache(spec: IdxSpec, key: str, source: str) -> Dataset | None:
    arrays = load_parsed(spec.name, key, _ARRAYS)
    if arrays is None:
        return None
    dataset = Dataset(spec.name, **arrays, n_classes=spec.n_classes,
                      image_shape=spec.image_shape, source=source)  # fmt: skip
    return _frozen(dataset) if _well_formed(dataset) else None


def _well_formed(dataset: Dataset) -> bool:
    """Cheap checks of a cache entry: dtypes and shapes (values were checked when it was made)."""
    return all(
        x.dtype == np.float32
        and y.dtype == np.int64
        and x.shape == (len(y), dataset.input_dim)
        and y.shape == (len(y),)
        for x, y in ((dataset.x_train, dataset.y_train), (dataset.x_test, dataset.y_test))
    )


def _from_sources(spec: IdxSpec, paths: Mapping[str, Path], key: str, source: str) -> Dataset:
    arrays = {array_name: read_idx(paths[array_name]) for array_name in _ARRAYS}
    _check(spec, arrays, paths)
    dataset = dataclasses.replace(_from_uint8(spec, arrays), source=source)
    store_parsed(spec.name, key, {name: getattr(dataset, name) for name in _ARRAYS})
    return dataset


def _check(spec: IdxSpec, arrays: Mapping[str, np.ndarray], paths: Mapping[str, Path]) -> None:
    """Images uint8 (N, H, W) of the spec's size; labels uint8 (N,) below n_classes."""
    for part in ("train", "test"):
        images, labels = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if images.size == 0:  # an empty part cannot be split, trained on or tested
            raise DatasetError(f"{paths[f'x_{part}']}: holds no images, shape {images.shape}")
        if images.dtype != np.uint8 or images.shape[1:] != spec.image_shape:
            raise DatasetError(
                f"{paths[f'x_{part}']}: expected uint8 images of shape (N, "
                f"{spec.image_shape[0]}, {spec.image_shape[1]}), got {images.dtype} {images.shape}"
            )
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise DatasetError(
                f"{paths[f'y_{part}']}: expected {images.shape[0]} uint8 labels (one per image), "
                f"got {labels.dtype} {labels.shape}"
            )
        if labels.size and int(labels.max()) >= spec.n_classes:
            raise DatasetError(
                f"{paths[f'y_{part}']}: label {int(labels.max())} is not below {spec.n_classes}"
            )


def _from_uint8(spec: IdxSpec, arrays: Mapping[str, np.ndarray]) -> Dataset:
    def pixels(images: np.ndarray) -> np.ndarray:  # (N, H, W) uint8 -> (N, H*W) float32
        flat = images.reshape(len(images), -1).astype(np.float32)
        flat /= np.float32(255)  # in place: 10x faster than a mixed-dtype divide
        return flat

    return _frozen(
        Dataset(
            name=spec.name,
            x_train=pixels(arrays["x_train"]),
            y_train=arrays["y_train"].astype(np.int64),
            x_test=pixels(arrays["x_test"]),
            y_test=arrays["y_test"].astype(np.int64),
            n_classes=spec.n_classes,
            image_shape=spec.image_shape,
        )
    )


@functools.cache
def _digits() -> Dataset:
    """scikit-learn's 1797 8x8 digits (values 0..16), with a fixed stratified 20% test set."""
    pixels, labels = _digits_arrays()
    x = np.divide(pixels, 16.0).astype(np.float32)  # (1797, 64)
    y = np.asarray(labels, dtype=np.int64)  # (1797,)
    rng = np.random.default_rng(_DIGITS_SPLIT_SEED)
    test, train = stratified_take(y, round(_DIGITS_TEST_FRACTION * len(y)), rng)
    dataset = Dataset("digits", x[train], y[train], x[test], y[test], DIGITS_CLASSES,
                      DIGITS_IMAGE_SHAPE, DIGITS_SOURCE)  # fmt: skip
    return _frozen(dataset)


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The digits' pixels and labels, read from the CSV scikit-learn ships, as load_digits
    reads it, without importing scikit-learn (a second of every worker's and `best`'s start-up:
    it imports SciPy). Where that file is not found, load_digits itself."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    origin = spec.origin if spec is not None else None
    csv = Path(origin).parent / "datasets/data/digits.csv.gz" if origin else None
    if csv is None or not csv.is_file():
        from sklearn.datasets import load_digits  # imported late: slow to import (see above)

        bunch = load_digits()
        return bunch.data, bunch.target
    table = np.loadtxt(csv, delimiter=",")  # 64 pixel columns, then the label
    return table[:, :-1], table[:, -1].astype(np.int64)


def _frozen(dataset: Dataset) -> Dataset:
    # Shared by every caller (and cached): nobody may change them in place.
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        array.flags.writeable = False
    return dataset
