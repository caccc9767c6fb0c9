"""The `search_space` section of a study file as a model: its parameters, their bounds, the
names each naming parameter allows, and the per-optimizer ranges (see conditional.py).

The kinds of parameter (ranges, choices, fixed values) are in ranges.py; sampling the space is
space.py's job.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from hpsearch.errors import shown
from hpsearch.nn import ACTIVATIONS, LOSSES, MAX_DEPTH, MAX_WIDTH, OPTIMIZERS
from hpsearch.study import conditional
from hpsearch.study.ranges import (
    Bound,
    Choice,
    FloatParam,
    FloatRange,
    IntParam,
    IntRange,
    NameChoice,
    Param,
    SizeChoice,
    Strict,
)
from hpsearch.train import LR_SCHEDULES

# The search-space fields that name things, and the names each allows: the engine's and the
# trainer's own registries, so a name added there is accepted in study files at once.
CHOICES: dict[str, tuple[str, ...]] = {
    "activation": tuple(ACTIVATIONS),
    "optimizer": tuple(OPTIMIZERS),
    "loss": tuple(LOSSES),
    "lr_schedule": tuple(LR_SCHEDULES),
}

# What the engine accepts for each number: both ends of a range, or the fixed value.
FRACTION = Bound(0.0, 1.0, open_high=True)
BOUNDS = {
    "lr": Bound(0.0, math.inf, open_low=True),
    "l2": Bound(0.0, math.inf),
    "weight_decay": Bound(0.0, math.inf),
    "dropout": FRACTION,
    "momentum": FRACTION,
    "rho": FRACTION,
    "beta1": FRACTION,
    "beta2": FRACTION,
    "depth": Bound(1, MAX_DEPTH),
    "width": Bound(1, MAX_WIDTH),
}


# rmsprop's momentum is its own parameter, and it may be zero (plain rmsprop), unless the
# study file says otherwise.
DEFAULT_PER_OPTIMIZER = {"momentum": {"rmsprop": FloatRange(low=0.5, high=0.99, zero=True)}}


class SearchSpace(Strict):
    """What each trial samples. Any parameter may be a fixed value instead of a range/choice."""

    lr: FloatParam = FloatRange(low=1e-4, high=0.5, log=True)
    batch_size: SizeChoice = Choice(choices=[32, 64, 128, 256])
    depth: IntParam = IntRange(low=1, high=3)
    width: IntParam = IntRange(low=32, high=512, log=True)
    per_layer_width: bool = False  # True: one width per layer (width_1..width_depth)
    activation: NameChoice = Choice(choices=["relu", "tanh", "gelu"])
    l2: FloatParam = FloatRange(low=1e-6, high=1e-2, log=True, zero=True)
    optimizer: NameChoice = Choice(choices=["sgd", "momentum", "adam"])
    momentum: FloatParam = FloatRange(low=0.5, high=0.99)  # momentum, nesterov, rmsprop
    rho: FloatParam = FloatRange(low=0.8, high=0.99)  # rmsprop's decay
    beta1: FloatParam = FloatRange.at(0.9)  # adam, adamw
    beta2: FloatParam = FloatRange.at(0.999)  # adam, adamw
    weight_decay: FloatParam = FloatRange.at(1e-2)  # adamw
    dropout: FloatParam = FloatRange.at(0.0)
    loss: NameChoice = Choice.at("cross_entropy")
    lr_schedule: NameChoice = Choice.at("constant")  # or cosine: annealed over the study's epochs
    # field -> "optimizer[, optimizer...]" -> range: see conditional.py. Last: checked against
    # the optimizers above. Merged over DEFAULT_PER_OPTIMIZER, field by field.
    per_optimizer: dict[str, dict[str, FloatParam]] = Field(default_factory=dict)

    # Field validators, not the model's: the error's path then ends at the field itself.
    @field_validator(*CHOICES)
    @classmethod
    def _known_choices(cls, value: Choice, info: ValidationInfo) -> Choice:
        allowed = CHOICES[str(info.field_name)]
        for item in value.choices:
            if item not in allowed:
                raise ValueError(f"unknown choice {shown(item)}; allowed: {', '.join(allowed)}")
        return value

    @field_validator(*BOUNDS)
    @classmethod
    def _within_bounds(cls, value: FloatRange | IntRange, info: ValidationInfo) -> Any:
        name, bound = str(info.field_name), BOUNDS[str(info.field_name)]
        ends = (value.low, value.high, *([0] if getattr(value, "zero", False) else []))
        if not all(bound.holds(end) for end in ends):
            raise ValueError(f"{name} must stay within {bound}, got {value.describe()}")
        return value

    @field_validator("batch_size")
    @classmethod
    def _positive_sizes(cls, value: Choice) -> Choice:
        if any(not isinstance(size, int) or size < 1 for size in value.choices):
            raise ValueError(f"batch_size must be positive integers, got {shown(value.choices)}")
        return value

    @field_validator("per_optimizer")
    @classmethod
    def _per_optimizer(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        optimizer = info.data.get("optimizer")
        offered = optimizer.choices if isinstance(optimizer, Choice) else []
        if "optimizer" in info.data:  # else the optimizer's own error is reported
            conditional.expand(value, offered, CONDITIONAL, BOUNDS)
        return value

    def searched(self) -> set[str]:
        """The names of the parameters sampled (not fixed); width_i with per-layer widths."""
        names = {name for name in type(self).model_fields if _is_searched(getattr(self, name))}
        if self.per_layer_width and "width" in names:
            names |= {f"width_{i}" for i in range(1, MAX_DEPTH + 1)}
        for field, ranges in self.table().items():
            names |= {f"{field}_{optimizer}" for optimizer in ranges}
        return names - {"per_optimizer"}

    def table(self) -> dict[str, dict[str, FloatRange]]:
        """per_optimizer over the defaults, expanded: field -> optimizer -> range."""
        offered = self.optimizer.choices
        defaults = {
            field: {k: v for k, v in ranges.items() if _offered(k, offered)}
            for field, ranges in DEFAULT_PER_OPTIMIZER.items()
        }
        return conditional.expand(defaults | self.per_optimizer, offered, CONDITIONAL, BOUNDS)

    def param_for(self, field: str, optimizer: str) -> tuple[str, Param]:
        """The Optuna name and the range of `field` for a trial of `optimizer`."""
        table = self.table()
        name = conditional.param_name(field, optimizer, table)
        return name, table[field][optimizer] if name != field else getattr(self, field)


def _offered(key: str, offered: list[Any]) -> bool:
    """A default entry (rmsprop's momentum) applies only when its optimizer is searched."""
    return all(name in offered for name in conditional.optimizer_names(key))


def _is_searched(value: Any) -> bool:
    return isinstance(value, Param) and not value.fixed


# Conditional parameters: which optimizers use them.
CONDITIONAL = {
    "momentum": ("momentum", "nesterov", "rmsprop"),
    "rho": ("rmsprop",),
    "beta1": ("adam", "adamw"),
    "beta2": ("adam", "adamw"),
    "weight_decay": ("adamw",),
}
