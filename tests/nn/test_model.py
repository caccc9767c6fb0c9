"""The MLP: architecture checks, dropout, determinism, dtypes, batching, and learning."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpsearch.errors import UserError
from hpsearch.nn import (
    LOSSES,
    MLP,
    OPTIMIZERS,
    Architecture,
    ConfigError,
    ModelFileError,
    evaluate,
    l2_penalty,
    make_optimizer,
    train_step,
)


def _batch(n=32, d=6, c=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(dtype), rng.integers(0, c, n)


def _state_bytes(model: MLP) -> list[bytes]:
    return [v.tobytes() for v in model.state_dict().values()]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hidden": ()},
        {"hidden": (4,) * 5},
        {"hidden": (0,)},
        {"hidden": (1 << 17,)},
        {"input_dim": 0},
        {"n_classes": 1},
        {"activation": "swish"},
        {"dropout": 1.0},
        {"init": "orthogonal"},
        {"init_std": 0.0},
        {"dtype": "float16"},
        {"input_dim": 1 << 20, "hidden": (1 << 16,)},  # 2^36 parameters: over the bound
    ],
)
def test_bad_architectures_are_refused(kwargs: dict):
    args = {"input_dim": 6, "hidden": (4,), "n_classes": 3, **kwargs}
    with pytest.raises(ConfigError) as info:
        Architecture(**args)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UserError)


@given(
    hidden=st.lists(st.integers(1, 64), min_size=1, max_size=4),
    activation=st.sampled_from(["relu", "tanh", "gelu"]),
    dropout=st.floats(0, 0.9),
)
def test_architecture_dict_round_trip(hidden, activation, dropout):
    arch = Architecture(10, tuple(hidden), 4, activation=activation, dropout=dropout)
    assert Architecture.from_dict(arch.to_dict()) == arch
    assert MLP(arch, np.random.default_rng(0)).n_params == arch.n_params


@pytest.mark.parametrize(
    "d",
    [
        [],
        {"input_dim": 3},
        {"input_dim": 3, "hidden": 4, "n_classes": 2},
        {"input_dim": 3, "hidden": [4], "n_classes": 2, "colour": "red"},
        {"input_dim": 3.5, "hidden": [4], "n_classes": 2},
    ],
)
def test_from_dict_refuses_bad_records(d):
    with pytest.raises(ModelFileError):
        Architecture.from_dict(d)


def test_same_seed_gives_bit_identical_weights_and_training():
    arch = Architecture(6, (8, 5), 3, dropout=0.3)
    X, y = _batch()
    runs = []
    for _ in range(2):
        model = MLP(arch, np.random.default_rng(42))
        opt = make_optimizer("adam", model.parameters())
        rng = np.random.default_rng(7)
        for _ in range(5):
            train_step(model, opt, LOSSES["cross_entropy"](), X, y, l2=1e-3, rng=rng)
        runs.append(_state_bytes(model))
    assert runs[0] == runs[1]
    other = MLP(arch, np.random.default_rng(43))
    assert _state_bytes(other) != _state_bytes(MLP(arch, np.random.default_rng(42)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_dtype_is_kept_through_a_train_step(dtype: str, optimizer: str):
    model = MLP(Architecture(6, (8,), 3, dropout=0.2, dtype=dtype), np.random.default_rng(0))
    opt = make_optimizer(optimizer, model.parameters())
    X, y = _batch(dtype=np.float64)  # float64 input is cast to the model dtype
    loss, correct = train_step(
        model, opt, LOSSES["mse"](), X, y, l2=0.1, rng=np.random.default_rng(0)
    )
    assert isinstance(loss, float) and isinstance(correct, int)
    for p in model.parameters():
        assert p.value.dtype == p.grad.dtype == np.dtype(dtype), p.name
    assert model.forward(X).dtype == np.dtype(dtype)


def test_train_step_reports_the_data_loss_of_the_weights_it_saw():
    """The penalty is not in the reported loss (it is a metric of its own), only in the step."""
    model = MLP(Architecture(6, (8,), 3, dtype="float64"), np.random.default_rng(0))
    X, y = _batch(dtype=np.float64)
    expected = LOSSES["cross_entropy"]().value(model.forward(X), y)
    correct_expected = int((model.forward(X).argmax(1) == y).sum())
    opt = make_optimizer("sgd", model.parameters())
    loss, correct = train_step(
        model, opt, LOSSES["cross_entropy"](), X, y, l2=0.5, rng=np.random.default_rng(0)
    )
    assert loss == pytest.approx(expected, rel=1e-12)
    assert correct == correct_expected


def test_l2_penalty_skips_biases():
    model = MLP(Architecture(3, (2,), 2, dtype="float64"), np.random.default_rng(0))
    for p in model.parameters():
        p.value[:] = 1.0
    assert l2_penalty(model, 0.5) == pytest.approx(0.25 * (3 * 2 + 2 * 2))


def test_dropout_is_off_at_evaluation():
    X, _ = _batch()
    plain = MLP(Architecture(6, (16,), 3), np.random.default_rng(0))
    dropped = MLP(Architecture(6, (16,), 3, dropout=0.5), np.random.default_rng(0))
    np.testing.assert_array_equal(plain.forward(X), dropped.forward(X))
    a, b = dropped.predict_proba(X), dropped.predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_dropout_mask_drops_the_rate_and_scales_the_rest():
    rate = 0.25
    model = MLP(Architecture(4, (1000,), 2, dropout=rate), np.random.default_rng(0))
    model.forward(np.ones((200, 4), np.float32), train=True, rng=np.random.default_rng(1))
    mask = model._buffers[200].mask[0]
    assert set(np.unique(mask)) == {0.0, np.float32(1 / (1 - rate))}
    assert np.mean(mask == 0) == pytest.approx(rate, abs=0.01)
    assert mask.mean() == pytest.approx(1.0, abs=0.01)  # inverted: expectation unchanged


def test_dropout_needs_an_rng():
    model = MLP(Architecture(6, (4,), 3, dropout=0.5), np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        model.forward(_batch()[0], train=True)


def test_backward_needs_a_training_forward():
    model = MLP(Architecture(6, (4,), 3), np.random.default_rng(0))
    model.forward(_batch()[0])
    with pytest.raises(RuntimeError):
        model.backward(np.zeros((32, 3), np.float32))


def test_inputs_of_the_wrong_width_are_refused():
    model = MLP(Architecture(6, (4,), 3), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        model.forward(np.zeros((2, 5), np.float32))


def test_batched_prediction_equals_one_batch():
    model = MLP(Architecture(6, (8, 8), 3), np.random.default_rng(0))
    X, _ = _batch(n=103)
    # float32 sums may be ordered differently when BLAS splits another batch size over threads
    batched, whole = model.predict_proba(X, batch_size=10), model.predict_proba(X)
    np.testing.assert_allclose(batched, whole, rtol=2e-6)
    np.testing.assert_allclose(model.predict_proba(X).sum(1), 1.0, rtol=1e-6)
    labels = model.predict(X, batch_size=7)
    assert labels.dtype == np.int64 and labels.shape == (103,)
    np.testing.assert_array_equal(labels, model.predict(X))


def test_state_dict_is_a_copy_and_load_checks_it():
    model = MLP(Architecture(6, (4,), 3), np.random.default_rng(0))
    state = model.state_dict()
    assert list(state) == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    state["layers.0.W"][:] = 0
    assert np.any(model.layers[0].W.value != 0)
    model.load_state_dict(state)
    assert np.all(model.layers[0].W.value == 0)
    with pytest.raises(ValueError, match="missing"):
        model.load_state_dict({k: v for k, v in state.items() if k != "layers.1.b"})
    with pytest.raises(ValueError, match=r"layers\.0\.W"):
        model.load_state_dict({**state, "layers.0.W": state["layers.0.W"].astype(np.float64)})


def _blobs(n: int, seed: int):
    """Three well-separated Gaussian blobs in 10 dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(scale=4, size=(3, 10))
    y = rng.integers(0, 3, n)
    return (centres[y] + rng.normal(size=(n, 10))).astype(np.float32), y


@pytest.mark.parametrize(
    ("optimizer", "lr"),
    [
        ("sgd", 0.1),
        ("momentum", 0.05),
        ("nesterov", 0.05),
        ("adagrad", 0.05),
        ("rmsprop", 0.003),
        ("adam", 0.003),
        ("adamw", 0.003),
    ],
)
def test_a_small_mlp_learns_a_separable_problem(optimizer: str, lr: float):
    X, y = _blobs(600, seed=0)
    X_val, y_val = _blobs(300, seed=1)
    model = MLP(Architecture(10, (16,), 3, dropout=0.1), np.random.default_rng(0))
    opt = make_optimizer(optimizer, model.parameters(), lr=lr)
    loss = LOSSES["cross_entropy"]()
    rng = np.random.default_rng(0)
    for _ in range(10):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 32):
            idx = order[start : start + 32]
            train_step(model, opt, loss, X[idx], y[idx], l2=1e-4, rng=rng)
    val_loss, val_acc = evaluate(model, loss, X_val, y_val, batch_size=64)
    assert val_acc >= 0.95 and val_loss < 0.3
