"""The study summary on the parent run: metrics, counts by state, Optuna's plots, trials.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from hpsearch.tracking import StudyTracker
from hpsearch.tracking import _tags as T

_DISTRIBUTIONS = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "activation": CategoricalDistribution(["relu", "tanh"]),
}


def _study(n_complete: int) -> optuna.Study:
    """A study with `n_complete` COMPLETE trials, then one PRUNED and one FAIL."""
    study = optuna.create_study(study_name="tiny-study", direction="maximize")
    for i in range(n_complete):
        value = 0.5 + 0.1 * (i % 3)
        study.add_trial(
            create_trial(
                params={"lr": 10 ** -(1 + i % 3), "activation": ["relu", "tanh"][i % 2]},
                distributions=_DISTRIBUTIONS,
                value=value,
                intermediate_values={1: value - 0.1, 2: value},
            )
        )
    study.add_trial(
        create_trial(
            params={"lr": 0.05, "activation": "relu"},
            distributions=_DISTRIBUTIONS,
            state=TrialState.PRUNED,
            intermediate_values={1: 0.2},
        )
    )
    study.add_trial(create_trial(state=TrialState.FAIL))
    return study


def test_summary_on_the_parent_run(tracker: StudyTracker, tmp_path: Path) -> None:
    study = _study(n_complete=4)
    best = study.best_trial
    best_run = tracker.start_trial(best.number, best.params, {}, seed=0, dataset_fingerprint="x")
    tracker.write_summary(study)

    parent = tracker.client.get_run(tracker.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(best.value)
    assert parent.data.metrics["best_trial_number"] == best.number
    counts = {k: parent.data.metrics[k] for k in ("n_complete", "n_pruned", "n_fail", "n_running")}
    assert counts == {"n_complete": 4, "n_pruned": 1, "n_fail": 1, "n_running": 0}
    assert parent.data.tags[T.BEST_RUN_ID] == best_run

    names = {a.path for a in tracker.client.list_artifacts(tracker.parent_run_id)}
    # the UI draws parallel coordinates and every run's epochs itself
    assert names == {"trials.csv", "optimization_history.png", "param_importances.png"}
    local = tracker.client.download_artifacts(tracker.parent_run_id, "trials.csv", str(tmp_path))
    with open(local) as f:
        rows = list(csv.DictReader(f))
    assert [row["state"] for row in rows] == ["COMPLETE"] * 4 + ["PRUNED", "FAIL"]


def test_summary_with_one_complete_trial_skips_importances(tracker: StudyTracker) -> None:
    tracker.write_summary(_study(n_complete=1))
    names = {a.path for a in tracker.client.list_artifacts(tracker.parent_run_id)}
    assert "param_importances.png" not in names
    assert {"trials.csv", "optimization_history.png"} <= names


def test_summary_before_any_complete_trial(tracker: StudyTracker) -> None:
    tracker.write_summary(_study(n_complete=0))
    metrics = tracker.client.get_run(tracker.parent_run_id).data.metrics
    assert "best_val_accuracy" not in metrics
    assert metrics["n_pruned"] == 1


def test_summary_refresh_keeps_a_history(tracker: StudyTracker) -> None:
    tracker.write_summary(_study(n_complete=1))
    tracker.write_summary(_study(n_complete=3))
    history = tracker.client.get_metric_history(tracker.parent_run_id, "n_complete")
    assert sorted((m.step, m.value) for m in history) == [(3, 1.0), (5, 3.0)]
