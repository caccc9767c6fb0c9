"""Each optimizer's update against a hand-written formula, and against torch.optim if present."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from hpsearch.nn import OPTIMIZERS, ConfigError, Parameter, hyperparameters, make_optimizer

# Every optimizer at its defaults, plus the variants that take another code path.
CASES = [(name, {}) for name in sorted(OPTIMIZERS)] + [("rmsprop", {"momentum": 0.9})]
CASE_IDS = [name + "".join(f"-{k}" for k in hp) for name, hp in CASES]

P0 = np.array([[0.5, -1.0], [2.0, 0.25]])
G1 = np.array([[0.1, -0.2], [0.3, -0.4]])
G2 = np.array([[-0.05, 0.5], [0.2, 0.0]])


def _two_steps(name: str, **hp: float) -> np.ndarray:
    """Parameter value after steps with gradients G1 then G2."""
    p = Parameter("w", P0.copy(), decay=True)
    opt = make_optimizer(name, [p], **hp)
    for g in (G1, G2):
        p.grad[:] = g
        opt.step()
    return p.value


def _adam_reference(lr, b1, b2, eps, wd=0.0) -> np.ndarray:
    p, m, v = P0.copy(), 0.0, 0.0
    for t, g in enumerate((G1, G2), start=1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def _rmsprop_reference(lr, rho, eps, momentum) -> np.ndarray:
    p, e, b = P0.copy(), 0.0, 0.0
    for g in (G1, G2):
        e = rho * e + (1 - rho) * g**2
        if momentum:
            b = momentum * b + g / (np.sqrt(e) + eps)
            p = p - lr * b
        else:
            p = p - lr * g / (np.sqrt(e) + eps)
    return p


def _expected(name: str, hp: dict) -> np.ndarray:
    lr = 0.1
    if name == "sgd":
        return P0 - lr * G1 - lr * G2
    if name in ("momentum", "nesterov"):
        v1 = G1
        v2 = 0.9 * v1 + G2
        if name == "momentum":
            return P0 - lr * v1 - lr * v2
        return P0 - lr * (G1 + 0.9 * v1) - lr * (G2 + 0.9 * v2)
    if name == "adagrad":
        s1 = G1**2
        s2 = s1 + G2**2
        p1 = P0 - lr * G1 / (np.sqrt(s1) + 1e-10)
        return p1 - lr * G2 / (np.sqrt(s2) + 1e-10)
    if name == "rmsprop":
        return _rmsprop_reference(lr, rho=0.9, eps=1e-8, momentum=hp.get("momentum", 0.0))
    if name == "adam":
        return _adam_reference(lr, 0.9, 0.999, 1e-8)
    if name == "adamw":
        return _adam_reference(lr, 0.9, 0.999, 1e-8, wd=0.01)
    raise AssertionError(name)


@pytest.mark.parametrize(("name", "hp"), CASES, ids=CASE_IDS)
def test_update_matches_hand_written_formula(name: str, hp: dict):
    got = _two_steps(name, lr=0.1, **hp)
    np.testing.assert_allclose(got, _expected(name, hp), rtol=1e-12, atol=1e-14)


def test_rmsprop_without_momentum_keeps_no_buffer():
    # Momentum 0 takes the plain step's code path: trials stored before rmsprop had momentum
    # replay bit for bit.
    opt = make_optimizer("rmsprop", [Parameter("w", P0.copy(), decay=True)], momentum=0.0)
    assert opt.velocity == []


def test_first_adam_step_is_lr_times_sign():
    # With bias correction the first step is lr * g/|g| (eps aside): a classic sanity check.
    p = Parameter("w", P0.copy(), decay=True)
    opt = make_optimizer("adam", [p], lr=0.01)
    p.grad[:] = G1
    opt.step()
    np.testing.assert_allclose(P0 - p.value, 0.01 * np.sign(G1), rtol=1e-6)


def test_adamw_never_decays_biases():
    b = Parameter("b", np.ones(3), decay=False)
    opt = make_optimizer("adamw", [b], lr=0.1, weight_decay=0.5)
    opt.step()  # zero gradient: only decay could move it
    np.testing.assert_array_equal(b.value, np.ones(3))


def _torch_optimizer(torch, name: str, params, lr: float, hp: dict):
    o = torch.optim
    momentum = hp.get("momentum", 0.0)
    wd_groups = [{"params": [params[0]]}, {"params": [params[1]], "weight_decay": 0.0}]
    return {
        "sgd": lambda: o.SGD(params, lr=lr),
        "momentum": lambda: o.SGD(params, lr=lr, momentum=0.9),
        "nesterov": lambda: o.SGD(params, lr=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: o.Adagrad(params, lr=lr, eps=1e-10),
        "rmsprop": lambda: o.RMSprop(params, lr=lr, alpha=0.9, eps=1e-8, momentum=momentum),
        "adam": lambda: o.Adam(params, lr=lr),
        "adamw": lambda: o.AdamW(wd_groups, lr=lr, weight_decay=0.01),
    }[name]()


@pytest.mark.parametrize(("name", "hp"), CASES, ids=CASE_IDS)
def test_update_matches_torch(name: str, hp: dict):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(size=(4, 3)), rng.normal(size=3)
    ours = [Parameter("W", w0.copy(), decay=True), Parameter("b", b0.copy(), decay=False)]
    theirs = [torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    opt = make_optimizer(name, ours, lr=0.05, **hp)
    topt = _torch_optimizer(torch, name, theirs, lr=0.05, hp=hp)
    for _ in range(5):
        grads = [rng.normal(size=w0.shape), rng.normal(size=b0.shape)]
        for p, t, g in zip(ours, theirs, grads, strict=True):
            p.grad[:] = g
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.value, t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "hp"), CASES, ids=CASE_IDS)
def test_float32_state_stays_float32(name: str, hp: dict):
    p = Parameter("w", P0.astype(np.float32), decay=True)
    opt = make_optimizer(name, [p], **hp)
    p.grad[:] = G1
    opt.step()
    assert p.value.dtype == np.float32
    for value in vars(opt).values():
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            assert all(a.dtype == np.float32 for a in value)


@pytest.mark.parametrize(("name", "hp"), CASES, ids=CASE_IDS)
def test_a_step_allocates_nothing(name: str, hp: dict):
    p = Parameter("w", np.ones((256, 256)), decay=True)  # 512 KiB: a copy would show
    opt = make_optimizer(name, [p], **hp)
    p.grad[:] = 0.01
    opt.step()  # the first step creates the scratch buffer
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_unknown_optimizer_lists_the_choices():
    with pytest.raises(ValueError, match="adamw") as info:
        make_optimizer("lbfgs", [])
    assert isinstance(info.value, ConfigError)
    for name in OPTIMIZERS:
        assert name in str(info.value)


def test_unknown_hyperparameter_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"\['beta1', 'beta2', 'eps', 'lr'\]"):
        make_optimizer("adam", [], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="rho"):
        make_optimizer("rmsprop", [], beta1=0.9)


@pytest.mark.parametrize(
    ("name", "hp"),
    [
        ("sgd", {"lr": 0.0}),
        ("sgd", {"lr": math.nan}),
        ("momentum", {"momentum": 1.0}),
        ("adam", {"beta2": -0.1}),
        ("adamw", {"weight_decay": -1.0}),
        ("adagrad", {"eps": 0}),
        ("rmsprop", {"momentum": 1.0}),
        ("rmsprop", {"momentum": -0.5}),
    ],
)
def test_bad_hyperparameter_values_are_refused(name: str, hp: dict):
    with pytest.raises(ValueError):
        make_optimizer(name, [], **hp)


def test_hyperparameter_names_follow_the_contract():
    assert hyperparameters("momentum") == {"lr": 0.01, "momentum": 0.9}
    assert set(hyperparameters("rmsprop")) == {"lr", "rho", "eps", "momentum"}
    assert hyperparameters("rmsprop")["momentum"] == 0.0  # plain RMSprop unless asked
    assert set(hyperparameters("adamw")) == {"lr", "beta1", "beta2", "eps", "weight_decay"}
