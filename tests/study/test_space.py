"""The search space: conditional parameters, fixed values, enqueued trials, resolution."""

from __future__ import annotations

import optuna
import pytest
import yaml
from optuna.trial import FixedTrial

from hpsearch.nn import make_optimizer
from hpsearch.study.config import SearchSpace, StudyConfigError, parse_study
from hpsearch.study.space import enqueue_params, resolve, suggest
from study.tiny import TINY_STUDY


def _space(**fields: object) -> SearchSpace:
    return SearchSpace.model_validate(fields)


def test_conditional_parameters_follow_the_optimizer() -> None:
    space = _space(optimizer={"choices": ["momentum", "adam", "rmsprop", "adamw"]},
                   beta1={"low": 0.8, "high": 0.95})  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: dict[str, set[str]] = {}
    for _ in range(40):
        trial = study.ask()
        values = suggest(space, trial)
        seen.setdefault(values["optimizer"], set()).update(trial.params)
        study.tell(trial, 0.0)
    assert "momentum" in seen["momentum"] and "beta1" not in seen["momentum"]
    assert "beta1" in seen["adam"] and "momentum" not in seen["adam"]
    # rmsprop has its own momentum, which may be zero: never the one sgd-momentum samples
    assert {"rho", "momentum_rmsprop_enabled"} <= seen["rmsprop"]
    assert not {"beta1", "momentum"} & seen["rmsprop"]
    assert "beta1" in seen["adamw"]


def test_resolve_builds_the_train_config() -> None:
    space = _space(per_layer_width=True, depth=3)
    params = {"lr": 0.01, "batch_size": 64, "width_1": 100, "width_2": 50, "width_3": 40,
              "activation": "relu", "l2_enabled": True, "l2": 1e-4, "optimizer": "momentum",
              "momentum": 0.9}  # fmt: skip
    config = resolve(suggest(space, FixedTrial(params)), epochs=5, seed=3)
    assert config.hidden == (100, 50, 40)
    assert config.optimizer_params == {"lr": 0.01, "momentum": 0.9}
    assert (config.l2, config.batch_size, config.epochs, config.seed) == (1e-4, 64, 5, 3)


RMSPROP_TRIAL = {"lr": 0.01, "batch_size": 64, "depth": 1, "width": 64, "activation": "relu",
                 "l2_enabled": False, "optimizer": "rmsprop", "rho": 0.9}  # fmt: skip


def test_rmsprop_trials_take_momentum() -> None:
    own = {"low": 0.0, "high": 0.95}
    space = _space(optimizer="rmsprop", per_optimizer={"momentum": {"rmsprop": own}})
    values = suggest(space, FixedTrial({**RMSPROP_TRIAL, "momentum_rmsprop": 0.5}))
    config = resolve(values, epochs=1, seed=0)
    assert config.optimizer_params == {"lr": 0.01, "rho": 0.9, "momentum": 0.5}
    make_optimizer(config.optimizer, [], **config.optimizer_params)  # the engine takes them
    space = _space(optimizer="rmsprop", per_optimizer={"momentum": {"rmsprop": 0.7}})
    fixed = resolve(suggest(space, FixedTrial(RMSPROP_TRIAL)), epochs=1, seed=0)
    assert fixed.optimizer_params["momentum"] == 0.7  # a fixed value is no trial parameter


def test_an_enqueued_rmsprop_point_names_its_momentum() -> None:
    study = {**TINY_STUDY, "search_space": {**TINY_STUDY["search_space"],
             "optimizer": {"choices": ["rmsprop"]}}}  # fmt: skip
    point = {"hidden": [16], "activation": "relu", "optimizer": "rmsprop", "lr": 0.01,
             "batch_size": 32, "l2": 0, "rho": 0.9}  # fmt: skip
    for given, error in [({}, "missing value for searched parameter 'momentum_rmsprop'"),
                         ({"momentum": 0.1}, r"momentum_rmsprop=0\.1 lies outside")]:  # fmt: skip
        with pytest.raises(StudyConfigError, match=rf"enqueue\.0: {error}"):
            parse_study(yaml.safe_dump({**study, "enqueue": [point | given]}))
    for momentum in (0.9, 0):  # 0: plain rmsprop, without momentum
        parse_study(yaml.safe_dump({**study, "enqueue": [point | {"momentum": momentum}]}))


def test_l2_has_an_explicit_zero_option() -> None:
    params = {"lr": 0.01, "batch_size": 64, "depth": 1, "width": 64, "activation": "relu",
              "l2_enabled": False, "optimizer": "adam"}  # fmt: skip
    config = resolve(suggest(SearchSpace(), FixedTrial(params)), epochs=1, seed=0)
    assert config.l2 == 0.0


def test_tutorial_baseline_translates_to_trial_parameters() -> None:
    space = parse_study(yaml.safe_dump({**TINY_STUDY, "search_space": {
        "batch_size": {"choices": [32, 100]}}})).search_space  # fmt: skip
    baseline = {"hidden": [50], "activation": "relu", "optimizer": "sgd", "lr": 0.1,
                "batch_size": 100, "l2": 0}  # fmt: skip
    params = enqueue_params(space, baseline)
    assert params == {"lr": 0.1, "batch_size": 100, "depth": 1, "activation": "relu",
                      "l2_enabled": False, "optimizer": "sgd", "width": 50}  # fmt: skip
    config = resolve(suggest(space, FixedTrial(params)), epochs=1, seed=0)
    assert config.hidden == (50,) and config.lr == 0.1 and config.optimizer == "sgd"


def test_the_lr_schedule_can_be_searched_and_resolves() -> None:
    space = _space(lr_schedule={"choices": ["constant", "cosine"]}, optimizer="adam")
    params = {"lr": 0.01, "batch_size": 64, "depth": 1, "width": 64, "activation": "relu",
              "l2_enabled": False, "lr_schedule": "cosine"}  # fmt: skip
    config = resolve(suggest(space, FixedTrial(params)), epochs=4, seed=0)
    assert config.lr_schedule == "cosine" and config.as_dict()["lr_schedule"] == "cosine"
    assert SearchSpace().lr_schedule == "constant"  # unless a study file asks


def test_schedule_names_agree_with_the_trainer() -> None:
    from hpsearch.study.config import LR_SCHEDULES
    from hpsearch.train import LR_SCHEDULES as TRAINER_SCHEDULES

    assert LR_SCHEDULES == TRAINER_SCHEDULES
