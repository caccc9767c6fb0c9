"""Weight initialisers: he, xavier (Glorot) and normal(std); biases always start at zero."""

from __future__ import annotations

import math

import numpy as np

INITS = ("auto", "he", "xavier", "normal")
# "auto" picks he for the rectifier family and xavier for the saturating activations.
_AUTO = {"relu": "he", "leaky_relu": "he", "elu": "he", "gelu": "he"}
_AUTO.update(sigmoid="xavier", tanh="xavier")


def resolve_init(init: str, activation: str) -> str:
    """The concrete scheme for `init` ("auto" resolved by `activation`)."""
    if init == "auto":
        return _AUTO[activation]
    return init


def init_weight(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    scheme: str,
    *,
    std: float = 0.01,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """A (fan_in, fan_out) weight matrix drawn from N(0, s^2), s set by `scheme`.

    he: s = sqrt(2 / fan_in); xavier: s = sqrt(2 / (fan_in + fan_out)); normal: s = std.
    Drawn directly in `dtype` so float32 models never touch float64 memory.
    """
    if scheme == "he":
        scale = math.sqrt(2.0 / fan_in)
    elif scheme == "xavier":
        scale = math.sqrt(2.0 / (fan_in + fan_out))
    elif scheme == "normal":
        scale = std
    else:
        raise ValueError(f"unknown init {scheme!r}; choose one of {list(INITS)}")
    W = rng.standard_normal((fan_in, fan_out), dtype=dtype)
    W *= scale
    return W
