"""Layers that own their parameters: an affine Dense layer and inverted Dropout.

Both write into caller-provided buffers so a training step allocates (almost) nothing.
"""

from __future__ import annotations

import numpy as np

from hpsearch.nn._parameter import Parameter


class Dense:
    """z = x @ W + b with W (fan_in, fan_out) and b (fan_out,)."""

    def __init__(self, name: str, W: np.ndarray, b: np.ndarray) -> None:
        self.W = Parameter(f"{name}.W", W, decay=True)
        self.b = Parameter(f"{name}.b", b, decay=False)
        self._ones = np.ones(0, W.dtype)  # for the bias gradient as a matrix-vector product

    @property
    def fan_in(self) -> int:
        return int(self.W.value.shape[0])

    @property
    def fan_out(self) -> int:
        return int(self.W.value.shape[1])

    def parameters(self) -> list[Parameter]:
        return [self.W, self.b]

    def forward(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """x (N, fan_in) -> z (N, fan_out), written into `out` when given."""
        z = np.matmul(x, self.W.value, out=out)
        z += self.b.value
        return z

    def backward(self, x: np.ndarray, dz: np.ndarray, dx: np.ndarray | None) -> None:
        """Fill W.grad = x.T @ dz and b.grad = sum of dz over rows; dx = dz @ W.T if wanted.

        x (N, fan_in) is the forward input, dz (N, fan_out) = dL/dz; `dx` (N, fan_in) is the
        buffer for dL/dx, or None for the first layer, whose input needs no gradient.
        """
        np.matmul(x.T, dz, out=self.W.grad)  # x.T is a view: BLAS transposes, no copy
        n = dz.shape[0]
        if self._ones.size < n:
            self._ones = np.ones(n, dz.dtype)
        np.matmul(self._ones[:n], dz, out=self.b.grad)  # column sums, about 2x np.sum's speed
        if dx is not None:
            np.matmul(dz, self.W.value.T, out=dx)


class Dropout:
    """Inverted dropout: keep each unit with probability 1-rate and scale kept units by 1/(1-rate).

    Expected activations are unchanged, so evaluation simply skips the layer.
    """

    def __init__(self, rate: float) -> None:
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.scale = 1.0 / (1.0 - rate)

    def mask(self, rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
        """Fill `out` with a fresh scaled mask: 0 with probability `rate`, else 1/(1-rate)."""
        rng.random(out=out, dtype=out.dtype)
        keep = out >= self.rate
        np.multiply(keep, out.dtype.type(self.scale), out=out)  # stay in out's dtype
        return out
