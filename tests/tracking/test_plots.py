"""Plot helpers: the confusion matrix counts and PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.tracking.confusion import confusion_matrix, plot_confusion_matrix


def test_confusion_matrix_counts_pairs() -> None:
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    expected = np.zeros((4, 4), np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, 4), expected)


def test_confusion_matrix_png(tmp_path: Path) -> None:
    counts = confusion_matrix(np.arange(10) % 3, np.arange(10) % 3, 3)
    path = plot_confusion_matrix(counts, tmp_path / "cm.png", "validation")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_the_same_counts_draw_the_same_png_and_other_counts_another(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    first, second = rng.integers(0, 500, (10, 10)), rng.integers(0, 50, (10, 10))
    before = plot_confusion_matrix(first, tmp_path / "a.png", "trial 1").read_bytes()
    between = plot_confusion_matrix(second, tmp_path / "b.png", "trial 2").read_bytes()
    after = plot_confusion_matrix(first, tmp_path / "c.png", "trial 1").read_bytes()
    assert before == after and between != before


def test_the_png_is_sized_by_the_classes_and_shades_by_count(tmp_path: Path) -> None:
    from PIL import Image

    counts = np.diag([90, 0, 45])
    image = Image.open(plot_confusion_matrix(counts, tmp_path / "cm.png", "t")).convert("RGB")
    left, top = 44, 40  # the margins; cells of 34 pixels
    corner = [image.getpixel((left + 2 + 34 * k, top + 2 + 34 * k)) for k in range(3)]
    assert image.size == (44 + 3 * 34 + 12, 40 + 3 * 34 + 36)
    assert corner[0] == (8, 48, 107) and corner[1] == (247, 251, 255)  # the peak, and zero
    assert corner[0][2] < corner[2][2] < corner[1][2]  # half the peak: in between
