"""Cross-entropy and MSE: values against naive formulas, stability, gradients."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import LOSSES, CrossEntropy, MeanSquaredError, softmax


def test_cross_entropy_equals_the_naive_formula():
    rng = np.random.default_rng(0)
    logits, y = rng.normal(size=(9, 4)), rng.integers(0, 4, 9)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(9), y]))
    value, grad = CrossEntropy().value_and_grad(logits, y)
    assert value == pytest.approx(expected, rel=1e-12)
    assert CrossEntropy().value(logits, y) == pytest.approx(expected, rel=1e-12)
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(grad, (p - onehot) / 9, rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grad = CrossEntropy().value_and_grad(logits, np.array([0, 0]))
    assert value == pytest.approx(2e4 / 2, rel=1e-6)  # first row ~0, second row 2e4
    assert np.all(np.isfinite(grad)) and grad.dtype == np.float32


def test_mse_on_raw_outputs_against_one_hot():
    rng = np.random.default_rng(1)
    out, y = rng.normal(size=(5, 3)), rng.integers(0, 3, 5)
    target = np.eye(3)[y]
    value, grad = MeanSquaredError().value_and_grad(out, y)
    assert value == pytest.approx(((out - target) ** 2).sum(1).mean(), rel=1e-12)
    np.testing.assert_allclose(grad, 2 * (out - target) / 5, rtol=1e-12)


def test_mse_matches_torch_up_to_the_class_count():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    out, y = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    expected = torch.nn.functional.mse_loss(torch.from_numpy(out), torch.eye(4, dtype=float)[y])
    assert MeanSquaredError().value(out, y) == pytest.approx(4 * expected.item(), rel=1e-12)


def test_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    out, y = rng.normal(size=(6, 4)) * 10, rng.integers(0, 4, 6)
    t = torch.from_numpy(out).requires_grad_()
    ref = torch.nn.functional.cross_entropy(t, torch.from_numpy(y))
    ref.backward()
    value, grad = CrossEntropy().value_and_grad(out, y)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_keep_float32(name: str):
    logits = np.random.default_rng(4).normal(size=(8, 5)).astype(np.float32)
    _, grad = LOSSES[name]().value_and_grad(logits, np.arange(8) % 5)
    assert grad.dtype == np.float32


def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[1e3, 1e3 - 1, -1e3], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(p.sum(1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)
