"""Saving and loading models as weights.npz + architecture.json: no pickle, nothing trusted.

Loading validates in this order, so a crafted file can neither run code nor make us allocate
more than the (bounded) architecture asks for:
1. architecture.json: size-capped, parsed as JSON, validated and bounded by `Architecture`;
2. weights.npz: its member names must be exactly the architecture's parameters;
3. each member's .npy header (read with NumPy's header readers, before any data) must give
   the exact shape, dtype and C order the architecture implies;
4. only then are arrays read, with allow_pickle=False, to the end of each member (so the
   zip CRC is checked and trailing bytes are refused), and checked once more.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from hpsearch.limits import open_regular, read_regular
from hpsearch.nn._architecture import Architecture
from hpsearch.nn._errors import ModelFileError
from hpsearch.nn._model import MLP

WEIGHTS = "weights.npz"
ARCHITECTURE = "architecture.json"
FORMAT = "hpsearch.nn.mlp/1"
_MAX_JSON_BYTES = 64 * 1024
_MAX_NPY_HEADER = 10_000  # NumPy's own default limit for header parsing
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same weights -> same file bytes


def save_model(model: MLP, directory: Path) -> str:
    """Write weights.npz and architecture.json into `directory`; return `model_sha256` of them.

    Files are written under temporary names and renamed, so a crash never leaves half a model.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arch = {"format": FORMAT, **model.arch.to_dict()}
    _atomic_write(directory / ARCHITECTURE, lambda f: f.write(_json_bytes(arch)))
    _atomic_write(directory / WEIGHTS, lambda f: _write_npz(f, model.state_dict()))
    return model_sha256(directory)


def read_model_dir(directory: Path) -> MLP:
    """The model saved in `directory`; anything unexpected -> ModelFileError naming the file."""
    directory = Path(directory)
    arch = _read_architecture(directory / ARCHITECTURE)
    state = _read_weights(directory / WEIGHTS, arch)
    model = MLP(arch, np.random.default_rng(0))  # initial weights are overwritten just below
    model.load_state_dict(state)
    return model


def model_sha256(directory: Path) -> str:
    """sha256 hex digest of `directory`'s architecture.json and weights.npz together.

    The architecture is hashed too: the same weights under another activation are another model.
    Each file enters as its name, its length and its bytes, so no two pairs of files collide.
    """
    digest = hashlib.sha256(FORMAT.encode() + b"\0")
    for name in (ARCHITECTURE, WEIGHTS):
        path = Path(directory) / name
        digest.update(f"{name}\0{path.stat().st_size}\0".encode())
        _hash_file(path, digest)
    return digest.hexdigest()


def weights_sha256(directory: Path) -> str:
    """sha256 hex digest of `directory`/weights.npz alone: the checksum models logged before
    `model_sha256` existed, still accepted for them (their architecture.json is not covered)."""
    return _hash_file(Path(directory) / WEIGHTS, hashlib.sha256()).hexdigest()


def _hash_file(path: Path, digest: Any) -> Any:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest


def expected_arrays(arch: Architecture) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """name -> (shape, dtype) of every array a model of `arch` stores."""
    dtype = np.dtype(arch.dtype).newbyteorder("<")
    return {name: (shape, dtype) for name, shape in arch.shapes.items()}


def _json_bytes(d: dict) -> bytes:
    return (json.dumps(d, indent=2, sort_keys=True) + "\n").encode()


def _write_npz(f: IO[bytes], state: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in state.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array, array.dtype.newbyteorder("<")))


def _atomic_write(path: Path, write: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)  # type: ignore[operator]
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_architecture(path: Path) -> Architecture:
    raw = read_regular(path, "the model architecture", _MAX_JSON_BYTES, ModelFileError)
    try:
        d = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(d, dict) or d.pop("format", None) != FORMAT:
        raise ModelFileError(f"{path}: not an hpsearch model architecture (format {FORMAT})")
    try:
        return Architecture.from_dict(d)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None


def _read_weights(path: Path, arch: Architecture) -> dict[str, np.ndarray]:
    expected = expected_arrays(arch)
    # a FIFO or a device is refused, not waited on; compressed or not, the file holds no more
    # than the architecture's arrays
    limit = sum(math.prod(shape) * dtype.itemsize + 4096 for shape, dtype in expected.values())
    fd = open_regular(path, "the model weights", limit + 65536, ModelFileError)
    try:
        with os.fdopen(fd, "rb") as stream, zipfile.ZipFile(stream) as zf:
            _check_members(zf, expected)
            state = {name: _read_member(zf, name) for name in expected}
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except FileNotFoundError:
        raise ModelFileError(f"{path}: file not found") from None
    except Exception as exc:
        # Untrusted bytes: zipfile alone raises BadZipFile, OSError, EOFError, zlib.error,
        # NotImplementedError (unknown methods, patched data) and RuntimeError (encryption)
        # for corrupt input. Every one of them means "this file cannot be read".
        raise ModelFileError(f"{path}: unreadable weights ({type(exc).__name__}: {exc})") from None
    for name, array in state.items():
        _check_array(name, array.shape, array.dtype, array.flags.fortran, expected)
    return state


def _check_members(zf: zipfile.ZipFile, expected: dict) -> None:
    names = [info.filename for info in zf.infolist()]
    wanted = {f"{name}.npy" for name in expected}
    if len(names) != len(set(names)):
        raise ModelFileError("duplicate array names")
    if set(names) != wanted:
        missing = sorted(n.removesuffix(".npy") for n in wanted - set(names))
        extra = sorted(set(names) - wanted)
        raise ModelFileError(
            f"arrays do not match the architecture: missing {missing}, extra {extra}"
        )
    for info in zf.infolist():
        name = info.filename.removesuffix(".npy")
        with zf.open(info) as member:
            shape, fortran, dtype = _read_header(member, name)
        _check_array(name, shape, dtype, fortran, expected)


def _read_member(zf: zipfile.ZipFile, name: str) -> np.ndarray:
    """The array stored as `name`.npy, whose header has already been checked."""
    with zf.open(f"{name}.npy") as member:
        array = np.lib.format.read_array(
            member, allow_pickle=False, max_header_size=_MAX_NPY_HEADER
        )
        if member.read(1):
            raise ModelFileError(f"{name}: unexpected bytes after the array data")
    return array


def _read_header(member: IO[bytes], name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from a .npy header, reading no array data."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(member, max_header_size=_MAX_NPY_HEADER)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(member, max_header_size=_MAX_NPY_HEADER)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise ModelFileError(f"{name}: bad .npy header ({exc})") from None
    raise ModelFileError(f"{name}: unsupported .npy format version {version}")


def _check_array(
    name: str, shape: tuple[int, ...], dtype: np.dtype, fortran: bool, expected: dict
) -> None:
    want_shape, want_dtype = expected[name]
    if dtype.hasobject or dtype != want_dtype:
        raise ModelFileError(f"{name}: dtype {dtype} where the architecture says {want_dtype}")
    if tuple(shape) != want_shape:
        raise ModelFileError(
            f"{name}: shape {tuple(shape)} where the architecture says {want_shape}"
        )
    if fortran and len(want_shape) > 1:
        raise ModelFileError(f"{name}: Fortran-ordered array; expected C order")
