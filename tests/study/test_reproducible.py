"""The same study seed gives the same sequence of suggestions and outcomes with one worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from hpsearch.settings import get_settings
from hpsearch.study.storage import open_storage
from study.tiny import TINY_STUDY, run_launch, write_study


def _sequence(home: Path, monkeypatch: pytest.MonkeyPatch, study: dict[str, Any]) -> list[Any]:
    home.mkdir()
    monkeypatch.setenv("HPSEARCH_HOME", str(home / "home"))
    run_launch(write_study(home, **study), tracking=False)
    storage = open_storage(get_settings().optuna_url)
    trials = optuna.load_study(study_name="tiny", storage=storage).get_trials()
    return [(t.number, t.params, t.state, t.intermediate_values) for t in trials]


def test_one_worker_replays_the_same_suggestions_from_the_same_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TPE past its start-up trials and a pruner: both must follow from the study seed alone
    study = {"sampler": {"type": "tpe", "n_startup_trials": 2},
             "pruner": {"type": "successive-halving", "min_resource": 1},
             "budget": {"n_trials": 5}}  # fmt: skip
    first = _sequence(tmp_path / "a", monkeypatch, study)
    second = _sequence(tmp_path / "b", monkeypatch, study)
    assert len(first) == 5 and first == second
    other = _sequence(tmp_path / "c", monkeypatch, {**study, "seed": TINY_STUDY["seed"] + 1})
    assert [p for _, p, _, _ in other] != [p for _, p, _, _ in first]
