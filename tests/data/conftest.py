"""Fixtures of the data tests: a private user cache and tiny synthetic IDX datasets."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import _dataset, _registry, _splits, write_idx
from hpsearch.data._registry import IDX_FILES


@pytest.fixture(autouse=True)
def isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private user cache, no $HPSEARCH_DATA_DIR, empty in-process caches. Yields the cache."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("HPSEARCH_DATA_DIR", raising=False)
    _dataset.release_loaded()
    _splits._MEMORY.clear()
    yield cache / "hpsearch"
    _dataset.release_loaded()
    _splits._MEMORY.clear()


@pytest.fixture
def fake_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point `mnist`'s system dir at an empty folder, its mirrors nowhere; return that folder."""
    system = tmp_path / "system-mnist"
    spec = dataclasses.replace(_registry.IDX_DATASETS["mnist"], system_dirs=(system,), mirrors=())
    monkeypatch.setitem(_registry.IDX_DATASETS, "mnist", spec)
    return system


WriteDataset = Callable[..., Path]


@pytest.fixture
def write_dataset() -> WriteDataset:
    """write_dataset(directory, marker=0, n_train=40, n_test=20, gz=True) -> directory.

    Four IDX files of a tiny 28x28, 10-class dataset; the first pixel of the first training
    image is `marker`, so tests can tell which source was loaded.
    """

    def write(
        directory: Path, marker: int = 0, n_train: int = 40, n_test: int = 20, gz: bool = True
    ) -> Path:
        rng = np.random.default_rng(marker)
        arrays = {
            "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "y_train": (np.arange(n_train) % 10).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "y_test": (np.arange(n_test) % 10).astype(np.uint8),
        }
        arrays["x_train"][0, 0, 0] = marker
        directory.mkdir(parents=True, exist_ok=True)
        for key, stem in IDX_FILES.items():
            write_idx(directory / (f"{stem}.gz" if gz else stem), arrays[key])
        return directory

    return write
