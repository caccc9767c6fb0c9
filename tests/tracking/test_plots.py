"""Plot helpers: the confusion matrix counts and PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.tracking.plots import confusion_matrix, plot_confusion_matrix


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
