"""The cache-blocked optimizer path against the reference, packing, and the subnormal flush."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import (
    LOSSES,
    MLP,
    OPTIMIZERS,
    Architecture,
    Parameter,
    make_optimizer,
    train_step,
    use_kernels,
)
from hpsearch.nn._kernels import BLOCK, FLUSH_BELOW
from hpsearch.nn._parameter import pack, slabs


def _train(kernels: str, optimizer: str, hidden: tuple[int, ...], dtype: str) -> MLP:
    """A few steps of a model big enough to be cut into several blocks."""
    data = np.random.default_rng(3)
    X = data.random((64, 300), dtype=np.float32)
    y = data.integers(0, 10, 64)
    arch = Architecture(300, hidden, 10, dropout=0.2, dtype=dtype)
    model = MLP(arch, np.random.default_rng(0))
    with use_kernels(kernels):
        opt = make_optimizer(optimizer, model.parameters(), lr=0.01)
    assert len(opt.units) == (5 if kernels == "blocked" else 6)  # 4 weight blocks + biases
    rng = np.random.default_rng(1)
    for start in (0, 32, 0, 32):
        xb, yb = X[start : start + 32], y[start : start + 32]
        train_step(model, opt, LOSSES["cross_entropy"](), xb, yb, l2=1e-3, rng=rng)
    return model


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blocked_path_equals_the_reference_bit_for_bit(optimizer: str, dtype: str):
    hidden = (256, 128)  # 300*256 weights: more than two blocks
    assert 2 * BLOCK < 300 * 256
    blocked = _train("blocked", optimizer, hidden, dtype).state_dict()
    reference = _train("reference", optimizer, hidden, dtype).state_dict()
    assert blocked.keys() == reference.keys()
    for name in blocked:
        np.testing.assert_array_equal(blocked[name], reference[name], err_msg=name)


def test_an_mlp_packs_weights_then_biases_into_two_slabs():
    model = MLP(Architecture(5, (4, 3), 2), np.random.default_rng(0))
    merged = slabs(model.parameters())
    assert [s.decay for s in merged] == [True, False]
    assert [s.value.size for s in merged] == [5 * 4 + 4 * 3 + 3 * 2, 4 + 3 + 2]
    first_w = model.layers[0].W
    merged[0].value[0] = 42.0  # the slab is a view: writing it writes the parameter
    merged[0].grad[0] = 7.0
    assert first_w.value.flat[0] == 42.0 and first_w.grad.flat[0] == 7.0


def test_separate_arrays_stay_separate_units():
    params = [Parameter(f"p{i}", np.ones(3), decay=True) for i in range(3)]
    assert sorted(p.name for p in slabs(params)) == ["p0", "p1", "p2"]
    pack(params)
    assert len(slabs(params)) == 1


def test_zero_gradient_state_never_sinks_into_subnormals():
    p = Parameter("w", np.full(1000, 1e-3, np.float32), decay=True)
    opt = make_optimizer("adam", [p], lr=1e-3)
    p.grad[:] = 1e-3
    opt.step()
    p.grad[:] = 0.0  # from now on, the moments only decay
    tiny = np.finfo(np.float32).tiny
    for _ in range(1500):  # 0.9**1500: far past float32's smallest subnormal
        opt.step()
        for state in (*opt.m, *opt.v):
            assert not np.any((state != 0) & (np.abs(state) < tiny))
    assert np.all(opt.m[0] == 0)  # flushed, where it used to stick at 6e-45 for good
    assert np.all(opt.v[0] > FLUSH_BELOW)  # 0.999 decays slowly: still exact Adam state


def test_the_flush_zeroes_only_state_below_the_threshold():
    p = Parameter("w", np.zeros(4), decay=True)
    opt = make_optimizer("momentum", [p], lr=0.1, momentum=0.5)  # flushed every 19 steps
    g = np.array([1.0, 1e-20, 1e-29, 1e-40])
    p.grad[:] = g
    opt.step()
    p.grad[:] = 0.0
    for _ in range(17):
        opt.step()
    np.testing.assert_array_equal(opt.velocity[0], g * 0.5**17)  # step 18: not flushed yet
    opt.step()  # step 19 flushes
    expected = g * 0.5**18
    expected[np.abs(expected) < FLUSH_BELOW] = 0.0
    np.testing.assert_array_equal(opt.velocity[0], expected)
    assert expected[1] > 0 and expected[2] == 0
