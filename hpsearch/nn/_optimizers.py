"""First-order optimizers, each a class holding its own per-parameter state.

Updates run in place with `out=` and one scratch buffer per unit, so a step allocates nothing.
What a step walks is chosen in `_kernels`: by default cache-sized blocks of the parameters'
flat buffers (an MLP packs its own, see `pack`), else each parameter whole. Hyperparameters
are kept as Python floats: NumPy treats them as weak scalars, so float32 parameters are never
upcast to float64. Formulas follow PyTorch's conventions (momentum buffers without dampening,
Adam's bias correction, AdamW's decoupled decay).
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from hpsearch.nn._errors import ConfigError
from hpsearch.nn._kernels import flush_subnormals, update_units
from hpsearch.nn._parameter import Parameter


class Optimizer:
    """Updates `params` in place from their `.grad` on each `step()`.

    State arrays (velocity, moments) are kept per unit of `update_units(params)`.
    """

    name = ""

    def __init__(self, params: list[Parameter], lr: float) -> None:
        self.params = list(params)
        self.units = update_units(self.params)
        self.lr = _positive("lr", lr)
        self.t = 0  # steps taken

    def step(self) -> None:
        self.t += 1
        for i, p in enumerate(self.units):
            self._update(i, p)
        flush_subnormals(self._decaying(), self.t)

    def _update(self, i: int, p: Parameter) -> None:
        raise NotImplementedError

    def _decaying(self) -> list[tuple[list[np.ndarray], float]]:
        """State that shrinks by a factor each step where gradients are zero: (arrays, factor)."""
        return []

    def _zeros(self) -> list[np.ndarray]:
        """One zero state array per unit."""
        return [np.zeros_like(p.value) for p in self.units]


class SGD(Optimizer):
    """p -= lr * g"""

    name = "sgd"

    def __init__(self, params: list[Parameter], lr: float = 0.01) -> None:
        super().__init__(params, lr)

    def _update(self, i: int, p: Parameter) -> None:
        s = np.multiply(p.grad, self.lr, out=p.scratch())
        p.value -= s


class Momentum(Optimizer):
    """Heavy ball: v = momentum * v + g; p -= lr * v."""

    name = "momentum"

    def __init__(self, params: list[Parameter], lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(params, lr)
        self.momentum = _fraction("momentum", momentum)
        self.velocity = self._zeros()

    def _decaying(self) -> list[tuple[list[np.ndarray], float]]:
        return [(self.velocity, self.momentum)]

    def _update(self, i: int, p: Parameter) -> None:
        v = self.velocity[i]
        v *= self.momentum
        v += p.grad
        s = np.multiply(v, self.lr, out=p.scratch())
        p.value -= s


class Nesterov(Momentum):
    """Nesterov momentum (PyTorch form): v = momentum * v + g; p -= lr * (g + momentum * v)."""

    name = "nesterov"

    def _update(self, i: int, p: Parameter) -> None:
        v = self.velocity[i]
        v *= self.momentum
        v += p.grad
        s = np.multiply(v, self.momentum, out=p.scratch())
        s += p.grad
        s *= self.lr
        p.value -= s


class Adagrad(Optimizer):
    """G += g^2; p -= lr * g / (sqrt(G) + eps)."""

    name = "adagrad"

    def __init__(self, params: list[Parameter], lr: float = 0.01, eps: float = 1e-10) -> None:
        super().__init__(params, lr)
        self.eps = _positive("eps", eps)
        self.sum_sq = self._zeros()

    def _update(self, i: int, p: Parameter) -> None:
        G, s = self.sum_sq[i], p.scratch()
        np.multiply(p.grad, p.grad, out=s)
        G += s
        _step_scaled(p, G, s, numer=p.grad, step=self.lr, eps=self.eps)


class RMSprop(Optimizer):
    """E = rho * E + (1 - rho) * g^2; p -= lr * g / (sqrt(E) + eps).

    With momentum > 0 (PyTorch's form, centered=False): b = momentum * b + g / (sqrt(E) + eps);
    p -= lr * b. Momentum 0 keeps no buffer and takes exactly the plain step.
    """

    name = "rmsprop"

    def __init__(
        self,
        params: list[Parameter],
        lr: float = 0.001,
        rho: float = 0.9,
        eps: float = 1e-8,
        momentum: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.rho = _fraction("rho", rho)
        self.eps = _positive("eps", eps)
        self.momentum = _fraction("momentum", momentum)
        self.mean_sq = self._zeros()
        self.velocity = self._zeros() if self.momentum else []

    def _decaying(self) -> list[tuple[list[np.ndarray], float]]:
        return [(self.mean_sq, self.rho), (self.velocity, self.momentum)]

    def _update(self, i: int, p: Parameter) -> None:
        E, s = self.mean_sq[i], p.scratch()
        _ema_square(E, p.grad, self.rho, s)
        if not self.momentum:
            _step_scaled(p, E, s, numer=p.grad, step=self.lr, eps=self.eps)
            return
        b = self.velocity[i]
        _scaled(p.grad, E, s, eps=self.eps)
        b *= self.momentum
        b += s
        np.multiply(b, self.lr, out=s)
        p.value -= s


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction.

    m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).

    The state holds m and v divided by (1-b1) and (1-b2): M = b1 M + g and V = b2 V + g^2
    then cost two and three passes over memory instead of three and four, and every constant
    folds into two scalars per step. This is the hot path of most trials.
    """

    name = "adam"

    def __init__(
        self,
        params: list[Parameter],
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        self.beta1 = _fraction("beta1", beta1)
        self.beta2 = _fraction("beta2", beta2)
        self.eps = _positive("eps", eps)
        self.m = self._zeros()
        self.v = self._zeros()

    def _decaying(self) -> list[tuple[list[np.ndarray], float]]:
        return [(self.m, self.beta1), (self.v, self.beta2)]

    def step(self) -> None:
        # With m = (1-b1) M and v = (1-b2) V, and c = sqrt((1-b2)/(1-b2^t)):
        # p -= lr (1-b1)/((1-b1^t) c) * M / (sqrt(V) + eps/c).
        self.t += 1
        c = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**self.t))
        self._inv_step = (1.0 - self.beta1**self.t) * c / (self.lr * (1.0 - self.beta1))
        self._eps_hat = self.eps / c
        for i, p in enumerate(self.units):
            self._update(i, p)
        flush_subnormals(self._decaying(), self.t)

    def _update(self, i: int, p: Parameter) -> None:
        M, V, s, g = self.m[i], self.v[i], p.scratch(), p.grad
        M *= self.beta1
        M += g
        np.multiply(g, g, out=s)
        V *= self.beta2
        V += s
        np.sqrt(V, out=s)
        s += self._eps_hat
        s *= self._inv_step
        np.divide(M, s, out=s)
        p.value -= s


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr*wd before the step.

    Decay applies to weights only (Parameter.decay), like the L2 penalty; biases are not decayed.
    """

    name = "adamw"

    def __init__(
        self,
        params: list[Parameter],
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(params, lr, beta1, beta2, eps)
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ConfigError(f"weight_decay must be a finite number >= 0, got {weight_decay}")
        self.weight_decay = float(weight_decay)

    def _update(self, i: int, p: Parameter) -> None:
        if p.decay and self.weight_decay:
            p.value *= 1.0 - self.lr * self.weight_decay
        super()._update(i, p)


def _ema_square(E: np.ndarray, g: np.ndarray, decay: float, s: np.ndarray) -> None:
    """E = decay*E + (1-decay)*g^2 in place, using scratch s."""
    np.multiply(g, g, out=s)
    s -= E
    s *= 1.0 - decay
    E += s


def _step_scaled(
    p: Parameter, sq: np.ndarray, s: np.ndarray, *, numer: np.ndarray, step: float, eps: float
) -> None:
    """p -= step * numer / (sqrt(sq) + eps) in place, using scratch s."""
    _scaled(numer, sq, s, eps=eps)
    s *= step
    p.value -= s


def _scaled(numer: np.ndarray, sq: np.ndarray, s: np.ndarray, *, eps: float) -> None:
    """s = numer / (sqrt(sq) + eps), in place in s."""
    np.sqrt(sq, out=s)
    s += eps
    np.divide(numer, s, out=s)


def _positive(name: str, x: float) -> float:
    if not (isinstance(x, numbers.Real) and math.isfinite(x) and x > 0):
        raise ConfigError(f"{name} must be a positive finite number, got {x!r}")
    return float(x)


def _fraction(name: str, x: float) -> float:
    if not (isinstance(x, numbers.Real) and 0 <= x < 1):
        raise ConfigError(f"{name} must be in [0, 1), got {x!r}")
    return float(x)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad, RMSprop, Adam, AdamW)
}


def hyperparameters(name: str) -> dict[str, float]:
    """The hyperparameters optimizer `name` accepts, with their defaults."""
    sig = inspect.signature(OPTIMIZERS[name].__init__)
    return {k: v.default for k, v in sig.parameters.items() if k not in ("self", "params")}


def make_optimizer(name: str, params: list[Parameter], **hparams: float) -> Optimizer:
    """The optimizer `name` over `params`; unknown names or hyperparameters -> ConfigError."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    allowed = hyperparameters(name)
    if unknown := sorted(set(hparams) - set(allowed)):
        raise ConfigError(f"optimizer {name!r} does not take {unknown}; it takes {sorted(allowed)}")
    return OPTIMIZERS[name](params, **hparams)
