"""How the optimizers walk the parameters: the cache-blocked path, or the reference.

"blocked" (the default) cuts every slab of parameters (see `slabs`) into blocks of `BLOCK`
elements and runs an optimizer's whole update, pass after pass, on one block before the next:
the few arrays of a block stay in the core's L2 cache, so Adam's ten passes over memory cost
about one trip to main memory instead of ten. Element-wise arithmetic is unchanged, so the
result is bit for bit the reference's.
"reference" updates each parameter as a whole array, one NumPy pass per operation.

Chosen by $HPSEARCH_KERNELS when an optimizer is built; `use_kernels` switches it in tests.
numexpr was measured as the fused alternative and lost on this project's shapes (README).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

import numpy as np

from hpsearch.nn._parameter import Parameter, slabs

KERNELS = ("blocked", "reference")
# 32,768 float32 = 128 KiB per array: Adam's five arrays (value, grad, m, v, scratch) fit a
# 1 MiB L2 with room to spare; smaller blocks pay more Python calls than they save.
BLOCK = 1 << 15

# Optimizer state below this is set to zero: an update it could make (at most 1e-30 / eps, eps
# >= 1e-10 in every optimizer here, times lr) is far below a float32 weight's resolution, and
# a second moment this small is far below eps in the denominator.
FLUSH_BELOW = 1e-30

_selected = os.environ.get("HPSEARCH_KERNELS") or "blocked"
if _selected not in KERNELS:
    raise ValueError(f"HPSEARCH_KERNELS must be one of {list(KERNELS)}, got {_selected!r}")


def kernels() -> str:
    """The path optimizers built now take: "blocked" or "reference"."""
    return _selected


@contextlib.contextmanager
def use_kernels(name: str) -> Iterator[None]:
    """Build the enclosed optimizers with path `name`, then restore the previous one."""
    global _selected
    if name not in KERNELS:
        raise ValueError(f"kernels must be one of {list(KERNELS)}, got {name!r}")
    previous, _selected = _selected, name
    try:
        yield
    finally:
        _selected = previous


def update_units(params: list[Parameter]) -> list[Parameter]:
    """What an optimizer updates one at a time: blocks of slabs, or the parameters themselves."""
    if _selected == "reference":
        return list(params)
    return [block for slab in slabs(params) for block in _blocks(slab, BLOCK)]


def _blocks(p: Parameter, size: int) -> list[Parameter]:
    """`p` as Parameters over consecutive flat views of at most `size` elements (or p itself)."""
    if p.value.size <= size or not (p.value.flags.c_contiguous and p.grad.flags.c_contiguous):
        return [p]
    value, grad = p.value.reshape(-1), p.grad.reshape(-1)
    scratch = np.empty_like(value)  # one buffer for all blocks, so no block allocates it
    out = []
    for start in range(0, value.size, size):
        part = slice(start, start + size)
        name = f"{p.name}[{start}:]"
        out.append(
            Parameter(name, value[part], decay=p.decay, grad=grad[part], scratch=scratch[part])
        )
    return out


def flush_subnormals(decaying: list[tuple[list[np.ndarray], float]], step: int) -> None:
    """Set to zero the state that decays toward float32's subnormal range, every few steps.

    Where a gradient stays zero (an input pixel that is always blank), momentum and moment
    buffers shrink by their factor every step until they are subnormal numbers, on which x86
    arithmetic runs ~15x slower, and they stay there (0.9 times the smallest subnormals rounds
    back to them): Adam on Fashion-MNIST lost half its speed to this after a few hundred steps.
    Each group is flushed every `_flush_interval(factor)` steps, often enough that nothing
    above FLUSH_BELOW can reach the subnormal range in between.
    """
    for arrays, factor in decaying:
        interval = _flush_interval(factor)
        if interval and step % interval == 0:
            for a in arrays:
                np.copyto(a, 0, where=np.abs(a) < FLUSH_BELOW)


def _flush_interval(factor: float) -> int:
    """Steps in which `factor`**steps stays above 1e-6 (0 when nothing decays)."""
    if not 0 < factor < 1:
        return 0
    return max(1, int(math.log(1e-6) / math.log(factor)))
