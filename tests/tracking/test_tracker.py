"""StudyTracker against a real SQLite MLflow store: runs, params, tags, metrics, terminal states."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import ViewType
from mlflow.models import Model
from mlflow.tracking import MlflowClient

from hpsearch.data import Splits
from hpsearch.errors import UserError
from hpsearch.settings import Settings
from hpsearch.tracking import StudyTracker, _epochs
from hpsearch.tracking import _tags as T
from hpsearch.tracking._store import _parent_runs, get_or_create_parent_run
from hpsearch.train import EpochMetrics, TrainResult


def _start(tracker: StudyTracker, number: int = 7) -> str:
    return tracker.start_trial(
        number,
        {"n_layers": 2, "width_0": 64, "lr": 0.01},
        {
            "hidden": [64, 32],
            "optimizer_params": {"lr": 0.01},
            "activation": "relu",
            "optimizer": "adam",
        },
        seed=11,
        dataset_fingerprint="f" * 64,
        trial_id=42,
    )


def test_experiment_and_parent_run_are_reused(settings: Settings) -> None:
    first = StudyTracker("resumable", settings.mlflow_uri, settings.artifact_root)
    again = StudyTracker("resumable", settings.mlflow_uri, settings.artifact_root)
    assert (again.experiment_id, again.parent_run_id) == (first.experiment_id, first.parent_run_id)
    experiment = first.client.get_experiment(first.experiment_id)
    assert experiment.name == "resumable"
    assert experiment.artifact_location == f"{settings.artifact_root}/resumable"
    parent = first.client.get_run(first.parent_run_id)
    assert parent.data.tags[T.ROLE] == T.ROLE_STUDY
    assert parent.info.run_name == "resumable"


def test_duplicate_parent_runs_resolve_to_the_oldest(tracker: StudyTracker) -> None:
    # as if a second worker had created its own parent run at the same moment
    client = tracker.client
    late = client.create_run(tracker.experiment_id, tags={T.ROLE: T.ROLE_STUDY}).info.run_id
    assert get_or_create_parent_run(client, tracker.experiment_id, "tiny-study") != late
    assert _parent_runs(client, tracker.experiment_id)[0].info.run_id == tracker.parent_run_id


def test_deleted_experiment_is_a_user_error(settings: Settings) -> None:
    tracker = StudyTracker("gone", settings.mlflow_uri, settings.artifact_root)
    tracker.client.delete_experiment(tracker.experiment_id)
    with pytest.raises(UserError, match="deleted"):
        StudyTracker("gone", settings.mlflow_uri, settings.artifact_root)


def test_start_trial_creates_a_linked_child_run(tracker: StudyTracker) -> None:
    run = tracker.client.get_run(_start(tracker))
    assert run.info.status == "RUNNING"
    assert run.info.run_name == "t0007 64-32 relu adam"  # what the trial tried
    assert run.data.params == {
        "n_layers": "2",
        "width_0": "64",
        "lr": "0.01",
        "resolved.hidden": "[64, 32]",
        "resolved.optimizer_params.lr": "0.01",
        "resolved.activation": "relu",
        "resolved.optimizer": "adam",
    }
    tags = run.data.tags
    assert tags[T.PARENT_RUN_ID] == tracker.parent_run_id
    assert tags[T.STUDY_NAME] == "tiny-study"
    assert (tags[T.TRIAL_NUMBER], tags[T.TRIAL_ID], tags[T.SEED]) == ("7", "42", "11")
    assert tags[T.DATASET_FINGERPRINT] == "f" * 64
    for package in ("hpsearch", "hpsearch.numpy", "hpsearch.optuna", "hpsearch.mlflow"):
        assert tags[f"{package}_version" if package != "hpsearch" else "hpsearch.version"]
    if T.GIT_COMMIT in tags:  # present when the package sits in a git checkout
        assert len(tags[T.GIT_COMMIT]) == 40
    assert tracker.trial_run_id(7) == run.info.run_id


def test_epoch_metrics_have_steps(tracker: StudyTracker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_epochs, "FLUSH_SECONDS", 0.0)  # each epoch is sent as it comes
    run_id = _start(tracker)
    log_epoch = tracker.epoch_callback(run_id)
    for epoch in (1, 2, 3):
        log_epoch(EpochMetrics(epoch, 1.0 / epoch, 0.5, 1.5 / epoch, 0.4 + epoch / 10, 0.25), None)  # type: ignore[arg-type]
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds"):
        history = tracker.client.get_metric_history(run_id, name)
        assert [m.step for m in sorted(history, key=lambda m: m.step)] == [1, 2, 3]
    val = sorted(tracker.client.get_metric_history(run_id, "val_accuracy"), key=lambda m: m.step)
    assert [m.value for m in val] == pytest.approx([0.5, 0.6, 0.7])


@pytest.mark.parametrize("flush_seconds", [0.0, 3600.0], ids=["sent", "waiting"])
def test_a_resent_epoch_is_not_a_second_point(
    tracker: StudyTracker, monkeypatch: pytest.MonkeyPatch, flush_seconds: float
) -> None:
    # a retry after a request that failed once its metrics were committed (database restart)
    monkeypatch.setattr(_epochs, "FLUSH_SECONDS", flush_seconds)
    run_id = _start(tracker)
    log_epoch = tracker.epoch_callback(run_id)
    metrics = EpochMetrics(1, 1.0, 0.5, 1.5, 0.4, 0.25)
    log_epoch(metrics, None)  # type: ignore[arg-type]
    time.sleep(0.01)  # a later clock reading must not make a new row
    log_epoch(metrics, None)  # type: ignore[arg-type]
    tracker.finish_pruned(run_id, 1, "pruner")
    assert [m.step for m in tracker.client.get_metric_history(run_id, "val_accuracy")] == [1]


def test_a_retried_start_reuses_the_run_it_created(
    tracker: StudyTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_batch = tracker.client.log_batch
    outage = iter([ConnectionError("database went away")])

    def flaky_log_batch(*args: Any, **kwargs: Any) -> None:
        for error in outage:  # the first call only
            raise error
        log_batch(*args, **kwargs)

    monkeypatch.setattr(tracker.client, "log_batch", flaky_log_batch)
    with pytest.raises(ConnectionError):
        _start(tracker)
    run_id = _start(tracker)
    assert tracker.trial_run_id(7) == run_id
    trial_runs = f"tags.`{T.ROLE}` = '{T.ROLE_TRIAL}'"
    runs = tracker.client.search_runs([tracker.experiment_id], trial_runs)
    assert [r.info.run_id for r in runs] == [run_id]  # no second, undescribed run
    assert tracker.client.get_run(run_id).data.params["lr"] == "0.01"


@pytest.mark.parametrize("flush_seconds", [0.0, 3600.0], ids=["epochs-sent", "epochs-waiting"])
def test_complete_trial_is_finished_with_model_and_plots(
    tracker: StudyTracker,
    result: TrainResult,
    splits: Splits,
    monkeypatch: pytest.MonkeyPatch,
    flush_seconds: float,
) -> None:
    # the best epoch's rows are linked to the model whether they were sent before its end or
    # are sent with it
    monkeypatch.setattr(_epochs, "FLUSH_SECONDS", flush_seconds)
    run_id = _start(tracker)
    log_epoch = tracker.epoch_callback(run_id)
    for metrics in result.history:
        log_epoch(metrics, result.model)
    tracker.finish_complete(run_id, result, splits)
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.end_time is not None
    assert run.data.metrics["best_val_accuracy"] == result.best_val_accuracy
    assert run.data.tags[T.STATE] == "complete"
    assert len(run.data.tags[T.WEIGHTS_SHA256]) == 64
    names = {a.path for a in tracker.client.list_artifacts(run_id)}
    assert T.CONFUSION_MATRIX in names and T.LEARNING_CURVES not in names  # the UI draws those
    # the model is the run's MLflow 3 logged model, linked to the run and its best-epoch metrics
    (output,) = run.outputs.model_outputs
    assert (output.model_id, output.step) == (run.data.tags[T.MODEL_ID], result.best_epoch)
    model = tracker.client.get_logged_model(output.model_id)
    assert (model.name, model.source_run_id, model.status) == ("model", run_id, "READY")
    assert model.tags[T.WEIGHTS_SHA256] == run.data.tags[T.WEIGHTS_SHA256]
    linked = {m.key: m.value for m in model.metrics}
    assert linked["best_val_accuracy"] == result.best_val_accuracy
    assert linked["val_accuracy"] == result.history[result.best_epoch - 1].val_accuracy
    assert model.params["lr"] == "0.01"  # the run's parameters, as MLflow copies them
    # linking the best epoch's metrics wrote no second row into the run's history
    history = tracker.client.get_metric_history(run_id, "val_accuracy")
    assert sorted(m.step for m in history) == [m.epoch for m in result.history]
    # the MLmodel file names the logged model and the run, as mlflow.pyfunc.log_model writes it
    mlmodel = Model.load(Path(model.artifact_location.removeprefix("file://")) / "MLmodel")
    assert (mlmodel.run_id, mlmodel.model_id) == (run_id, model.model_id)


@pytest.mark.parametrize(
    ("finish", "status", "tags"),
    [
        (
            lambda t, r: t.finish_pruned(r, 3, "pruner"),
            "KILLED",
            {T.STATE: "pruned", T.PRUNED_STEP: "3", T.PRUNED_REASON: "pruner"},
        ),
        (
            lambda t, r: t.finish_pruned(r, 2, "diverged"),
            "KILLED",
            {T.STATE: "pruned", T.PRUNED_STEP: "2", T.PRUNED_REASON: "diverged"},
        ),
        (
            lambda t, r: t.finish_killed(r, "SIGTERM"),
            "KILLED",
            {T.STATE: "killed", T.KILLED_REASON: "SIGTERM"},
        ),
        (lambda t, r: t.finish_failed(r, "Traceback: boom"), "FAILED", {T.STATE: "failed"}),
    ],
    ids=["pruned", "diverged", "killed", "failed"],
)
def test_terminal_states(tracker: StudyTracker, finish: Any, status: str, tags: dict) -> None:
    run_id = _start(tracker)
    finish(tracker, run_id)
    run = tracker.client.get_run(run_id)
    assert run.info.status == status
    assert run.info.end_time is not None
    assert tags.items() <= run.data.tags.items()


def test_failed_trial_keeps_its_traceback(tracker: StudyTracker, tmp_path: Path) -> None:
    run_id = _start(tracker)
    tracker.finish_failed(run_id, "Traceback (most recent call last):\nValueError: boom\n")
    local = tracker.client.download_artifacts(run_id, T.ERROR_FILE, str(tmp_path))
    assert "ValueError: boom" in Path(local).read_text()


def test_trials_of_two_studies_stay_apart(settings: Settings) -> None:
    a = StudyTracker("study-a", settings.mlflow_uri, settings.artifact_root)
    b = StudyTracker("study-b", settings.mlflow_uri, settings.artifact_root)
    _start(a, 0)
    assert a.experiment_id != b.experiment_id
    client = MlflowClient(settings.mlflow_uri)
    runs_b = client.search_runs([b.experiment_id], run_view_type=ViewType.ALL)
    assert [r.info.run_id for r in runs_b] == [b.parent_run_id]


def test_sqlite_store_uses_write_ahead_logging(tracker: StudyTracker, settings: Settings) -> None:
    # rollback-journal commits cost several fsyncs each; WAL keeps epoch logging to a few ms
    import sqlite3

    with sqlite3.connect(settings.home / "mlflow.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_status_reads_the_parent_run_from_the_store_without_importing_mlflow(
    tracker: StudyTracker,
) -> None:
    code = (
        "import json, sys\n"
        "from hpsearch.settings import get_settings\n"
        "from hpsearch.study.reconcile import parent_run_state\n"
        "state = parent_run_state(get_settings(), 'tiny-study')\n"
        "print(json.dumps([state, 'mlflow' in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    state, imported_mlflow = json.loads(done.stdout)
    assert state == {"run_id": tracker.parent_run_id, "status": "RUNNING"}
    assert not imported_mlflow  # MLflow's import is most of `hpsearch status`'s start-up
