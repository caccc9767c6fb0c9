"""A trainable array with its gradient: the unit that optimizers update."""

from __future__ import annotations

import numpy as np


class Parameter:
    """One trainable array, its gradient of the same shape and dtype, and whether L2 applies.

    `decay` is True for weights and False for biases: L2 and AdamW's decay touch weights only.
    `grad` and `scratch`, when given, are views the Parameter shares (see `slabs`).
    """

    __slots__ = ("_scratch", "decay", "grad", "name", "value")

    def __init__(
        self,
        name: str,
        value: np.ndarray,
        *,
        decay: bool,
        grad: np.ndarray | None = None,
        scratch: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.grad = np.zeros_like(value) if grad is None else grad
        self.decay = decay
        self._scratch = scratch

    def scratch(self) -> np.ndarray:
        """A reusable buffer shaped like `value`, so hot-path updates allocate nothing."""
        if self._scratch is None:
            self._scratch = np.empty_like(self.value)
        return self._scratch

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"


def pack(params: list[Parameter]) -> None:
    """Move every value and gradient into two flat buffers, decayed parameters first.

    Each Parameter then holds views, and `slabs` can hand an optimizer one array per decay
    group instead of one per parameter: two calls per operation for any depth of network.
    """
    ordered = sorted(params, key=lambda p: not p.decay)  # stable: weights, then biases
    size = sum(p.value.size for p in ordered)
    dtype = ordered[0].value.dtype
    values, grads = np.empty(size, dtype), np.zeros(size, dtype)
    start = 0
    for p in ordered:
        stop = start + p.value.size
        values[start:stop] = p.value.ravel()
        p.value = values[start:stop].reshape(p.value.shape)
        p.grad = grads[start:stop].reshape(p.value.shape)
        start = stop


def slabs(params: list[Parameter]) -> list[Parameter]:
    """`params` merged into as few Parameters as memory allows: one per run of neighbours.

    Parameters whose values and gradients lie end to end in the same buffers (see `pack`) and
    share `decay` become one Parameter over a flat view; any other stands for itself.
    """
    merged: list[Parameter] = []
    ordered = sorted(params, key=lambda p: (_address(p.value), p.name))
    for run in _runs(ordered):
        if len(run) == 1:
            merged.append(run[0])
            continue
        first, last = run[0], run[-1]
        value, grad = _span(first.value, last.value), _span(first.grad, last.grad)
        name = "+".join(p.name for p in run)
        merged.append(Parameter(name, value, decay=first.decay, grad=grad))
    return merged


def _runs(ordered: list[Parameter]) -> list[list[Parameter]]:
    runs: list[list[Parameter]] = []
    for p in ordered:
        if runs and _follows(runs[-1][-1], p):
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def _follows(a: Parameter, b: Parameter) -> bool:
    """b's value and grad start where a's end, in the same flat buffers, with the same decay."""
    return (
        a.decay == b.decay
        and a.value.dtype == b.value.dtype
        and all(x.flags.c_contiguous for x in (a.value, b.value, a.grad, b.grad))
        and all(
            x.base is not None and x.base is y.base and _address(x) + x.nbytes == _address(y)
            for x, y in ((a.value, b.value), (a.grad, b.grad))
        )
    )


def _span(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The flat view of the common base from `first`'s start to `last`'s end."""
    base = first.base
    assert isinstance(base, np.ndarray) and base.ndim == 1
    start = (_address(first) - _address(base)) // base.itemsize
    stop = (_address(last) - _address(base)) // base.itemsize + last.size
    return base[start:stop]


def _address(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])
