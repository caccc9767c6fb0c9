"""`hpsearch best STUDY`: pick the winner, test it once, register it, hand it over.

study (Optuna) -> best COMPLETE trial -> its MLflow run -> model folder (verified)
    -> test_accuracy (evaluated once, then read back) -> model version + alias champion
    -> optionally a copy in --out
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial

from hpsearch.data import Splits
from hpsearch.errors import UserError
from hpsearch.nn import Architecture
from hpsearch.registry import _tags as R
from hpsearch.registry._champion import Candidate, Registration, register_version
from hpsearch.registry._fetch import fetch_model
from hpsearch.registry._paths import check_out
from hpsearch.registry._resolve import trial_model_source
from hpsearch.settings import Settings
from hpsearch.signals import ScratchFolder
from hpsearch.study import attrs as A
from hpsearch.study.progress import best_complete_trial
from hpsearch.tracking import StudyTracker
from hpsearch.tracking import _tags as T
from hpsearch.tracking._datasets import dataset_inputs
from hpsearch.tracking.flavor import read_mlflow_model_dir


def n_params(hidden: list[int] | tuple[int, ...], input_dim: int, n_classes: int) -> int:
    """Weights and biases of an MLP input_dim -> hidden... -> n_classes."""
    return Architecture(input_dim, tuple(hidden), n_classes).n_params


def pick_best(study: optuna.Study, input_dim: int, n_classes: int) -> FrozenTrial:
    """The best COMPLETE trial by hpsearch.ranking's rule (the one `status` shows)."""
    best = best_complete_trial(study, (input_dim, n_classes))
    if best is None:
        raise UserError(f"study {study.study_name!r} has no COMPLETE trial yet")
    return best


def _load_study(settings: Settings, study_name: str) -> tuple[optuna.Study, Splits]:
    from hpsearch.study.config import load_study_config  # the study floor, only for `best`
    from hpsearch.study.storage import load_existing_study, open_existing_storage

    study = load_existing_study(study_name, open_existing_storage(settings.optuna_url))
    splits = load_study_config(study).dataset.load_splits(settings.data_dir)
    return study, splits


def _trial_run(client: MlflowClient, study_name: str, trial: FrozenTrial) -> Run:
    """The trial's FINISHED run with a model; one clear line for whatever is missing."""
    run_id = trial.user_attrs.get(A.MLFLOW_RUN_ID)
    if not run_id:
        raise UserError(
            f"trial {trial.number} of {study_name!r} has no MLflow run (launched without tracking?)"
        )
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise UserError(
            f"trial {trial.number}: its MLflow run {run_id} is not in this store"
        ) from None
    if T.WEIGHTS_SHA256 not in run.data.tags:
        raise UserError(f"trial {trial.number}: run {run_id} has no logged model")
    return run


def _check_fingerprint(run: Run, splits: Splits, trial: FrozenTrial) -> str:
    """The test set must be the one the trial's data came with, or test accuracy means little."""
    logged = run.data.tags.get(T.DATASET_FINGERPRINT)
    actual = splits.fingerprint()
    if logged is not None and logged != actual:
        raise UserError(
            f"dataset {splits.name} differs from the one trial {trial.number} trained on "
            f"(fingerprint {actual[:12]} vs {logged[:12]}): refusing to test on other data"
        )
    return actual


def _test_accuracy(
    client: MlflowClient, run: Run, folder: Path, splits: Splits, model_id: str | None
) -> float:
    """Logged test_accuracy, or evaluate once on the held-out test set and log it: on the run,
    linked to its logged model and to the test part as the run's `test` dataset input."""
    logged = run.data.metrics.get(R.TEST_ACCURACY)
    if logged is not None:
        return float(logged)
    model = read_mlflow_model_dir(folder)
    accuracy = float((model.predict(splits.x_test) == splits.y_test).mean())
    (test_input,) = dataset_inputs(splits, ("test",))
    client.log_inputs(run.info.run_id, [test_input])
    client.log_metric(
        run.info.run_id, R.TEST_ACCURACY, accuracy, model_id=model_id,
        dataset_name=test_input.dataset.name, dataset_digest=test_input.dataset.digest,
    )  # fmt: skip
    return accuracy


def best(
    settings: Settings,
    study_name: str,
    *,
    out: Path | None,
    register: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Register (and with `out`, download) the best trial of a study; return the JSON report.

    Keys: study, trial, run_id, model_uri, version, val_accuracy, test_accuracy, path, message,
    champion (the version the alias points at). Every failure a user can cause is a UserError.
    """
    from hpsearch.tracking._store import open_client  # MLflow: after the cheap checks

    destination = check_out(out) if out is not None else None
    study, splits = _load_study(settings, study_name)
    trial = pick_best(study, splits.input_dim, splits.n_classes)
    client = open_client(settings.mlflow_uri)
    run = _trial_run(client, study_name, trial)
    fingerprint = _check_fingerprint(run, splits, trial)
    source = trial_model_source(client, run)
    with ScratchFolder("hpsearch-best-") as scratch:
        folder = destination or scratch / "model"
        sha = fetch_model(source, folder, tracking_uri=settings.mlflow_uri)  # verified
        test_accuracy = _test_accuracy(client, run, folder, splits, source.model_id)
    candidate = Candidate(
        study_name, trial.number, run.info.run_id, source.artifact_uri,
        float(trial.value or 0.0), test_accuracy, fingerprint, sha, source.model_id,
    )  # fmt: skip
    registration = (
        register_version(client, study_name, candidate, force=force) if register else None
    )
    if registration is not None:  # the parent run's description names the champion
        StudyTracker(study_name, settings.mlflow_uri, settings.artifact_root).describe(study)
    return _report(candidate, registration, source.ref, destination)


def _report(
    candidate: Candidate, registration: Registration | None, run_uri: str, path: Path | None
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "study": candidate.study,
        "trial": candidate.trial,
        "run_id": candidate.run_id,
        "model_uri": run_uri,
        "version": None,
        "champion": None,
        "val_accuracy": candidate.val_accuracy,
        "test_accuracy": candidate.test_accuracy,
        "path": str(path) if path is not None else None,
        "message": "not registered (--no-register)",
    }
    if registration is not None:
        name, version = candidate.study, registration.version
        # the alias only names this model when it points here; else name the version itself
        at = f"@{R.ALIAS}" if registration.is_champion else f"/{version}"
        report |= {
            "model_uri": f"models:/{name}{at}",
            "version": version,
            "champion": registration.champion,
            "message": registration.message,
        }
    return report
