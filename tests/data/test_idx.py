"""The IDX reader and writer: round trips, and refusals of anything malformed or oversized."""

from __future__ import annotations

import gzip
import re
import struct
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hpsearch.data import DatasetError, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=60, deadline=None)
@given(
    array=st.sampled_from(DTYPES).flatmap(
        lambda dtype: hnp.arrays(
            dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)
        )
    ),
    gz=st.booleans(),
)
def test_round_trip(array: np.ndarray, gz: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("a.idx.gz" if gz else "a.idx")
        write_idx(path, array)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
        back = read_idx(path)
    assert back.dtype == array.dtype and back.dtype.isnative
    assert back.shape == array.shape
    assert back.tobytes() == array.tobytes()  # bit-exact, NaNs included


def test_big_endian_layout(tmp_path: Path) -> None:
    path = tmp_path / "x.idx"
    write_idx(path, np.array([[1, 258]], dtype=np.int16))
    assert path.read_bytes() == bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 1, 2])


def test_write_refuses_unsupported_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dtype"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x", np.zeros((1, 1, 1, 1, 1), dtype=np.uint8))


def header(code: int, *dims: int, zero: bytes = b"\x00\x00") -> bytes:
    return zero + bytes([code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "header bytes"),
        (b"\x00\x00", "header bytes"),
        (header(0x08, 2, zero=b"\x01\x00") + b"ab", "magic"),
        (header(0x0A, 2) + b"ab", "dtype code 0x0a"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x05" + b"\x00" * 20, "5 dimensions"),
        (header(0x08, 2, 3)[:-2], "truncated IDX header"),
        (header(0x08, 2, 3) + b"abcde", "truncated"),
        (header(0x0C, 2) + b"abcdefg", "truncated"),
        (header(0x08, 2, 3) + b"abcdefg", "trailing bytes"),
        (header(0x08, 1_000_000, 1_000_000), "over the"),
    ],
)
def test_refuses_malformed(tmp_path: Path, content: bytes, problem: str, gz: bool) -> None:
    path = tmp_path / ("bad.gz" if gz else "bad")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DatasetError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("gz", [False, True])
def test_huge_declaration_refused_without_allocating(tmp_path: Path, gz: bool) -> None:
    """10**12 elements, or 10**9 (under the cap) in a tiny file: refused fast, in little memory."""
    for dims in [(10**6, 10**6), (1000, 1000, 1000)]:
        content = header(0x08, *dims) + b"x" * 100
        path = tmp_path / ("huge.gz" if gz else "huge")
        path.write_bytes(gzip.compress(content) if gz else content)
        tracemalloc.start()
        started = time.perf_counter()
        with pytest.raises(DatasetError, match=re.escape(str(path))):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert time.perf_counter() - started < 1.0
        assert peak < 16 * 1024**2


def test_corrupt_gzip_is_a_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(header(0x08, 4) + b"abcd")[:-6])  # cut inside the trailer
    with pytest.raises(DatasetError, match=re.escape(str(path))):
        read_idx(path)


def test_missing_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(
        [b"", header(0x08, 3), header(0x0D, 2, 2), b"\x00\x00\x0e", b"\x1f\x8b\x08"]
    ),
    tail=st.binary(max_size=64),
    gz=st.booleans(),
)
def test_fuzz_only_dataset_error_escapes(prefix: bytes, tail: bytes, gz: bool) -> None:
    content = prefix + tail
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz"
        path.write_bytes(gzip.compress(content) if gz else content)
        try:
            array = read_idx(path)
        except DatasetError as exc:
            assert str(path) in str(exc)
        else:
            assert 1 <= array.ndim <= 4
