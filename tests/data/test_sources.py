"""Where datasets come from: the order of sources, verified downloads, and the offline error."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import DatasetError, load_dataset
from hpsearch.data import _registry as registry
from hpsearch.data._registry import IDX_FILES
from hpsearch.data._sources import dataset_cache_dir


def marker(x_train: np.ndarray) -> int:
    """The value `write_dataset` put in the first pixel (pixels are scaled by 1/255)."""
    return round(float(x_train[0, 0]) * 255)


def test_explicit_dir_beats_env_beats_cache_beats_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: Path, write_dataset: Callable
) -> None:
    explicit = write_dataset(tmp_path / "explicit", marker=1)
    env_root = tmp_path / "env"
    write_dataset(env_root / "mnist", marker=2)  # ROOT/NAME: one root for several datasets
    write_dataset(dataset_cache_dir("mnist"), marker=3)
    write_dataset(fake_mnist, marker=4)
    monkeypatch.setenv("HPSEARCH_DATA_DIR", str(env_root))

    assert marker(load_dataset("mnist", explicit).x_train) == 1
    assert marker(load_dataset("mnist").x_train) == 2
    monkeypatch.delenv("HPSEARCH_DATA_DIR")
    assert marker(load_dataset("mnist").x_train) == 3
    for path in dataset_cache_dir("mnist").iterdir():
        path.unlink()
    assert marker(load_dataset("mnist").x_train) == 4


def test_env_dir_without_the_files_falls_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_mnist: Path, write_dataset: Callable
) -> None:
    monkeypatch.setenv("HPSEARCH_DATA_DIR", str(tmp_path / "empty"))
    write_dataset(fake_mnist, marker=4, gz=False)  # raw IDX files work as well
    assert marker(load_dataset("mnist", allow_download=False).x_train) == 4


def test_explicit_dir_must_hold_the_files(
    tmp_path: Path, fake_mnist: Path, write_dataset: Callable
) -> None:
    write_dataset(fake_mnist, marker=4)
    partial = write_dataset(tmp_path / "partial", marker=1)
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"partial lacks t10k-labels-idx1-ubyte"):
        load_dataset("mnist", partial)


def test_dataset_shapes_and_ranges(tmp_path: Path, write_dataset: Callable) -> None:
    data = load_dataset("mnist", write_dataset(tmp_path / "d", n_train=40, n_test=20))
    assert data.x_train.shape == (40, 784) and data.x_test.shape == (20, 784)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert data.n_classes == 10 and data.image_shape == (28, 28)
    assert not data.x_train.flags.writeable  # shared through the caches


def test_bad_labels_name_the_file(tmp_path: Path, write_dataset: Callable) -> None:
    from hpsearch.data import write_idx

    directory = write_dataset(tmp_path / "d")
    write_idx(directory / "train-labels-idx1-ubyte.gz", np.full(40, 10, dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte\.gz: label 10"):
        load_dataset("mnist", directory)


def test_unknown_name_lists_the_allowed_ones() -> None:
    with pytest.raises(DatasetError, match="digits, mnist, fashion-mnist"):
        load_dataset("cifar")


def test_offline_error_names_files_and_places(fake_mnist: Path) -> None:
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", allow_download=False)
    message = str(info.value)
    assert "\n" not in message
    for stem in IDX_FILES.values():
        assert stem in message
    assert str(dataset_cache_dir("mnist")) in message and str(fake_mnist) in message
    assert "--data-dir" in message and "downloading is disabled" in message


def test_parsed_cache_is_used_and_survives_damage(
    tmp_path: Path, isolated_data: Path, write_dataset: Callable
) -> None:
    from hpsearch.data import _dataset

    directory = write_dataset(tmp_path / "d", marker=7)
    first = load_dataset("mnist", directory)
    assert load_dataset("mnist", directory) is first  # in-process
    entries = list((isolated_data / "parsed").iterdir())
    assert len(entries) == 1
    _dataset.release_loaded()
    again = load_dataset("mnist", directory)  # from the .npy files
    assert again is not first and np.array_equal(again.x_train, first.x_train)
    (entries[0] / "x_train.npy").write_bytes(b"garbage")
    _dataset.release_loaded()
    assert np.array_equal(load_dataset("mnist", directory).x_train, first.x_train)
    write_dataset(directory, marker=8)  # new sources: a new entry, the old one dropped
    for path in directory.iterdir():
        os.utime(path, ns=(10**18, 10**18))  # a new mtime even within the clock's tick
    assert marker(load_dataset("mnist", directory).x_train) == 8
    assert len(list((isolated_data / "parsed").iterdir())) == 1


# --- downloads, from a local HTTP server (tests never touch the network) ---


@pytest.fixture
def mirror(tmp_path: Path, write_dataset: Callable) -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, sha256 per .gz file) of a tiny dataset served on 127.0.0.1."""
    served = write_dataset(tmp_path / "served", marker=9)
    digests = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in served.iterdir()
    }

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", digests
    finally:
        server.shutdown()
        server.server_close()


def use_mirrors(
    monkeypatch: pytest.MonkeyPatch, system: Path, mirrors: tuple[str, ...], sha256: dict[str, str]
) -> None:
    spec = dataclasses.replace(
        registry.IDX_DATASETS["mnist"], system_dirs=(system,), mirrors=mirrors, sha256=sha256
    )
    monkeypatch.setitem(registry.IDX_DATASETS, "mnist", spec)


def test_download_verifies_and_fills_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mirror: tuple[str, dict[str, str]]
) -> None:
    url, digests = mirror
    # The first mirror answers 404 for everything: the second one is used.
    use_mirrors(monkeypatch, tmp_path / "no-system", (url + "missing/", url), digests)
    data = load_dataset("mnist")
    assert marker(data.x_train) == 9
    cached = sorted(path.name for path in dataset_cache_dir("mnist").iterdir())
    assert cached == sorted(digests)  # the four .gz files, no leftovers


def test_download_with_a_wrong_digest_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mirror: tuple[str, dict[str, str]]
) -> None:
    url, digests = mirror
    wrong = dict(digests, **{"train-images-idx3-ubyte.gz": "0" * 64})
    use_mirrors(monkeypatch, tmp_path / "no-system", (url,), wrong)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: SHA-256 [0-9a-f]{64} is"):
        load_dataset("mnist")
    assert not any(dataset_cache_dir("mnist").glob("train-images*"))
    assert not any(dataset_cache_dir("mnist").glob(".*part"))


def test_unreachable_mirror_gives_the_offline_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dead = tmp_path / "dead-mirror"
    sha = {f"{stem}.gz": "0" * 64 for stem in IDX_FILES.values()}
    use_mirrors(monkeypatch, tmp_path / "no-system", (dead.as_uri() + "/",), sha)
    with pytest.raises(DatasetError, match="download failed") as info:
        load_dataset("mnist")
    assert "train-images-idx3-ubyte[.gz]" in str(info.value)
