"""A trainable array with its gradient: the unit that optimizers update."""

from __future__ import annotations

import numpy as np


class Parameter:
    """One trainable array, its gradient of the same shape and dtype, and whether L2 applies.

    `decay` is True for weights and False for biases: L2 and AdamW's decay touch weights only.
    """

    __slots__ = ("_scratch", "decay", "grad", "name", "value")

    def __init__(self, name: str, value: np.ndarray, *, decay: bool) -> None:
        self.name = name
        self.value = value
        self.grad = np.zeros_like(value)
        self.decay = decay
        self._scratch: np.ndarray | None = None

    def scratch(self) -> np.ndarray:
        """A reusable buffer shaped like `value`, so hot-path updates allocate nothing."""
        if self._scratch is None:
            self._scratch = np.empty_like(self.value)
        return self._scratch

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"
