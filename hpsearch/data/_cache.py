"""Caches of parsed arrays: a small in-process LRU and `.npy` files in the user cache.

Parsing and scaling Fashion-MNIST's gzipped IDX files takes about half a second; memory-mapping
the finished float32/int64 arrays from `.npy` files takes milliseconds. An entry is keyed by the
source files' resolved paths, sizes and modification times: replacing a source invalidates it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.places import cache_root

_FORMAT = 1  # bump when the cached arrays change meaning


class LRU:
    """A tiny least-recently-used map; datasets are large, so keep only a few."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


def source_key(paths: Mapping[str, Path]) -> str:
    """A digest of the sources' identities (path, size, times, inode) and the cache format."""
    identity = []
    for key, path in sorted(paths.items()):
        stat = path.stat()
        times = [stat.st_mtime_ns, stat.st_ctime_ns]
        identity.append([key, str(path.resolve()), stat.st_size, stat.st_ino, *times])
    text = json.dumps([_FORMAT, identity])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _parsed_dir(name: str, key: str) -> Path:
    return cache_root() / "parsed" / f"{name}-{key}"


def load_parsed(name: str, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The cached arrays, memory-mapped read-only, or None when absent or unreadable.

    Mapping costs no copy, and worker processes on one machine share the pages. Never unpickled.
    """
    directory = _parsed_dir(name, key)
    if not directory.is_dir():
        return None
    try:
        return {
            array_name: np.asarray(
                np.load(directory / f"{array_name}.npy", mmap_mode="r", allow_pickle=False)
            )
            for array_name in names
        }
    except (OSError, ValueError, EOFError):
        return None


def store_parsed(name: str, key: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write the arrays atomically (a directory renamed into place), drop older entries of `name`.

    Best effort: a read-only or full cache only costs speed.
    """
    directory = _parsed_dir(name, key)
    partial = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}.part")
    try:
        partial.mkdir(parents=True)
        for array_name, array in arrays.items():
            np.save(partial / f"{array_name}.npy", array, allow_pickle=False)
        os.replace(partial, directory)  # fails if another process got there first: fine
        for stale in directory.parent.glob(f"{name}-*"):
            if stale != directory and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
    except OSError:
        pass
    finally:
        shutil.rmtree(partial, ignore_errors=True)
