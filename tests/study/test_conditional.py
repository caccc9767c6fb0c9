"""Ranges that depend on the optimizer (search_space.per_optimizer) and each optimizer's own
conditional parameters: rmsprop may run without momentum, adamw gets no coupled L2."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
import yaml

from hpsearch.study.config import StudyConfig, StudyConfigError, parse_study
from hpsearch.study.space import enqueue_params, resolve, suggest
from study.tiny import TINY_STUDY

OPTIMIZERS = ["sgd", "momentum", "adam", "adamw", "rmsprop"]
PER_OPTIMIZER = {
    "lr": {
        "sgd, momentum": {"low": 0.01, "high": 0.5, "log": True},
        "adam, adamw": {"low": 1e-4, "high": 3e-3, "log": True},
    }
}


def _study(per_optimizer: Any = None, **changes: Any) -> StudyConfig:
    per = PER_OPTIMIZER if per_optimizer is None else per_optimizer
    space = {**TINY_STUDY["search_space"], "optimizer": {"choices": OPTIMIZERS}}
    space["per_optimizer"] = per
    return parse_study(yaml.safe_dump({**TINY_STUDY, "search_space": space, **changes}), "s.yaml")


def _samples(config: StudyConfig, n: int = 60) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((suggest(config.search_space, trial), dict(trial.params)))
    return out


def test_each_optimizer_family_samples_its_own_lr_range() -> None:
    samples = _samples(_study())
    for values, params in samples:
        optimizer = values["optimizer"]
        if optimizer in ("sgd", "momentum"):
            assert 0.01 <= values["lr"] <= 0.5 and f"lr_{optimizer}" in params
        elif optimizer in ("adam", "adamw"):
            assert 1e-4 <= values["lr"] <= 3e-3 and f"lr_{optimizer}" in params
        else:  # rmsprop is not named: the shared range, the shared parameter
            assert 1e-3 <= values["lr"] <= 0.3 and "lr" in params
    assert {v["optimizer"] for v, _ in samples} == set(OPTIMIZERS)


def test_rmsprop_may_run_without_momentum_and_adamw_has_no_coupled_l2() -> None:
    samples = _samples(_study(), n=200)
    rmsprop = [v for v, p in samples if v["optimizer"] == "rmsprop"]
    assert {v["momentum"] == 0.0 for v in rmsprop} == {True, False}
    assert all("momentum_rmsprop" in p or not p["momentum_rmsprop_enabled"]
               for v, p in samples if v["optimizer"] == "rmsprop")  # fmt: skip
    momentum = [v["momentum"] for v, _ in samples if v["optimizer"] == "momentum"]
    assert momentum and all(v > 0 for v in momentum)  # sgd's momentum never zero by default
    for values, params in samples:
        if values["optimizer"] == "adamw":
            assert values["l2"] == 0.0 and not {"l2", "l2_enabled"} & set(params)
            train = resolve(values, epochs=1, seed=0)
            assert train.l2 == 0.0 and train.optimizer_params["weight_decay"] == 1e-2


def test_enqueued_points_take_the_plain_names() -> None:
    point = {"hidden": [16], "activation": "relu", "optimizer": "adam", "lr": 0.001,
             "batch_size": 32, "l2": 0}  # fmt: skip
    params = enqueue_params(_study().search_space, point)
    assert params["lr_adam"] == 0.001 and "lr" not in params
    with pytest.raises(StudyConfigError, match=r"enqueue\.0: lr_adam=0\.1 lies outside"):
        _study(enqueue=[point | {"lr": 0.1}])
    with pytest.raises(StudyConfigError, match=r"enqueue\.0: adamw .* its l2 must be 0"):
        _study(enqueue=[point | {"optimizer": "adamw", "l2": 1e-3}])


@pytest.mark.parametrize(
    "per_optimizer, message",
    [
        ({"lr": {"nadam": {"low": 0.1, "high": 0.2}}},
         "lr.nadam: 'nadam' is not among the optimizers searched (sgd, momentum, adam, adamw, "
         "rmsprop)"),
        ({"batch_size": {"sgd": {"low": 1, "high": 2}}},
         "batch_size: cannot depend on the optimizer; allowed: lr, l2, momentum"),
        ({"lr": {"sgd": {"low": 0.1, "high": 0.2}, "sgd, adam": {"low": 0.1, "high": 0.2}}},
         "lr.sgd, adam: sgd is given a lr range twice"),
        ({"momentum": {"adam": {"low": 0.5, "high": 0.9}}},
         "momentum.adam: adam takes no momentum (only momentum, nesterov, rmsprop do)"),
        ({"lr": {"sgd": {"low": -1, "high": 0.2}}},
         "lr.sgd: lr must stay within (0.0, inf], got -1.0..0.2"),
        ({"l2": {"adamw": {"low": 1e-4, "high": 1e-2}}},
         "l2.adamw: adamw uses weight_decay (decoupled), never l2"),
        ({"lr": {"sgd": {"low": 0.3, "high": 0.1}}}, "needs finite low < high"),
    ],
)  # fmt: skip
def test_a_bad_per_optimizer_range_is_one_clear_line(per_optimizer: Any, message: str) -> None:
    with pytest.raises(StudyConfigError) as info:
        _study(per_optimizer)
    text = str(info.value)
    assert "\n" not in text and text.startswith("s.yaml: search_space.per_optimizer")
    assert message in text
