"""Losses on logits (N, C) and integer labels (N,): fused softmax cross-entropy and MSE.

Both are means over the batch, so gradients are already divided by N.
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (N, C), shifted by the row maximum so exp never overflows."""
    e = logits - logits.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


class Loss:
    """A mean-over-batch loss of logits (N, C) against integer labels y (N,)."""

    name = ""

    def value_and_grad(self, logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, dL/dlogits (N, C) in the logits' dtype)."""
        raise NotImplementedError

    def value(self, logits: np.ndarray, y: np.ndarray) -> float:
        """The mean loss alone."""
        raise NotImplementedError


class CrossEntropy(Loss):
    """Softmax cross-entropy fused with its softmax.

    L = mean_i [logsumexp(o_i) - o_i[y_i]], computed with the max shift, so no probability is
    ever logged and no epsilon is needed; dL/do = (softmax(o) - onehot(y)) / N.
    """

    name = "cross_entropy"

    def value_and_grad(self, logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        n = logits.shape[0]
        rows = np.arange(n)
        shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C), max 0 per row
        e = np.exp(shifted)
        sums = e.sum(axis=1)  # (N,), in [1, C]
        loss = np.log(sums).sum(dtype=np.float64) - shifted[rows, y].sum(dtype=np.float64)
        e /= sums[:, None]  # softmax
        e[rows, y] -= 1
        e *= 1.0 / n
        return float(loss / n), e

    def value(self, logits: np.ndarray, y: np.ndarray) -> float:
        shifted = logits - logits.max(axis=1, keepdims=True)
        lse = np.log(np.exp(shifted).sum(axis=1))
        picked = shifted[np.arange(logits.shape[0]), y]
        return float((lse.sum(dtype=np.float64) - picked.sum(dtype=np.float64)) / len(y))


class MeanSquaredError(Loss):
    """Squared error of the raw outputs against one-hot targets (no softmax in between).

    L = mean_i sum_c (o_ic - onehot(y_i)_c)^2: the per-sample squared distance averaged over the
    batch (C times PyTorch's MSELoss, which also averages over classes); dL/do = 2(o - t) / N.
    """

    name = "mse"

    def value_and_grad(self, logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        n = logits.shape[0]
        diff = _minus_onehot(logits, y)
        loss = float(np.vdot(diff, diff)) / n
        diff *= 2.0 / n
        return loss, diff

    def value(self, logits: np.ndarray, y: np.ndarray) -> float:
        diff = _minus_onehot(logits, y)
        return float(np.vdot(diff, diff)) / logits.shape[0]


def _minus_onehot(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """logits - onehot(y), a new (N, C) array."""
    diff = logits.copy()
    diff[np.arange(logits.shape[0]), y] -= 1
    return diff


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (CrossEntropy, MeanSquaredError)}
