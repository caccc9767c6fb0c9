"""Ranges that depend on the optimizer: `search_space.per_optimizer`.

    search_space:
      lr: {low: 1.0e-4, high: 0.3, log: true}       # for optimizers not named below
      per_optimizer:
        lr:
          sgd, momentum, nesterov: {low: 0.01, high: 0.5, log: true}
          adam, adamw: {low: 1.0e-4, high: 3.0e-3, log: true}
        momentum:
          rmsprop: {low: 0.5, high: 0.99, zero: true}  # rmsprop may run without momentum

A key names one optimizer or several, comma-separated. Each optimizer named gets its own
parameter (`lr_adam`, `momentum_rmsprop`), so the sampler models each optimizer's range apart;
the others keep the shared field. Checked against the optimizers the space offers and against
the field's bounds, like any range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpsearch.study.ranges import Bound, FloatRange

# Float fields whose range may depend on the optimizer.
PER_OPTIMIZER_FIELDS = ("lr", "l2", "momentum", "rho", "beta1", "beta2", "weight_decay", "dropout")
# Optimizers that decay weights themselves (decoupled): no coupled L2 penalty on top.
DECOUPLED_DECAY = ("adamw",)


def optimizer_names(key: str) -> list[str]:
    return [name.strip() for name in key.split(",") if name.strip()]


def expand(
    per_optimizer: Mapping[str, Mapping[str, FloatRange]],
    offered: list[Any],
    users: Mapping[str, tuple[str, ...]],
    bounds: Mapping[str, Bound],
) -> dict[str, dict[str, FloatRange]]:
    """field -> optimizer -> range. ValueError (naming field and key) for a field that cannot
    depend on the optimizer, an optimizer not offered or named twice, or a range out of bounds.

    `users` gives the optimizers a conditional parameter belongs to (momentum: momentum,
    nesterov, rmsprop); `bounds` what the engine accepts for each field.
    """
    table: dict[str, dict[str, FloatRange]] = {}
    for field, ranges in per_optimizer.items():
        if field not in PER_OPTIMIZER_FIELDS:
            allowed = ", ".join(PER_OPTIMIZER_FIELDS)
            raise ValueError(f"{field}: cannot depend on the optimizer; allowed: {allowed}")
        table[field] = {}
        for key, spec in ranges.items():
            where = f"{field}.{key}"
            _check_range(where, field, spec, bounds.get(field))
            for name in optimizer_names(key) or [key]:
                _check_name(where, field, name, offered, users.get(field), table[field])
                table[field][name] = spec
    return table


def _check_name(
    where: str,
    field: str,
    name: str,
    offered: list[Any],
    users: tuple[str, ...] | None,
    seen: Mapping[str, FloatRange],
) -> None:
    if name not in offered:
        listed = ", ".join(map(str, offered))
        raise ValueError(f"{where}: {name!r} is not among the optimizers searched ({listed})")
    if users is not None and name not in users:
        raise ValueError(f"{where}: {name} takes no {field} (only {', '.join(users)} do)")
    if field == "l2" and name in DECOUPLED_DECAY:
        raise ValueError(f"{where}: {name} uses weight_decay (decoupled), never l2")
    if name in seen:
        raise ValueError(f"{where}: {name} is given a {field} range twice")


def _check_range(where: str, field: str, spec: FloatRange, bound: Bound | None) -> None:
    ends = (spec.low, spec.high, *([0] if spec.zero else []))
    if bound is not None and not all(bound.holds(end) for end in ends):
        raise ValueError(f"{where}: {field} must stay within {bound}, got {spec.describe()}")


def param_name(field: str, optimizer: str, table: Mapping[str, Mapping[str, FloatRange]]) -> str:
    """The Optuna parameter `field` is sampled as for `optimizer`: its own, or the shared one."""
    return f"{field}_{optimizer}" if optimizer in table.get(field, {}) else field
