"""Stratified sampling: take exactly n indices with every class in its proportion."""

from __future__ import annotations

import numpy as np


def stratified_take(
    labels: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split `range(len(labels))` into (taken, rest), `len(taken) == n`, both sorted int64.

    Each class gives floor(n * share) samples; the few left over go to the classes with the
    largest fractional parts (largest remainder), so the total is exact and the split is a pure
    function of the labels and the generator's state.
    """
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = counts * (n / len(labels))
    take = np.floor(quota).astype(np.int64)
    leftover = n - int(take.sum())
    take[np.argsort(take - quota, kind="stable")[:leftover]] += 1
    taken = [rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(classes))]
    chosen = np.sort(np.concatenate(taken)).astype(np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[chosen] = False
    return chosen, np.flatnonzero(mask).astype(np.int64)
