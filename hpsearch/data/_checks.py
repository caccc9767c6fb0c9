"""Checks shared by the user's own datasets (an IDX folder or an .npz): labels and pixels."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hpsearch.data._errors import DatasetError

MIN_CLASSES, MAX_CLASSES = 2, 1000


def check_labels(labels: Mapping[str, np.ndarray]) -> int:
    """The number of classes (largest label + 1) of integer label arrays keyed by their names;
    DatasetError for a negative label, one of MAX_CLASSES or more, or fewer than two classes."""
    for name, y in labels.items():
        if y.dtype.kind not in ("u", "i"):
            raise DatasetError(f"{name}: labels must be integers, got {y.dtype}")
        if y.size and int(y.min()) < 0:
            raise DatasetError(f"{name}: label {int(y.min())} is negative")
        if y.size and int(y.max()) >= MAX_CLASSES:
            raise DatasetError(f"{name}: label {int(y.max())} is not below {MAX_CLASSES}")
    n_classes = max(int(y.max()) + 1 for y in labels.values() if y.size)
    train = next(iter(labels.values()))
    if n_classes < MIN_CLASSES or len(np.unique(train)) < MIN_CLASSES:
        raise DatasetError(f"{next(iter(labels))}: needs at least {MIN_CLASSES} classes")
    return n_classes


def pixels(images: np.ndarray, name: str) -> np.ndarray:
    """(N, h, w) uint8 (0..255) or floats in [0, 1] -> (N, h*w) float32 in [0, 1]."""
    flat = images.reshape(len(images), -1)
    if images.dtype == np.uint8:
        out = flat.astype(np.float32)
        out /= np.float32(255)  # in place: 10x faster than a mixed-dtype divide
        return out
    if images.dtype.kind != "f":
        raise DatasetError(f"{name}: images must be uint8 (0..255) or floats in [0, 1], got "
                           f"{images.dtype}")  # fmt: skip
    out = flat.astype(np.float32)
    if not np.isfinite(out).all() or out.min(initial=0.0) < 0 or out.max(initial=0.0) > 1:
        raise DatasetError(f"{name}: float pixels must be finite and within [0, 1]")
    return out
