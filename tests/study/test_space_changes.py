"""`launch --allow-changed-config` refuses space changes Optuna cannot sample in an existing
study (issue 11 item 23), before anything is written; others are accepted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution

from hpsearch.catalog import open_catalog
from hpsearch.settings import get_settings
from hpsearch.study.config import parse_study
from hpsearch.study.space import distributions
from hpsearch.study.space_changes import UnhonourableChange
from hpsearch.study.storage import open_storage
from study.tiny import TINY_STUDY, run_launch

SPACE = TINY_STUDY["search_space"]


def _stored() -> tuple[int, dict[str, Any], int]:
    """(trials, the study's attributes, catalog versions): what a refused launch must not move."""
    study = optuna.load_study(study_name="tiny", storage=open_storage(get_settings().optuna_url))
    with open_catalog(get_settings()) as catalog:
        versions = len(catalog.config_history("tiny"))
    return len(study.get_trials()), dict(study.user_attrs), versions


def test_distributions_cover_every_branch_of_the_space() -> None:
    space = parse_study(yaml.safe_dump(TINY_STUDY)).search_space
    found = distributions(space)
    assert found["activation"] == CategoricalDistribution(["relu", "tanh"])
    assert found["lr"] == FloatDistribution(1e-3, 0.3, log=True)
    assert {"momentum", "rho", "l2_enabled", "width"} <= set(found)


@pytest.fixture
def ran_one_trial(study_file: Callable[..., Path]) -> None:
    run_launch(study_file(budget={"n_trials": 1}), workers=1, tracking=False)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"activation": {"choices": ["relu", "gelu"]}}, "activation"),
        ({"activation": {"choices": ["tanh", "relu"]}}, "activation"),  # order matters to Optuna
        ({"lr": {"low": 1e-3, "high": 0.3}}, "lr"),  # log -> linear
        ({"batch_size": {"choices": [32, 64, 128]}}, "batch_size"),
    ],
)
def test_a_change_optuna_cannot_sample_is_refused_and_nothing_moves(
    ran_one_trial: None, study_file: Callable[..., Path], change: dict[str, Any], field: str
) -> None:
    before = _stored()
    changed = study_file(budget={"n_trials": 3}, search_space={**SPACE, **change})
    with pytest.raises(UnhonourableChange, match=rf"search_space\.{field} cannot change"):
        run_launch(changed, workers=0, allow_changed_config=True, tracking=False)
    assert _stored() == before


def test_a_change_optuna_can_sample_is_accepted(
    ran_one_trial: None, study_file: Callable[..., Path]
) -> None:
    narrower = {**SPACE, "lr": {"low": 2e-3, "high": 0.1, "log": True}, "width": 16}
    changed = study_file(budget={"n_trials": 2}, search_space=narrower)
    run_launch(changed, workers=0, allow_changed_config=True, tracking=False)
    assert _stored()[2] == 2  # the new version is recorded
