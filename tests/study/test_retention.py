"""keep_models and `hpsearch gc`: models only for the K best, never a registered one's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from optuna.trial import TrialState, create_trial
from test_service import mlflow_server, service_env  # noqa: F401  (fixtures)

from hpsearch.settings import get_settings
from hpsearch.study import attrs as A
from hpsearch.study import retention
from hpsearch.study.retention import gc
from hpsearch.study.storage import open_storage
from hpsearch.tracking import _tags as T
from hpsearch.tracking.retention import MODEL_DELETED
from study.tiny import run_launch


def _has_logged_model(client: mlflow.MlflowClient, model_id: str) -> bool:
    """The logged model's record exists and its files are there."""
    try:
        model = client.get_logged_model(model_id)
    except mlflow.exceptions.MlflowException:  # deleted
        return False
    return bool(client.list_logged_model_artifacts(model.model_id))


def _models(client: mlflow.MlflowClient, study_name: str) -> dict[int, tuple[float, bool]]:
    """{trial number: (value, still has its model)} of the complete trials."""
    experiment = client.get_experiment_by_name(study_name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`hpsearch.state` = 'complete'")
    found = {}
    for run in runs:
        has_model = _has_logged_model(client, run.data.tags["hpsearch.model_id"])
        assert has_model == (run.data.tags.get(MODEL_DELETED) != "true")
        files = {f.path for f in client.list_artifacts(run.info.run_id)}
        assert "confusion_matrix_val.png" in files  # the figures stay
        assert "val_accuracy" in run.data.metrics  # and metrics
        value = run.data.metrics["best_val_accuracy"]
        found[int(run.data.tags["optuna.trial_number"])] = (value, has_model)
    return found


def _register(client: mlflow.MlflowClient, study_name: str, trial: int) -> str:
    """Register trial `trial`'s model, as `hpsearch best` would; returns its run id."""
    experiment = client.get_experiment_by_name(study_name)
    assert experiment is not None
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`optuna.trial_number` = '{trial}'"
    )
    client.create_registered_model(study_name)
    version = client.create_model_version(
        study_name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    )
    client.set_registered_model_alias(study_name, "champion", version.version)
    return str(run.info.run_id)


def _check_kept(models: dict[int, tuple[float, bool]], keep: int) -> None:
    line = sorted((value for value, _ in models.values()), reverse=True)[keep - 1]
    for number, (value, has_model) in models.items():
        assert has_model == (value >= line), (number, value, line)


def test_keep_models_and_gc_on_a_local_store(
    study_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = study_file(epochs=1, budget={"n_trials": 8}, artifacts={"keep_models": 2})
    run_launch(path, workers=1)
    settings = get_settings()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_uri)  # MLflow resolves models:/
    client = mlflow.MlflowClient(settings.mlflow_uri)
    models = _models(client, "tiny")
    assert len(models) >= 4, "the tiny study needs a few complete trials"
    _check_kept(models, 2)  # the workers freed the others as the study ran

    best = max(models, key=lambda n: models[n][0])
    registered = _register(client, "tiny", best)  # a registered model is never deleted
    dry = gc(settings, "tiny", keep=0, dry_run=True)
    assert dry["models_freed"] == sum(has for _, has in models.values()) - 1
    assert dry["bytes_freed"] > 0 and dry["registered_kept"] == 1
    assert _models(client, "tiny") == models  # a dry run changes nothing

    output = subprocess.run(
        [sys.executable, "-m", "hpsearch", "gc", "tiny", "--keep", "0", "--json"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert json.loads(output)["models_freed"] == dry["models_freed"]
    after = _models(client, "tiny")
    assert [n for n, (_, has) in after.items() if has] == [best]
    assert _has_logged_model(client, client.get_run(registered).data.tags["hpsearch.model_id"])
    assert gc(settings, "tiny", keep=0, dry_run=False)["models_freed"] == 0  # idempotent


@pytest.mark.postgres
def test_keep_models_and_gc_through_an_mlflow_server(
    service_env: dict[str, str],  # noqa: F811
    mlflow_server: str,  # noqa: F811
    study_file: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for key in ("HPSEARCH_DATABASE_URL", "HPSEARCH_STORAGE_URL"):
        monkeypatch.setenv(key, service_env[key])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    path = study_file(epochs=1, budget={"n_trials": 6}, artifacts={"keep_models": 1})
    run_launch(path, workers=1)
    client = mlflow.MlflowClient(mlflow_server)
    models = _models(client, "tiny")
    _check_kept(models, 1)
    stored = tmp_path / "server-artifacts"  # the server's own folder: the bytes are gone
    assert sum(1 for _ in stored.rglob("MLmodel")) == sum(has for _, has in models.values())

    best = max(models, key=lambda n: models[n][0])
    _register(client, "tiny", best)
    report = gc(get_settings(), "tiny", keep=0, dry_run=False)
    assert report["registered_kept"] == 1 and report["models_kept"] >= 1
    assert [n for n, (_, has) in _models(client, "tiny").items() if has] == [best]
    storage = open_storage(service_env["HPSEARCH_STORAGE_URL"])
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert all(t.state.is_finished() for t in study.trials)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == len(models)


def _trial_with_model(
    study: optuna.Study, client: mlflow.MlflowClient, experiment_id: str, value: float, home: Path
) -> str:
    """A COMPLETE trial whose MLflow run has a logged model, as a worker leaves it."""
    run_id = client.create_run(experiment_id).info.run_id
    model = client.create_logged_model(experiment_id, source_run_id=run_id)
    folder = home / run_id
    folder.mkdir()
    (folder / "weights.npz").write_bytes(b"0" * 100)
    client.log_model_artifacts(model.model_id, str(folder))
    client.set_tag(run_id, T.STATE, "complete")
    client.set_tag(run_id, T.MODEL_ID, model.model_id)
    study.add_trial(create_trial(value=value, user_attrs={A.MLFLOW_RUN_ID: run_id}))
    return model.model_id


def test_workers_free_each_trial_below_the_line_once_at_any_rank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "WINDOW", 2)  # fewer than the trials that fall below here
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.create_experiment("s", (tmp_path / "artifacts").as_uri())
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(storage=open_storage(url), study_name="s", direction="maximize")
    # two workers, each with its own storage and keeper, taking turns
    keepers = [
        retention.ModelKeeper(
            optuna.load_study(study_name="s", storage=open_storage(url)), client, 1
        )
        for _ in range(2)
    ]
    models = {}
    # new trials land far below the line (0.05 after 0.3), and the best is pushed down at the end
    for turn, value in enumerate([0.5, 0.9, 0.1, 0.2, 0.3, 0.05, 0.95]):
        models[value] = _trial_with_model(study, client, experiment_id, value, tmp_path)
        keepers[turn % 2].after_trial()
    kept = {value for value, model_id in models.items() if _has_logged_model(client, model_id)}
    assert kept == {0.95}
    runs = client.search_runs([experiment_id])
    assert sum(run.data.tags.get(MODEL_DELETED) == "true" for run in runs) == len(models) - 1
