"""The user's own datasets: an IDX folder or an .npz, any h x w, 2..1000 classes, nothing
trusted: hostile files are refused in one line before anything large is allocated."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from data.synthetic import idx_folder, images, npz_file
from hpsearch.data import DatasetError, load_splits, write_idx


def test_an_idx_folder_of_12x7_images_and_3_classes(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "blobs3", (12, 7), 3)
    splits = load_splits(str(folder), val_fraction=0.2)
    assert (splits.name, splits.n_classes, splits.image_shape) == ("blobs3", 3, (12, 7))
    assert splits.x_train.shape[1] == 84 and splits.x_train.dtype == np.float32
    assert splits.x_train.min() >= 0.0 and splits.x_train.max() <= 1.0
    assert splits.source == folder.resolve().as_uri()
    assert len(splits.y_test) == 60


def test_prefixed_names_as_emnist_writes_them(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "plain", (5, 5), 2)
    emnist = tmp_path / "emnist"
    emnist.mkdir()
    names = {"train-images-idx3-ubyte": "emnist-digits-train-images-idx3-ubyte",
             "train-labels-idx1-ubyte": "emnist-digits-train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte": "emnist-digits-test-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte": "emnist-digits-test-labels-idx1-ubyte"}  # fmt: skip
    for old, new in names.items():
        (emnist / f"{new}.gz").write_bytes((folder / f"{old}.gz").read_bytes())
    assert load_splits(str(emnist)).fingerprint() == load_splits(str(folder)).fingerprint()


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_an_npz_with_uint8_or_float_pixels(tmp_path: Path, dtype: str) -> None:
    x_train, _ = images(240, (9, 11), 4, seed=1)
    x = x_train if dtype == "uint8" else (x_train / 255).astype(dtype)
    path = npz_file(tmp_path / "mine.npz", (9, 11), 4, x_train=x)
    splits = load_splits(str(path))
    assert (splits.name, splits.n_classes, splits.image_shape) == ("mine", 4, (9, 11))
    assert splits.source == path.resolve().as_uri()
    np.testing.assert_allclose(splits.x_test.max(), 1.0, atol=0.01)


def _huge_member(path: Path) -> Path:
    """An .npz whose x_train header declares 10**12 bytes over a 100-byte body."""
    npz_file(path, (4, 4), 2)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 1000, 1000)}
    )
    with zipfile.ZipFile(path, "a") as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["x_train.npy"] = header.getvalue() + bytes(100)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


HOSTILE = {
    "object array": (lambda p: npz_file(p, (4, 4), 2, x_train=np.array([None] * 240)),
                     "dtype object refused"),
    "huge declared shape": (_huge_member, "header declares shape (1000000, 1000, 1000)"),
    "label out of range": (lambda p: npz_file(p, (4, 4), 2, y_train=np.full(240, 1000)),
                           "label 1000 is not below 1000"),
    "negative label": (lambda p: npz_file(p, (4, 4), 2, y_test=-np.ones(60, np.int64)),
                       "label -1 is negative"),
    "one class": (lambda p: npz_file(p, (4, 4), 2, y_train=np.zeros(240, np.int64),
                                     y_test=np.zeros(60, np.int64)), "at least 2 classes"),
    "float labels": (lambda p: npz_file(p, (4, 4), 2, y_train=np.zeros(240)),
                     "labels must be integers"),
    "labels and images disagree": (lambda p: npz_file(p, (4, 4), 2, y_train=np.zeros(7, int)),
                                   "7 labels for 240 images"),
    "flat images": (lambda p: npz_file(p, (4, 4), 2, x_test=np.zeros((60, 16), np.uint8)),
                    "expected (N, h, w) images"),
    "sizes differ": (lambda p: npz_file(p, (4, 4), 2, x_test=np.zeros((60, 5, 4), np.uint8)),
                     "one image size for both"),
    "pixels above 1": (lambda p: npz_file(p, (4, 4), 2, x_test=np.full((60, 4, 4), 2.0)),
                       "within [0, 1]"),
    "missing array": (lambda p: np.savez(p, x_train=np.zeros((3, 2, 2))), "no array 'y_train'"),
    "not a zip": (lambda p: p.write_bytes(b"hello"), "unreadable .npz"),
    "a lone .npy": (lambda p: np.save(open(p, "wb"), np.zeros(3)), "a single .npy array"),  # noqa: SIM115
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_npz_is_refused_in_one_line(tmp_path: Path, case: str) -> None:
    make, message = HOSTILE[case]
    path = tmp_path / "hostile.npz"
    make(path)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError) as caught:
            load_splits(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    text = str(caught.value)
    assert message in text and text.startswith(str(path)) and "\n" not in text
    assert peak < 16 * 1024**2  # nothing is allocated from a declared size


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no file for x_train"),
        ({"labels2d": True}, "expected (N,) labels"),
        ({"dup": True}, "2 files for x_train"),
    ],
)
def test_malformed_idx_folders_are_one_line(tmp_path: Path, files: dict, message: str) -> None:
    folder = tmp_path / "f"
    if files:
        idx_folder(folder, (4, 4), 2)
    else:
        folder.mkdir()
    if files.get("labels2d"):
        write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros((240, 2), np.uint8))
    if files.get("dup"):
        (folder / "kmnist-train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_splits(str(folder))


def test_a_path_that_is_neither_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_splits(str(tmp_path / "nothing.npz"))
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(DatasetError, match=r"not a folder or an \.npz"):
        load_splits(str(tmp_path / "x.csv"))
