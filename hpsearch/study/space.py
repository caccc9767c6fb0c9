"""The search space: a study's `search_space` -> Optuna suggestions -> a TrainConfig.

Sampling (`suggest`) and resolving (`resolve`) are separate so that a stored trial's
parameters rebuild exactly the same TrainConfig (replay) without a live trial. The kinds of
parameter (ranges, choices, fixed values) are in ranges.py, the space as a model in
space_model.py.
"""

from __future__ import annotations

from typing import Any, Protocol

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hpsearch.errors import shown
from hpsearch.nn import MAX_DEPTH
from hpsearch.study import conditional
from hpsearch.study.ranges import (
    Choice,
    FloatRange,
    IntRange,
    Param,
)
from hpsearch.study.space_model import CONDITIONAL, SearchSpace
from hpsearch.train import TrainConfig

_SAMPLED = ("lr", "batch_size", "depth", "activation", "l2", "dropout", "loss", "lr_schedule")


class TrialLike(Protocol):
    """What `suggest` needs from an optuna.Trial (FixedTrial works too)."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...
    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def _draw(trial: TrialLike, name: str, spec: Param) -> Any:
    """One parameter: sampled when it is a range or a choice, else the fixed value itself."""
    if spec.fixed:
        return spec.value
    if isinstance(spec, FloatRange):
        if spec.zero and not trial.suggest_categorical(f"{name}_enabled", [False, True]):
            return 0.0
        return trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    if isinstance(spec, IntRange):
        return trial.suggest_int(name, spec.low, spec.high, log=spec.log)
    assert isinstance(spec, Choice)
    return trial.suggest_categorical(name, spec.choices)


def _draw_for(trial: TrialLike, space: SearchSpace, field: str, optimizer: str) -> Any:
    """`field` as a trial of `optimizer` samples it (its own range in per_optimizer, if any)."""
    name, spec = space.param_for(field, optimizer)
    return _draw(trial, name, spec)


def suggest(space: SearchSpace, trial: TrialLike) -> dict[str, Any]:
    """Sample one point of the space. Returns the values a TrainConfig is built from.

    The optimizer first: other ranges may depend on it. adamw decays weights itself, so it
    gets no coupled L2 penalty.
    """
    optimizer = _draw(trial, "optimizer", space.optimizer)
    values = {"optimizer": optimizer}
    for name in _SAMPLED:
        if name == "l2" and optimizer in conditional.DECOUPLED_DECAY:
            values[name] = 0.0
        elif name in conditional.PER_OPTIMIZER_FIELDS:
            values[name] = _draw_for(trial, space, name, optimizer)
        else:
            values[name] = _draw(trial, name, getattr(space, name))
    if space.per_layer_width:
        values["hidden"] = [
            _draw(trial, f"width_{i}", space.width) for i in range(1, values["depth"] + 1)
        ]
    else:
        values["hidden"] = [_draw(trial, "width", space.width)] * values["depth"]
    for name, optimizers in CONDITIONAL.items():
        if optimizer in optimizers:
            values[name] = _draw_for(trial, space, name, optimizer)
    return values


def resolve(values: dict[str, Any], *, epochs: int, seed: int) -> TrainConfig:
    """The TrainConfig of one point of the space (as returned by `suggest`)."""
    optimizer_params = {"lr": float(values["lr"])}
    for name, optimizers in CONDITIONAL.items():
        if values["optimizer"] in optimizers:
            optimizer_params[name] = float(values[name])
    return TrainConfig(
        hidden=tuple(int(width) for width in values["hidden"]),
        activation=str(values["activation"]),
        optimizer=str(values["optimizer"]),
        optimizer_params=optimizer_params,
        batch_size=int(values["batch_size"]),
        l2=float(values["l2"]),
        dropout=float(values["dropout"]),
        epochs=epochs,
        seed=seed,
        loss=str(values["loss"]),
        lr_schedule=str(values["lr_schedule"]),
    )


# Enqueue may say `hidden: [50]` or `l2: 0`; these are the names a trial really samples.
FRIENDLY_KEYS = {"hidden", "l2"}


class _Recorder:
    """A stand-in trial that answers from given values: used to translate and check enqueues."""

    def __init__(self, given: dict[str, Any]) -> None:
        self.given = given
        self.params: dict[str, Any] = {}

    def _answer(self, name: str, spec: Param) -> Any:
        label = name.removesuffix("_enabled")
        if name not in self.given and label not in self.given:
            raise ValueError(f"missing value for searched parameter {label!r}")
        # `momentum_rmsprop_enabled` is given as `momentum: 0` or `momentum: 0.9`
        value = self.given[name] if name in self.given else self.given[label] != 0
        if not spec.contains(value):
            where = f"lies outside the search space ({spec.describe()})"
            raise ValueError(f"{name}={shown(value)} {where}")
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self._answer(name, FloatRange(low=low, high=high, log=log)))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        return int(self._answer(name, IntRange(low=low, high=high, log=log)))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._answer(name, Choice(choices=list(choices)))


def _expand(space: SearchSpace, values: dict[str, Any]) -> dict[str, Any]:
    """Turn the friendly keys (`hidden`, `l2: 0`) into the names a trial samples."""
    given = {k: v for k, v in values.items() if k not in FRIENDLY_KEYS}
    if "hidden" in values:
        hidden = list(values["hidden"])
        given.setdefault("depth", len(hidden))
        if space.per_layer_width:
            given.update({f"width_{i}": w for i, w in enumerate(hidden, start=1)})
        elif len(set(hidden)) == 1:
            given.setdefault("width", hidden[0])
        else:
            need = "needs per_layer_width: true in the search space"
            raise ValueError(f"hidden={shown(hidden)} {need}")
    optimizer = values.get("optimizer", space.optimizer.value if space.optimizer.fixed else None)
    if optimizer in conditional.DECOUPLED_DECAY and values.get("l2", 0) != 0:
        raise ValueError(f"{optimizer} decays weights itself (weight_decay); its l2 must be 0")
    if "l2" in values and optimizer not in conditional.DECOUPLED_DECAY:
        given["l2_enabled"] = values["l2"] != 0
        if values["l2"] != 0:
            given["l2"] = values["l2"]
    return _per_optimizer_names(space, given, optimizer)


def _per_optimizer_names(
    space: SearchSpace, given: dict[str, Any], optimizer: Any
) -> dict[str, Any]:
    """`lr: 0.001` of an adam point is `lr_adam` when adam has its own lr range."""
    for field in space.table():
        name, _ = space.param_for(field, str(optimizer))
        for suffix in ("", "_enabled"):
            if name != field and field + suffix in given:
                given[name + suffix] = given.pop(field + suffix)
    return given


def enqueue_params(space: SearchSpace, values: dict[str, Any]) -> dict[str, Any]:
    """The Optuna parameters of a fixed trial, checked against the space (ValueError if not)."""
    given = _expand(space, values)
    recorder = _Recorder(given)
    suggest(space, recorder)
    unused = sorted(set(given) - set(recorder.params) - {"l2_enabled"})
    searched = sorted(space.searched())
    if unused and not set(unused) <= set(searched) | {"width", "momentum", "rho"}:
        raise ValueError(
            f"unknown parameter(s) {shown(', '.join(unused[:50]))}; searched: {', '.join(searched)}"
        )
    return recorder.params


def project(space: SearchSpace, values: dict[str, Any]) -> dict[str, Any] | None:
    """The Optuna parameters of `space` for a configuration sampled in another space (as
    `suggest` returned it); None when `space` cannot express exactly that configuration."""
    friendly = {key: value for key, value in values.items() if key != "depth"}
    recorder = _Recorder(_expand(space, friendly))
    try:
        ours = resolve(suggest(space, recorder), epochs=1, seed=0)
    except (ValueError, TypeError):
        return None
    same = ours == resolve(values, epochs=1, seed=0)
    return recorder.params if same else None


def check_enqueued(space: SearchSpace, values: Any, where: str) -> None:
    """Validation hook of StudyConfig: an enqueued trial must lie inside the space."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping of parameter values")
    try:
        enqueue_params(space, values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None


class _DistributionRecorder:
    """A stand-in trial that records the Optuna distribution of every parameter it is asked
    for; `*_enabled` answers True so that the range behind it is asked for too."""

    def __init__(self) -> None:
        self.found: dict[str, BaseDistribution] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.found[name] = FloatDistribution(low, high, log=log)
        return low

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        self.found[name] = IntDistribution(low, high, log=log)
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.found[name] = CategoricalDistribution(list(choices))
        return choices[-1]


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """Every Optuna parameter the space can sample (all conditional branches, every width_i),
    with its distribution."""
    recorder = _DistributionRecorder()
    widths = [f"width_{i}" for i in range(1, MAX_DEPTH + 1)] if space.per_layer_width else ["width"]
    for name in ("optimizer", *_SAMPLED, *CONDITIONAL):
        _draw(recorder, name, getattr(space, name))
    for field, ranges in space.table().items():  # the optimizers' own ranges
        for optimizer in ranges:
            _draw_for(recorder, space, field, optimizer)
    for name in widths:
        _draw(recorder, name, space.width)
    return recorder.found
