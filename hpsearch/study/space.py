"""The search space: a study's `search_space` -> Optuna suggestions -> a TrainConfig.

Sampling (`suggest`) and resolving (`resolve`) are separate so that a stored trial's
parameters rebuild exactly the same TrainConfig (replay) without a live trial.
"""

from __future__ import annotations

from typing import Any, Protocol

from hpsearch.study.config import Choice, FloatRange, IntRange, SearchSpace
from hpsearch.train import TrainConfig

Range = FloatRange | IntRange | Choice
# Conditional parameters: which optimizers use them.
CONDITIONAL = {
    "momentum": ("momentum", "nesterov", "rmsprop"),
    "rho": ("rmsprop",),
    "beta1": ("adam", "adamw"),
    "beta2": ("adam", "adamw"),
    "weight_decay": ("adamw",),
}
# Enqueue may say `hidden: [50]` or `l2: 0`; these are the names a trial really samples.
FRIENDLY_KEYS = {"hidden", "l2"}


class TrialLike(Protocol):
    """What `suggest` needs from an optuna.Trial (FixedTrial works too)."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...
    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def _draw(trial: TrialLike, name: str, spec: Any) -> Any:
    """One parameter: sampled when it is a range or a choice, else the fixed value itself."""
    if isinstance(spec, FloatRange):
        if spec.zero and not trial.suggest_categorical(f"{name}_enabled", [False, True]):
            return 0.0
        return trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    if isinstance(spec, IntRange):
        return trial.suggest_int(name, spec.low, spec.high, log=spec.log)
    if isinstance(spec, Choice):
        return trial.suggest_categorical(name, spec.choices)
    return spec


def suggest(space: SearchSpace, trial: TrialLike) -> dict[str, Any]:
    """Sample one point of the space. Returns the values a TrainConfig is built from."""
    values = {
        name: _draw(trial, name, getattr(space, name))
        for name in (
            "lr",
            "batch_size",
            "depth",
            "activation",
            "l2",
            "optimizer",
            "dropout",
            "loss",
            "lr_schedule",
        )
    }
    if space.per_layer_width:
        values["hidden"] = [
            _draw(trial, f"width_{i}", space.width) for i in range(1, values["depth"] + 1)
        ]
    else:
        values["hidden"] = [_draw(trial, "width", space.width)] * values["depth"]
    for name, optimizers in CONDITIONAL.items():
        if values["optimizer"] in optimizers:
            values[name] = _draw(trial, name, getattr(space, name))
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


class _Recorder:
    """A stand-in trial that answers from given values: used to translate and check enqueues."""

    def __init__(self, given: dict[str, Any]) -> None:
        self.given = given
        self.params: dict[str, Any] = {}

    def _answer(self, name: str, spec: Any) -> Any:
        if name not in self.given:  # `l2_enabled` is given as `l2: 0` or `l2: 1e-4`
            shown = name.removesuffix("_enabled")
            raise ValueError(f"missing value for searched parameter {shown!r}")
        value = self.given[name]
        if not spec.contains(value):
            raise ValueError(f"{name}={value!r} lies outside the search space ({_describe(spec)})")
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self._answer(name, FloatRange(low=low, high=high, log=log)))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        return int(self._answer(name, IntRange(low=low, high=high, log=log)))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._answer(name, Choice(choices=list(choices)))


def _describe(spec: Any) -> str:
    if isinstance(spec, Choice):
        return "choices: " + ", ".join(map(str, spec.choices))
    return f"{spec.low}..{spec.high}"


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
            raise ValueError(f"hidden={hidden} needs per_layer_width: true in the search space")
    if "l2" in values:
        given["l2_enabled"] = values["l2"] != 0
        if values["l2"] != 0:
            given["l2"] = values["l2"]
    return given


def enqueue_params(space: SearchSpace, values: dict[str, Any]) -> dict[str, Any]:
    """The Optuna parameters of a fixed trial, checked against the space (ValueError if not)."""
    given = _expand(space, values)
    recorder = _Recorder(given)
    suggest(space, recorder)
    unused = sorted(set(given) - set(recorder.params) - {"l2_enabled"})
    searched = sorted(_searched_names(space))
    if unused and not set(unused) <= set(searched) | {"width", "momentum", "rho"}:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unused)}; searched: {', '.join(searched)}"
        )
    return recorder.params


def _searched_names(space: SearchSpace) -> set[str]:
    names = {name for name in type(space).model_fields if isinstance(getattr(space, name), Range)}
    if space.per_layer_width and "width" in names:
        names |= {f"width_{i}" for i in range(1, 5)}
    return names


def check_enqueued(space: SearchSpace, values: dict[str, Any], where: str) -> None:
    """Validation hook of StudyConfig: an enqueued trial must lie inside the space."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping of parameter values")
    try:
        enqueue_params(space, values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None
