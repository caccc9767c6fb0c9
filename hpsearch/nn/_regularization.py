"""L2 weight decay as a penalty: lam/2 * sum(W^2) on the loss, lam * W on weight gradients.

Biases (Parameter.decay False) are never penalised.
"""

from __future__ import annotations

import numpy as np

from hpsearch.nn._model import MLP


def l2_penalty(model: MLP, lam: float) -> float:
    """lam/2 * sum of squared weights over all layers (0.0 when lam is 0)."""
    if not lam:
        return 0.0
    # vdot of a flattened array with itself is one BLAS dot: no squared temporary.
    total = sum(float(np.vdot(p.value, p.value)) for p in model.parameters() if p.decay)
    return 0.5 * lam * total


def add_l2_grad(model: MLP, lam: float) -> None:
    """grad += lam * W for every weight, in place."""
    if not lam:
        return
    for p in model.parameters():
        if p.decay:
            p.grad += np.multiply(p.value, lam, out=p.scratch())
