"""A study on the embedded default, read back from the MLflow store with MlflowClient."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.data import load_splits
from hpsearch.settings import get_settings
from hpsearch.study.storage import open_storage
from hpsearch.tracking._datasets import part_digest
from study.tiny import TINY_STUDY, run_launch

STATUS = {TrialState.COMPLETE: "FINISHED", TrialState.PRUNED: "KILLED"}
EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds")


def test_every_trial_is_a_child_run_with_its_metrics_model_and_state(
    study_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pruner = {"type": "median", "n_startup_trials": 1, "n_warmup_steps": 0}
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.1")  # trials are short
    path = study_file(pruner=pruner, budget={"n_trials": 5}, system_metrics=True)
    run_launch(path, workers=2)
    settings = get_settings()
    trials = optuna.load_study(study_name="tiny", storage=open_storage(settings.optuna_url)).trials
    client = mlflow.MlflowClient(settings.mlflow_uri)
    mlflow.set_tracking_uri(settings.mlflow_uri)  # for mlflow.pyfunc.load_model("runs:/...")
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("hpsearch.role") == "study"]
    children = {r.info.run_id: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert len(parents) == 1 and len(children) == len(trials) == 5
    parent = parents[0]

    splits = load_splits("digits", val_fraction=0.2, train_subset=300, seed=0)
    for trial in trials:
        run = children[trial.user_attrs["mlflow_run_id"]]
        tags, params = run.data.tags, run.data.params
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert tags["optuna.trial_number"] == str(trial.number)
        assert run.info.status == STATUS[trial.state]
        assert params["lr"] == str(trial.params["lr"])
        assert tags["hpsearch.seed"] == str(trial.user_attrs["seed"])
        inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
        assert {c: (d.name, d.digest) for c, d in inputs.items()} == {
            "training": ("digits", part_digest(splits.x_train, splits.y_train)),
            "validation": ("digits", part_digest(splits.x_val, splits.y_val)),
        }
        for name in EPOCH_METRICS:
            history = client.get_metric_history(run.info.run_id, name)
            assert [m.step for m in history] == sorted(trial.intermediate_values)
        if trial.state == TrialState.PRUNED:
            assert tags["hpsearch.state"] == "pruned"
            assert tags["hpsearch.pruned_reason"] == "pruner"
            continue
        assert run.data.metrics["best_val_accuracy"] == trial.value
        assert "system/cpu_utilization_percentage" in run.data.metrics  # system_metrics: true
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert "confusion_matrix_val.png" in artifacts
        (output,) = run.outputs.model_outputs  # the model is the run's logged model
        assert output.model_id == tags["hpsearch.model_id"]
        model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
        predicted = np.asarray(model.predict(splits.x_val))
        assert float((predicted == splits.y_val).mean()) == trial.value

    models = client.search_logged_models([experiment.experiment_id])
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(m.source_run_id for m in models) == sorted(
        t.user_attrs["mlflow_run_id"] for t in complete
    )  # one logged model per complete trial, none for the pruned
    summary = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"optimization_history.png", "param_importances.png", "trials.csv"} <= summary
    best = max(t.value for t in trials if t.state == TrialState.COMPLETE)
    assert client.get_run(parent.info.run_id).data.metrics["best_val_accuracy"] == best


def test_pruned_and_diverged_trials_are_killed_runs_with_their_reason(
    study_file: Callable[..., Path],
) -> None:
    space = {**TINY_STUDY["search_space"], "lr": {"low": 1e-3, "high": 1e20, "log": True}}
    fixed = {"hidden": [16], "activation": "relu", "optimizer": "sgd", "batch_size": 32, "l2": 0}
    enqueue = [fixed | {"lr": 1e20}, fixed | {"lr": 0.01}]  # diverges; is pruned at epoch 1
    pruner = {"type": "threshold", "lower": 0.999}  # no trial reaches it
    run_launch(study_file(search_space=space, pruner=pruner, enqueue=enqueue,
                          budget={"n_trials": 2}))  # fmt: skip
    settings = get_settings()
    trials = optuna.load_study(study_name="tiny", storage=open_storage(settings.optuna_url)).trials
    client = mlflow.MlflowClient(settings.mlflow_uri)
    reasons = {}
    for trial in trials:
        run = client.get_run(trial.user_attrs["mlflow_run_id"])
        assert trial.state == TrialState.PRUNED and run.info.status == "KILLED"
        assert run.data.tags["hpsearch.state"] == "pruned"
        assert run.data.tags["hpsearch.pruned_step"] == str(trial.user_attrs["pruned_step"])
        assert not {a.path for a in client.list_artifacts(run.info.run_id)} & {"model"}
        assert not run.outputs.model_outputs
        reasons[trial.number] = run.data.tags["hpsearch.pruned_reason"]
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert steps[-1] == trial.user_attrs["pruned_step"] == max(trial.intermediate_values)
    assert reasons == {0: "diverged", 1: "pruner"}
