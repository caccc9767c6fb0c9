"""One optimisation step on a mini-batch, and batched evaluation."""

from __future__ import annotations

import numpy as np

from hpsearch.nn._losses import Loss
from hpsearch.nn._model import MLP
from hpsearch.nn._optimizers import Optimizer
from hpsearch.nn._regularization import add_l2_grad, l2_penalty


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
    """Forward (train mode), loss + L2 penalty, backward, L2 gradient, optimizer step.

    X (N, D), y (N,) int labels. Returns (batch loss including the penalty, correct count),
    the count from the logits before the update.
    """
    logits = model.forward(X, train=True, rng=rng)
    value, dlogits = loss.value_and_grad(logits, y)
    value += l2_penalty(model, l2)  # of the weights the loss saw, before the update
    correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
    model.backward(dlogits)
    add_l2_grad(model, l2)
    optimizer.step()
    return value, correct


def evaluate(
    model: MLP, loss: Loss, X: np.ndarray, y: np.ndarray, *, l2: float, batch_size: int = 4096
) -> tuple[float, float]:
    """(mean loss including the L2 penalty, accuracy) over X (N, D), y (N,), in batches."""
    n = len(X)
    if n == 0 or len(y) != n:
        raise ValueError(f"evaluate needs matching non-empty X and y, got {n} and {len(y)}")
    total, correct = 0.0, 0
    for start in range(0, n, batch_size):
        xb, yb = X[start : start + batch_size], y[start : start + batch_size]
        logits = model.forward(xb)
        total += loss.value(logits, yb) * len(yb)
        correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
    return total / n + l2_penalty(model, l2), correct / n
