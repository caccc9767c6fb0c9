"""Warm starts: the best K configurations of an earlier study, tagged, never run twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from optuna.trial import FixedTrial, TrialState

from hpsearch.errors import UserError
from hpsearch.settings import get_settings
from hpsearch.study.config import parse_study
from hpsearch.study.space import project, suggest
from hpsearch.study.storage import open_storage
from hpsearch.study.warm_start import WARM_START_ATTR
from study.tiny import TINY_STUDY, run_launch

StudyFile = Callable[..., Path]
BASELINE = {"hidden": [32], "activation": "relu", "optimizer": "adam", "lr": 0.01,
            "batch_size": 32, "l2": 0}  # fmt: skip


def _study(name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(get_settings().optuna_url))


def test_warm_start_enqueues_exactly_k_tagged_trials_it_has_not_tried(
    study_file: StudyFile,
) -> None:
    run_launch(study_file(enqueue=[BASELINE], epochs=3), tracking=False)  # the source, `tiny`
    source = _study("tiny")
    space = parse_study(source.user_attrs["hpsearch.config"]).search_space
    ranked = sorted(source.get_trials(states=(TrialState.COMPLETE,)),
                    key=lambda t: (-t.value, t.number))  # fmt: skip
    fixed = project(space, suggest(space, FixedTrial(ranked[0].params)))  # queued by hand too
    expected = [project(space, suggest(space, FixedTrial(t.params))) for t in ranked]
    expected = [p for p in expected if p != fixed][:2]

    best = ranked[0]
    keep = space.searched() | {"hidden", "l2"}
    point = {key: value for key, value in suggest(space, FixedTrial(best.params)).items()
             if key in keep}  # fmt: skip
    run_launch(study_file(name="warm", epochs=3, budget={"n_trials": 4}, enqueue=[point],
                          warm_start=[{"study": "tiny", "top_k": 2}]))  # fmt: skip
    trials = _study("warm").get_trials()
    tagged = [t for t in trials if WARM_START_ATTR in t.user_attrs]
    assert len(trials) == 4 and [t.number for t in tagged] == [1, 2]
    assert [t.params for t in tagged] == expected and trials[0].params == fixed
    origins = [t.user_attrs[WARM_START_ATTR] for t in tagged]
    assert all(origin.startswith("tiny#") for origin in origins)
    client = mlflow.MlflowClient(get_settings().mlflow_uri)
    for trial in tagged:
        run = client.get_run(trial.user_attrs["mlflow_run_id"])
        assert run.data.tags["hpsearch.warm_start"] == trial.user_attrs[WARM_START_ATTR]
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)


def test_an_unknown_source_study_is_one_line_before_anything_is_written(
    study_file: StudyFile,
) -> None:
    run_launch(study_file(budget={"n_trials": 1}, epochs=1), tracking=False)  # a storage exists
    with pytest.raises(UserError, match=r"^warm_start\.0: no study 'nope' in sqlite:"):
        run_launch(study_file(name="warm", warm_start=[{"study": "nope", "top_k": 2}]))
    with pytest.raises(KeyError):
        _study("warm")


def test_warm_start_needs_a_positive_top_k(study_file: StudyFile) -> None:
    with pytest.raises(UserError, match=r"warm_start\.0\.top_k"):
        run_launch(study_file(warm_start=[{"study": "x", "top_k": 0}]))
    assert TINY_STUDY["name"] == "tiny"
