"""The user's own dataset: a path to a folder of IDX files in the MNIST layout, or to an .npz.

A folder holds one file per part, raw or .gz, named as MNIST's (`train-images-idx3-ubyte`,
`train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`) or with a
prefix and `test` for `t10k` (EMNIST's `emnist-digits-test-images-idx3-ubyte.gz`). An .npz
holds x_train, y_train, x_test, y_test (hpsearch.data._npz). Images are (N, h, w) of any size,
uint8 or floats in [0, 1]; labels are integers 0..K-1 with 2 <= K <= 1000.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.data._cache import LRU, source_key
from hpsearch.data._checks import check_labels, pixels
from hpsearch.data._dataset import Dataset, _frozen
from hpsearch.data._errors import DatasetError
from hpsearch.data._idx import read_idx
from hpsearch.data._npz import read_npz
from hpsearch.data._registry import DATASET_NAMES

_MEMORY = LRU(maxsize=2)
# part -> the endings its file may have (after an optional prefix such as "emnist-digits-")
_IDX_ENDINGS = {
    "x_train": ("train-images-idx3-ubyte",),
    "y_train": ("train-labels-idx1-ubyte",),
    "x_test": ("t10k-images-idx3-ubyte", "test-images-idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "test-labels-idx1-ubyte"),
}


def is_user_source(name: str) -> bool:
    """A path rather than a built-in name: it has a '/' or ends with .npz."""
    return name not in DATASET_NAMES and ("/" in name or name.endswith(".npz"))


def load_user_dataset(name: str) -> Dataset:
    """The dataset at path `name` (relative to the current folder), checked, read-only."""
    path = Path(name).expanduser()
    if path.is_dir():
        files = idx_files(path)
    elif path.is_file() and path.suffix == ".npz":
        files = {"npz": path}
    else:
        kind = "no such file or folder" if not path.exists() else "not a folder or an .npz file"
        raise DatasetError(f"{path}: {kind} (a dataset path is an IDX folder or an .npz)")
    key = source_key(files)
    dataset = _MEMORY.get(key)
    if dataset is None:
        dataset = _from_npz(path) if "npz" in files else _from_idx(path, files)
        _MEMORY.put(key, dataset)
    return dataset


def idx_files(folder: Path) -> dict[str, Path]:
    """The folder's four IDX files by part; DatasetError unless each part has exactly one."""
    found: dict[str, Path] = {}
    for part, endings in _IDX_ENDINGS.items():
        matches = [
            p for p in sorted(folder.iterdir())
            if p.is_file() and p.name.removesuffix(".gz").endswith(endings)
        ]  # fmt: skip
        if len(matches) != 1:
            what = "no file" if not matches else f"{len(matches)} files"
            raise DatasetError(
                f"{folder}: {what} for {part} (expected one named like {endings[0]}[.gz])"
            )
        found[part] = matches[0]
    return found


def _from_idx(folder: Path, files: dict[str, Path]) -> Dataset:
    arrays = {part: read_idx(path) for part, path in files.items()}
    for part, array in arrays.items():
        want = 3 if part.startswith("x") else 1
        if array.ndim != want:
            shape = "(N, h, w) images" if want == 3 else "(N,) labels"
            raise DatasetError(f"{files[part]}: shape {array.shape}; expected {shape}")
    _same_sizes(arrays, str(folder))
    try:
        n_classes = check_labels({"y_train": arrays["y_train"], "y_test": arrays["y_test"]})
    except DatasetError as exc:
        raise DatasetError(f"{folder}: {exc}") from None
    return _dataset(folder.resolve().name, folder, arrays, n_classes)


def _from_npz(path: Path) -> Dataset:
    arrays, n_classes = read_npz(path)
    return _dataset(path.stem, path, arrays, n_classes)


def _same_sizes(arrays: dict[str, np.ndarray], where: str) -> None:
    for part in ("train", "test"):
        if len(arrays[f"x_{part}"]) != len(arrays[f"y_{part}"]):
            raise DatasetError(f"{where}: x_{part} and y_{part} have different lengths")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DatasetError(f"{where}: train and test images differ in size")


def _dataset(label: str, path: Path, arrays: dict[str, np.ndarray], n_classes: int) -> Dataset:
    try:
        x = {part: pixels(arrays[part], part) for part in ("x_train", "x_test")}
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    height, width = arrays["x_train"].shape[1:]
    return _frozen(
        Dataset(
            name=label,
            x_train=x["x_train"],
            y_train=arrays["y_train"].astype(np.int64),
            x_test=x["x_test"],
            y_test=arrays["y_test"].astype(np.int64),
            n_classes=n_classes,
            image_shape=(int(height), int(width)),
            source=path.resolve().as_uri(),
        )
    )
