"""The architecture of an MLP: a small frozen record, validated and bounded.

Bounds matter: `read_model_dir` trusts nothing but this record when it sizes arrays, so a crafted
architecture.json must not be able to ask for unbounded memory.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any

from hpsearch.limits import MAX_MODEL_PARAMS
from hpsearch.nn._activations import ACTIVATIONS
from hpsearch.nn._errors import ConfigError, ModelFileError
from hpsearch.nn._init import INITS

MAX_INPUT_DIM = 1 << 20
MAX_WIDTH = 1 << 16
MAX_CLASSES = 1 << 16
MAX_DEPTH = 4
MAX_PARAMS = MAX_MODEL_PARAMS  # far above any model this project trains (3 x 1024: 3 M)
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Architecture:
    """input_dim -> hidden widths (1-4 layers) -> n_classes logits."""

    input_dim: int
    hidden: tuple[int, ...]
    n_classes: int
    activation: str = "relu"
    dropout: float = 0.0  # inverted dropout after each hidden activation; off at evaluation
    init: str = "auto"  # he for the relu family, xavier for sigmoid/tanh
    init_std: float = 0.01  # only for init="normal"
    dtype: str = "float32"  # float64 for gradient checks
    image_shape: tuple[int, int] | None = None  # (h, w) of the images; None: square

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if self.image_shape is not None:
            object.__setattr__(self, "image_shape", tuple(self.image_shape))
        for problem in self._problems():
            raise ConfigError(f"invalid architecture: {problem}")

    def _problems(self) -> list[str]:
        problems = []
        if not _is_int(self.input_dim) or not 1 <= self.input_dim <= MAX_INPUT_DIM:
            problems.append(f"input_dim must be an integer in [1, {MAX_INPUT_DIM}]")
        if not 1 <= len(self.hidden) <= MAX_DEPTH:
            problems.append(f"hidden must have 1 to {MAX_DEPTH} widths, got {len(self.hidden)}")
        if not all(_is_int(w) and 1 <= w <= MAX_WIDTH for w in self.hidden):
            problems.append(f"hidden widths must be integers in [1, {MAX_WIDTH}]")
        if not _is_int(self.n_classes) or not 2 <= self.n_classes <= MAX_CLASSES:
            problems.append(f"n_classes must be an integer in [2, {MAX_CLASSES}]")
        if self.activation not in ACTIVATIONS:
            problems.append(f"activation must be one of {sorted(ACTIVATIONS)}")
        if not _is_real(self.dropout) or not 0 <= self.dropout < 1:
            problems.append("dropout must be a number in [0, 1)")
        if self.init not in INITS:
            problems.append(f"init must be one of {list(INITS)}")
        if not _is_real(self.init_std) or not 0 < self.init_std < math.inf:
            problems.append("init_std must be a positive finite number")
        if self.dtype not in DTYPES:
            problems.append(f"dtype must be one of {list(DTYPES)}")
        shape = self.image_shape
        if shape is not None and (
            len(shape) != 2 or not all(_is_int(n) and n >= 1 for n in shape)
            or shape[0] * shape[1] != self.input_dim
        ):  # fmt: skip
            problems.append("image_shape must be two positive integers h, w with h*w = input_dim")
        if not problems and self.n_params > MAX_PARAMS:
            problems.append(f"{self.n_params} parameters exceed the limit of {MAX_PARAMS}")
        return problems

    @property
    def widths(self) -> tuple[int, ...]:
        """All layer widths, input to output: (input_dim, *hidden, n_classes)."""
        return (self.input_dim, *self.hidden, self.n_classes)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, in layer order: layers.i.W (in, out), layers.i.b."""
        w = self.widths
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(w)):
            shapes[f"layers.{i}.W"] = (fan_in, fan_out)
            shapes[f"layers.{i}.b"] = (fan_out,)
        return shapes

    @property
    def n_params(self) -> int:
        w = self.widths
        return sum(a * b + b for a, b in itertools.pairwise(w))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        if self.image_shape is None:  # square images: the file stays as it was before the field
            del d["image_shape"]
        else:
            d["image_shape"] = list(self.image_shape)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Architecture:
        """Rebuild from `to_dict` output; anything missing, extra or invalid -> ModelFileError."""
        if not isinstance(d, dict):
            raise ModelFileError("architecture must be a JSON object")
        fields = set(cls.__dataclass_fields__)
        required = {"input_dim", "hidden", "n_classes"}
        if extra := set(d) - fields:
            raise ModelFileError(f"architecture has unknown fields {sorted(extra)}")
        if missing := required - set(d):
            raise ModelFileError(f"architecture lacks fields {sorted(missing)}")
        if not isinstance(d["hidden"], list | tuple):
            raise ModelFileError("architecture field 'hidden' must be a list of widths")
        shape = d.get("image_shape")
        if shape is not None and not isinstance(shape, list | tuple):
            raise ModelFileError("architecture field 'image_shape' must be a list [h, w]")
        try:
            return cls(**{**d, "hidden": tuple(d["hidden"])})
        except TypeError as exc:  # image_shape [h, w] with non-integers
            raise ModelFileError(f"architecture: {exc}") from None
        except ConfigError as exc:
            raise ModelFileError(str(exc)) from None


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
