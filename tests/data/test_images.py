"""User images: PNG/JPEG of any size and IDX files become rows like the dataset's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hpsearch.data import DatasetError, load_images, write_idx


def stroke(size: tuple[int, int], ink: int, paper: int, mode: str = "L") -> Image.Image:
    """A vertical bar (a "1") of `ink` on `paper`; size is (width, height)."""
    width, height = size
    picture = Image.new(mode, size, paper if mode == "L" else (paper,) * 3)
    box = (width * 4 // 10, height // 5, width * 6 // 10, height * 4 // 5)
    ImageDraw.Draw(picture).rectangle(box, fill=ink if mode == "L" else (ink,) * 3)
    return picture


def check_bar(row: np.ndarray, shape: tuple[int, int]) -> None:
    """Light ink in the middle column on a dark background, in [0, 1]."""
    image = row.reshape(shape)
    assert row.dtype == np.float32 and row.min() >= 0.0 and row.max() <= 1.0
    assert image[0].max() < 0.1 and image[:, 0].max() < 0.1  # dark border
    assert image[shape[0] // 2, shape[1] // 2] > 0.8  # bright stroke


def test_dark_and_light_backgrounds_any_size(tmp_path: Path) -> None:
    stroke((28, 28), ink=255, paper=0).save(tmp_path / "dark.png")
    stroke((120, 90), ink=0, paper=255).save(tmp_path / "light.png")  # dark ink on paper
    stroke((64, 64), ink=20, paper=235, mode="RGB").save(tmp_path / "photo.jpg", quality=95)
    paths = [tmp_path / "dark.png", tmp_path / "light.png", tmp_path / "photo.jpg"]
    rows = load_images(paths, (28, 28))
    assert rows.shape == (3, 784)
    for row in rows:
        check_bar(row, (28, 28))


def test_transparent_png_is_shown_on_white(tmp_path: Path) -> None:
    picture = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    ImageDraw.Draw(picture).rectangle((16, 8, 24, 32), fill=(0, 0, 0, 255))
    picture.save(tmp_path / "alpha.png")
    check_bar(load_images([tmp_path / "alpha.png"], (28, 28))[0], (28, 28))


def test_digits_sized_images(tmp_path: Path) -> None:
    stroke((50, 50), ink=0, paper=255).save(tmp_path / "one.png")
    rows = load_images([tmp_path / "one.png"], (8, 8))
    assert rows.shape == (1, 64)
    check_bar(rows[0], (8, 8))


def test_idx_files(tmp_path: Path) -> None:
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[:, 5:23, 12:16] = 255
    write_idx(tmp_path / "three.idx3-ubyte.gz", images)
    write_idx(tmp_path / "one-big.idx", np.kron(images[0], np.ones((2, 2), dtype=np.uint8)))
    rows = load_images([tmp_path / "three.idx3-ubyte.gz", tmp_path / "one-big.idx"], (28, 28))
    assert rows.shape == (4, 784)
    np.testing.assert_array_equal(rows[:3], images.reshape(3, -1) / 255)
    check_bar(rows[3], (28, 28))


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(DatasetError, match=r"notes\.png"):
        load_images([tmp_path / "notes.png"], (28, 28))
    with pytest.raises(DatasetError, match=r"missing\.png"):
        load_images([tmp_path / "missing.png"], (28, 28))
    write_idx(tmp_path / "labels.idx", np.arange(5, dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"labels\.idx"):
        load_images([tmp_path / "labels.idx"], (28, 28))
