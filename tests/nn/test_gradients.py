"""Analytic gradients of the whole MLP against central differences, in float64."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import (
    ACTIVATIONS,
    LOSSES,
    MLP,
    Architecture,
    add_l2_grad,
    get_activation,
    l2_penalty,
)

EPS = 1e-6


def _objective(model: MLP, loss_name: str, X, y, l2: float, seed: int | None) -> float:
    """Loss + penalty at the current weights; with `seed`, the same dropout masks each call."""
    rng = None if seed is None else np.random.default_rng(seed)
    logits = model.forward(X, train=seed is not None, rng=rng)
    return LOSSES[loss_name]().value(logits, y) + l2_penalty(model, l2)


def _analytic(model: MLP, loss_name: str, X, y, l2: float, seed: int | None) -> dict:
    rng = np.random.default_rng(0 if seed is None else seed)
    logits = model.forward(X, train=True, rng=rng)
    _, dlogits = LOSSES[loss_name]().value_and_grad(logits, y)
    model.backward(dlogits)
    add_l2_grad(model, l2)
    return {p.name: p.grad.copy() for p in model.parameters()}


def _numeric(model: MLP, loss_name: str, X, y, l2: float, seed: int | None) -> dict:
    grads = {}
    for p in model.parameters():
        g = np.zeros_like(p.value)
        for idx in np.ndindex(p.value.shape):
            old = p.value[idx]
            p.value[idx] = old + EPS
            up = _objective(model, loss_name, X, y, l2, seed)
            p.value[idx] = old - EPS
            down = _objective(model, loss_name, X, y, l2, seed)
            p.value[idx] = old
            g[idx] = (up - down) / (2 * EPS)
        grads[p.name] = g
    return grads


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def _check(activation: str, loss_name: str, l2: float, dropout: float = 0.0, seed=None) -> None:
    arch = Architecture(5, (4, 3), 3, activation=activation, dropout=dropout, dtype="float64")
    model = MLP(arch, np.random.default_rng(1))
    for p in model.parameters():  # non-zero biases so every term is exercised
        if not p.decay:
            p.value[:] = np.random.default_rng(2).normal(0, 0.5, p.value.shape)
    data = np.random.default_rng(3)
    X, y = data.normal(size=(7, 5)), data.integers(0, 3, 7)
    analytic = _analytic(model, loss_name, X, y, l2, seed)
    numeric = _numeric(model, loss_name, X, y, l2, seed)
    for name, g in analytic.items():
        assert _rel_error(g, numeric[name]) < 1e-6, name


@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_mlp_gradients_match_central_differences(activation: str, loss_name: str, l2: float):
    _check(activation, loss_name, l2)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_gradients_with_a_fixed_dropout_mask(activation: str):
    # Re-seeding the rng gives the same mask on every forward, so the loss is differentiable.
    _check(activation, "cross_entropy", 0.1, dropout=0.5, seed=11)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_central_differences(name: str):
    act = get_activation(name)
    z = np.linspace(-4, 4, 101)
    z = z[np.abs(z) > 1e-3]  # away from the kinks of relu-like functions
    numeric = (act.forward(z + EPS) - act.forward(z - EPS)) / (2 * EPS)
    np.testing.assert_allclose(act.derivative(z, act.forward(z)), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_backward_equals_derivative(name: str):
    act = get_activation(name)
    rng = np.random.default_rng(0)
    z, dA = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    a = act.forward(z)
    expected = dA * act.derivative(z, a)
    np.testing.assert_allclose(act.backward(z, a, dA.copy()), expected, rtol=1e-12)


def test_activations_match_torch():
    torch = pytest.importorskip("torch")
    z = np.linspace(-30, 30, 601)
    t = torch.from_numpy(z)
    reference = {
        "relu": torch.relu(t),
        "leaky_relu": torch.nn.functional.leaky_relu(t, 0.01),
        "elu": torch.nn.functional.elu(t),
        "sigmoid": torch.sigmoid(t),
        "tanh": torch.tanh(t),
        "gelu": torch.nn.functional.gelu(t, approximate="tanh"),
    }
    for name, expected in reference.items():
        np.testing.assert_allclose(get_activation(name).forward(z), expected.numpy(), atol=1e-12)


def test_saturating_activations_do_not_overflow():
    z = np.array([-1e4, -800.0, 0.0, 800.0, 1e4], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for name in ACTIVATIONS:
            assert np.all(np.isfinite(get_activation(name).forward(z))), name
