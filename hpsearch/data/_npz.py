"""A user's dataset as one .npz file: x_train, y_train, x_test, y_test; nothing in it is trusted.

Order of checks, so a hostile file can neither run code nor make us allocate what it declares:
1. the file is a zip holding the four members (`np.load(..., allow_pickle=False)`);
2. each member's .npy header (NumPy's header readers, no array data read) must give an
   integer or float dtype (no objects, no records), the expected number of dimensions, and a
   size under `MAX_ARRAY_BYTES` and no larger than the member itself;
3. images and labels must agree on N, train and test on h x w;
4. only then are the arrays read, with allow_pickle=False, and their values checked.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from hpsearch.data._checks import check_labels
from hpsearch.data._errors import DatasetError

MEMBERS = ("x_train", "y_train", "x_test", "y_test")
MAX_ARRAY_BYTES = 2 * 1024**3  # as the IDX reader: far above Fashion-MNIST's 47 MB
_MAX_HEADER = 10_000  # NumPy's own default limit for header parsing
_NDIM = {"x": 3, "y": 1}  # images (N, h, w), labels (N,)


def read_npz(path: Path) -> tuple[dict[str, np.ndarray], int]:
    """(the four arrays of `path`, checked; the number of classes). Labels are read and their
    range checked before the images are; DatasetError naming the file for anything else."""
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile) or npz.zip is None:
            raise DatasetError("a single .npy array; expected an .npz archive")
        with npz:
            headers = {name: _header(npz.zip, name) for name in MEMBERS}
            _check_shapes(headers)
            arrays = {name: npz[name] for name in ("y_train", "y_test")}
            n_classes = check_labels(arrays)
            arrays |= {name: npz[name] for name in ("x_train", "x_test")}
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    except Exception as exc:  # corrupt input: BadZipFile, OSError, EOFError, ValueError, ...
        raise DatasetError(f"{path}: unreadable .npz ({type(exc).__name__}: {exc})") from None
    return arrays, n_classes


def _header(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of member `name`.npy from its header alone, bounds checked."""
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        present = sorted(n.removesuffix(".npy") for n in archive.namelist())
        raise DatasetError(f"no array {name!r} (has {present}); needs {list(MEMBERS)}") from None
    with archive.open(info) as member:
        shape, fortran, dtype = _read_header(member, name)
    if dtype.hasobject or dtype.kind not in ("u", "i", "f") or dtype.fields is not None:
        raise DatasetError(f"{name}: dtype {dtype} refused; expected integers or floats")
    if len(shape) != _NDIM[name[0]]:
        want = "(N, h, w) images" if name[0] == "x" else "(N,) labels"
        raise DatasetError(f"{name}: shape {tuple(shape)}; expected {want}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES or nbytes > info.file_size:
        raise DatasetError(
            f"{name}: header declares shape {tuple(shape)} ({nbytes} bytes) but the member "
            f"holds {info.file_size} bytes (limit {MAX_ARRAY_BYTES}); refused before reading"
        )
    if fortran and len(shape) > 1:
        raise DatasetError(f"{name}: Fortran-ordered array; expected C order")
    return tuple(shape), dtype


def _read_header(member: IO[bytes], name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(member, max_header_size=_MAX_HEADER)
        if version in ((2, 0), (3, 0)):
            return np.lib.format.read_array_header_2_0(member, max_header_size=_MAX_HEADER)
    except (ValueError, TypeError, SyntaxError, EOFError) as exc:
        raise DatasetError(f"{name}: bad .npy header ({exc})") from None
    raise DatasetError(f"{name}: unsupported .npy format version {version}")


def _check_shapes(headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    for part in ("train", "test"):
        (images, _), (labels, _) = headers[f"x_{part}"], headers[f"y_{part}"]
        if labels[0] != images[0]:
            raise DatasetError(f"y_{part}: {labels[0]} labels for {images[0]} images in x_{part}")
        if images[0] < 1:
            raise DatasetError(f"x_{part}: no images")
    if headers["x_train"][0][1:] != headers["x_test"][0][1:]:
        raise DatasetError(
            f"x_train images are {headers['x_train'][0][1:]} but x_test are "
            f"{headers['x_test'][0][1:]}: one image size for both"
        )
    if headers["y_train"][1].kind == "f" or headers["y_test"][1].kind == "f":
        raise DatasetError("labels must be integers, got floats")
