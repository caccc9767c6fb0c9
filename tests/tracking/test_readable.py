"""What a person reads in the UI: run names, the study's description, the Dataset column."""

from __future__ import annotations

import json

import optuna
import pytest

from hpsearch.data import Splits
from hpsearch.tracking import StudyTracker
from hpsearch.tracking._readable import NOTE, trial_run_name
from hpsearch.tracking._tags import CHAMPION_ALIAS


@pytest.mark.parametrize(
    ("resolved", "name"),
    [
        (
            {"hidden": [512, 512], "activation": "relu", "optimizer": "adam"},
            "t0007 512x2 relu adam",
        ),
        (
            {"hidden": [256, 128], "activation": "tanh", "optimizer": "sgd"},
            "t0007 256-128 tanh sgd",
        ),
        ({}, "t0007"),
    ],
)
def test_run_names_say_what_the_trial_tried(resolved: dict, name: str) -> None:
    assert trial_run_name(7, resolved) == name


def _study(values: list[float | None]) -> optuna.Study:
    study = optuna.create_study(study_name="described", direction="maximize")
    for number, value in enumerate(values):
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-3, 1.0, log=True)})
        trial.set_user_attr("hidden", [32])
        state = optuna.trial.TrialState.PRUNED if value is None else None
        study.tell(trial, value, state=state) if value is not None else study.tell(
            trial, state=state
        )
        assert trial.number == number
    return study


def test_the_parent_run_describes_the_study(tracker: StudyTracker) -> None:
    study = _study([0.5, None, 0.75])
    tracker.write_summary(study)
    note = tracker.client.get_run(tracker.parent_run_id).data.tags[NOTE]
    assert "**Best trial: 2**, val_accuracy **0.7500**, hidden layers [32]" in note
    assert "| 2 | 1 | 0 | 0 | 0 |" in note  # complete, pruned, fail, running, waiting
    assert f"| lr | {study.trials[2].params['lr']:.4g} |" in note
    assert "No champion registered yet" in note

    client = tracker.client
    client.create_registered_model("tiny-study")
    version = client.create_model_version(
        "tiny-study", "file:///x", tags={"hpsearch.trial_number": "2"}
    )
    client.set_registered_model_alias("tiny-study", CHAMPION_ALIAS, version.version)
    tracker.describe(study)
    note = client.get_run(tracker.parent_run_id).data.tags[NOTE]
    assert "`models:/tiny-study@champion` is version 1 (trial 2)" in note


def test_trial_runs_name_their_dataset_parts(tracker: StudyTracker, splits: Splits) -> None:
    run_id = tracker.start_trial(
        3, {}, {"hidden": [8]}, seed=0, dataset_fingerprint=splits.fingerprint(), splits=splits
    )
    inputs = tracker.client.get_run(run_id).inputs.dataset_inputs
    contexts = {i.tags[0].value: i.dataset for i in inputs}
    assert set(contexts) == {"training", "validation"}
    assert contexts["training"].digest != contexts["validation"].digest
    assert {d.name for d in contexts.values()} == {splits.name}
    assert all(len(d.digest) == 36 for d in contexts.values())
    assert json.loads(contexts["training"].profile)["fingerprint"] == splits.fingerprint()
