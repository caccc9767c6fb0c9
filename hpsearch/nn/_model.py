"""The multilayer perceptron: Dense layers, one activation, optional dropout, logits out."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from hpsearch.nn._activations import get_activation
from hpsearch.nn._architecture import Architecture
from hpsearch.nn._init import init_weight, resolve_init
from hpsearch.nn._layers import Dense, Dropout
from hpsearch.nn._losses import softmax
from hpsearch.nn._parameter import Parameter, pack

_MAX_CACHED_BATCH_SIZES = 4


@dataclass
class _Buffers:
    """Per-batch-size work arrays, reused across steps: one list entry per hidden layer."""

    z: list[np.ndarray]  # pre-activations (N, h); the same arrays as `a` unless gelu
    a: list[np.ndarray]  # activations (N, h), kept for the derivative
    h: list[np.ndarray]  # outputs after dropout (N, h): the next layer's input; `a` without dropout
    da: list[np.ndarray]  # dL/da, turned in place into dL/dz (N, h)
    mask: list[np.ndarray]  # scaled dropout masks (N, h); empty without dropout


class MLP:
    """input (N, D) -> [Dense -> activation -> dropout] x len(hidden) -> Dense -> logits (N, C).

    Forward keeps the arrays backward needs (inputs and activations) in reused buffers, so
    `backward` must follow the `forward(train=True)` it differentiates, with X unchanged.
    """

    def __init__(self, arch: Architecture, rng: np.random.Generator) -> None:
        self.arch = arch
        self.dtype = np.dtype(arch.dtype)
        self.activation = get_activation(arch.activation)
        self.dropout = Dropout(arch.dropout) if arch.dropout > 0 else None
        scheme = resolve_init(arch.init, arch.activation)
        self.layers: list[Dense] = []
        w = arch.widths
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(w)):
            W = init_weight(rng, fan_in, fan_out, scheme, std=arch.init_std, dtype=self.dtype)
            self.layers.append(Dense(f"layers.{i}", W, np.zeros(fan_out, self.dtype)))
        pack(self.parameters())  # one flat buffer: optimizers walk it in few, cache-sized calls
        self._buffers: dict[int, _Buffers] = {}
        self._x: np.ndarray | None = None  # the input of the last training forward
        self._n: int | None = None  # its batch size: the buffers backward reads
        self._used_dropout = False

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def n_params(self) -> int:
        return sum(p.value.size for p in self.parameters())

    def forward(
        self, X: np.ndarray, *, train: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Logits (N, C), a new array, for inputs X (N, D).

        train=True applies dropout (drawing from `rng`) and keeps what `backward` needs.
        """
        X = self._as_input(X)
        use_dropout = train and self.dropout is not None
        if use_dropout and rng is None:
            raise ValueError("forward(train=True) with dropout needs an rng")
        buf = self._buffers_for(X.shape[0])
        h = X
        for i, layer in enumerate(self.layers[:-1]):
            z = layer.forward(h, out=buf.z[i])
            h = self.activation.forward(z, out=buf.a[i])
            if use_dropout:
                assert self.dropout is not None and rng is not None
                h = np.multiply(h, self.dropout.mask(rng, buf.mask[i]), out=buf.h[i])
        logits = self.layers[-1].forward(h)  # small (N, C): fresh, safe for callers to keep
        self._x, self._n = (X, X.shape[0]) if train else (None, None)
        self._used_dropout = use_dropout
        return logits

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill every Parameter.grad from dL/dlogits (N, C) of the last forward(train=True)."""
        if self._x is None or self._n is None or self._n != dlogits.shape[0]:
            raise RuntimeError("backward() needs a preceding forward(train=True) on this batch")
        buf = self._buffers[self._n]
        inputs = [self._x, *(buf.h if self._used_dropout else buf.a)]  # input of layer i
        dz = dlogits
        for i in range(len(self.layers) - 1, -1, -1):
            dx = buf.da[i - 1] if i > 0 else None
            self.layers[i].backward(inputs[i], dz, dx)
            if dx is not None:
                if self._used_dropout:
                    dx *= buf.mask[i - 1]
                dz = self.activation.backward(buf.z[i - 1], buf.a[i - 1], dx)

    def predict_proba(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities (N, C), computed in batches so memory stays bounded."""
        out = np.empty((len(X), self.arch.n_classes), self.dtype)
        for start in range(0, len(X), batch_size):
            out[start : start + batch_size] = softmax(self.forward(X[start : start + batch_size]))
        return out

    def predict(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Predicted labels (N,) int64, computed in batches."""
        out = np.empty(len(X), np.int64)
        for start in range(0, len(X), batch_size):
            out[start : start + batch_size] = self.forward(X[start : start + batch_size]).argmax(1)
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter, keyed "layers.i.W" / "layers.i.b", in layer order."""
        return {p.name: p.value.copy() for p in self.parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy `state` into the parameters; names, shapes and dtypes must match exactly."""
        params = self.parameters()
        expected = {p.name for p in params}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(f"state dict mismatch: missing {missing}, unexpected {extra}")
        for p in params:
            v = state[p.name]
            if (
                not isinstance(v, np.ndarray)
                or v.shape != p.value.shape
                or v.dtype != p.value.dtype
            ):
                got = f"{getattr(v, 'shape', '?')} {getattr(v, 'dtype', type(v).__name__)}"
                raise ValueError(f"{p.name}: expected {p.value.shape} {p.value.dtype}, got {got}")
        for p in params:
            np.copyto(p.value, state[p.name])

    def _as_input(self, X: np.ndarray) -> np.ndarray:
        """X as a C-contiguous (N, input_dim) array of the model dtype (no copy if it is one)."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.arch.input_dim:
            raise ValueError(f"expected inputs of shape (N, {self.arch.input_dim}), got {X.shape}")
        return X

    def _buffers_for(self, n: int) -> _Buffers:
        if n not in self._buffers:
            if len(self._buffers) >= _MAX_CACHED_BATCH_SIZES:
                # Drop the oldest size, but never the one a pending backward still needs.
                oldest = next(k for k in self._buffers if k != self._n)
                del self._buffers[oldest]
            self._buffers[n] = self._allocate(n)
        return self._buffers[n]

    def _allocate(self, n: int) -> _Buffers:
        hidden, dt = self.arch.hidden, self.dtype
        z = [np.empty((n, h), dt) for h in hidden]
        a = [np.empty((n, h), dt) for h in hidden] if self.activation.needs_z else z
        da = [np.empty((n, h), dt) for h in hidden]
        drop = self.dropout is not None
        h = [np.empty((n, w), dt) for w in hidden] if drop else a
        mask = [np.empty((n, w), dt) for w in hidden] if drop else []
        return _Buffers(z=z, a=a, h=h, da=da, mask=mask)
