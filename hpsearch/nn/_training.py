"""One optimisation step on a mini-batch, and batched evaluation."""

from __future__ import annotations

import numpy as np

from hpsearch.nn._losses import Loss
from hpsearch.nn._model import MLP
from hpsearch.nn._optimizers import Optimizer
from hpsearch.nn._regularization import add_l2_grad


def train_step(
    model: MLP,
    optimizer: Optimizer,
    loss: Loss,
    X: np.ndarray,
    y: np.ndarray,
    *,
    l2: float,
    rng: np.random.Generator,
) -> tuple[float, int]:
    """Forward (train mode), data loss, backward, L2 gradient, optimizer step.

    X (N, D), y (N,) int labels. Returns (batch data loss, correct count), both from the logits
    before the update; the L2 penalty is not in the loss (see `l2_penalty`), only its gradient
    is in the step.
    """
    logits = model.forward(X, train=True, rng=rng)
    value, dlogits = loss.value_and_grad(logits, y)
    correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
    model.backward(dlogits)
    add_l2_grad(model, l2)
    optimizer.step()
    return value, correct


def evaluate(
    model: MLP, loss: Loss, X: np.ndarray, y: np.ndarray, *, batch_size: int = 4096
) -> tuple[float, float]:
    """(mean data loss, accuracy) over X (N, D), y (N,), in eval mode, in batches."""
    n = len(X)
    if n == 0 or len(y) != n:
        raise ValueError(f"evaluate needs matching non-empty X and y, got {n} and {len(y)}")
    total, correct = 0.0, 0
    for start in range(0, n, batch_size):
        xb, yb = X[start : start + batch_size], y[start : start + batch_size]
        logits = model.forward(xb)
        total += loss.value(logits, yb) * len(yb)
        correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
    return total / n, correct / n
