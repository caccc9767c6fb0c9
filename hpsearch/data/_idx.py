"""The IDX format of MNIST-like datasets (http://yann.lecun.com/exdb/mnist/), raw or gzipped.

Layout, all big-endian: two zero bytes, a dtype code, the number of dimensions, one uint32 per
dimension, then the payload in C order. The reader trusts nothing: it checks every header field,
refuses declared sizes above `MAX_PAYLOAD_BYTES` before reading the payload, and insists that the
payload is exactly as long as the header says (no truncation, no trailing bytes).
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hpsearch.data._errors import DatasetError
from hpsearch.limits import MAX_IDX_BYTES, open_regular

# IDX dtype codes -> big-endian NumPy dtypes.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
MAX_NDIM = 4
# Far above MNIST's 47 MB: only a crafted header declares more, and we refuse before allocating.
MAX_PAYLOAD_BYTES = MAX_IDX_BYTES
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 4 * 1024**2


def read_idx(path: Path, max_bytes: int = MAX_PAYLOAD_BYTES) -> np.ndarray:
    """Read an IDX file (gzipped or not, detected from its first bytes) into a native-endian array.

    Returns an array of the declared shape (1 to 4 dimensions, none of them zero) and dtype.
    Raises `DatasetError` naming the file for anything malformed, truncated, empty, declaring
    more than `max_bytes` (decompressed), followed by trailing bytes, or not a regular file.
    """
    path = Path(path)
    fd = open_regular(path, "IDX file", max_bytes + 4096, DatasetError)
    try:
        with os.fdopen(fd, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _parse(stream, path, None, max_bytes)  # type: ignore[arg-type]
            return _parse(raw, path, os.fstat(raw.fileno()).st_size, max_bytes)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DatasetError(f"{path}: cannot read IDX file: {exc}") from exc


def _parse(stream: BinaryIO, path: Path, file_size: int | None, max_bytes: int) -> np.ndarray:
    dtype, shape = _read_header(stream, path)
    header_bytes = 4 + 4 * len(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > max_bytes:
        raise DatasetError(
            f"{path}: IDX header declares shape {shape} ({nbytes} bytes), "
            f"over the {max_bytes} byte limit"
        )
    # Raw files: compare sizes before reading anything; gzip streams: a bounded read below.
    if file_size is not None and file_size != header_bytes + nbytes:
        _length_error(path, shape, nbytes, file_size - header_bytes)
    payload = _read_bounded(stream, nbytes + 1)
    if len(payload) != nbytes:
        _length_error(path, shape, nbytes, len(payload))
    array = np.frombuffer(payload, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _read_header(stream: BinaryIO, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    magic = stream.read(4)
    if len(magic) < 4:
        raise DatasetError(f"{path}: not an IDX file: only {len(magic)} header bytes")
    if magic[0] != 0 or magic[1] != 0:
        raise DatasetError(f"{path}: not an IDX file: magic {magic.hex()} must start with 0000")
    if magic[2] not in IDX_DTYPES:
        raise DatasetError(f"{path}: not an IDX file: unknown dtype code 0x{magic[2]:02x}")
    ndim = magic[3]
    if not 1 <= ndim <= MAX_NDIM:
        raise DatasetError(f"{path}: IDX header declares {ndim} dimensions, expected 1..{MAX_NDIM}")
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header: {ndim} dimensions declared")
    return IDX_DTYPES[magic[2]], struct.unpack(f">{ndim}I", dims)


def _read_bounded(stream: BinaryIO, limit: int) -> bytes | bytearray:
    """At most `limit` bytes, in chunks: memory grows with the data present, not as declared."""
    buffer = bytearray()
    while len(buffer) < limit:
        chunk = stream.read(min(_CHUNK, limit - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    return buffer


def _length_error(path: Path, shape: tuple[int, ...], expected: int, actual: int) -> None:
    problem = "truncated" if actual < expected else "trailing bytes after the payload"
    detail = f"{actual}" if actual < expected else "more"
    raise DatasetError(
        f"{path}: {problem}: header declares shape {shape} = {expected} payload bytes, "
        f"file has {detail}"
    )


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` (1 to 4 dimensions, dtype uint8/int8/int16/int32/float32/float64) as IDX.

    Gzipped when the name ends with `.gz` (with a fixed timestamp, so output is reproducible).
    """
    path = Path(path)
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        allowed = ", ".join(sorted(map(str, _CODES)))
        raise ValueError(f"IDX cannot hold dtype {array.dtype}; allowed: {allowed}")
    if not 1 <= array.ndim <= MAX_NDIM or any(n >= 2**32 for n in array.shape):
        raise ValueError(f"IDX holds 1..{MAX_NDIM} dimensions below 2**32, got {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if path.name.endswith(".gz"):
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as stream:
            stream.write(header + payload)
    else:
        path.write_bytes(header + payload)
