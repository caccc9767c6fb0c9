"""Trial models as MLflow 3 logged models: found by MLflow's own client, registered from, loaded
by every URI form; models written before (plain run artifacts) still load and verify."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

import hpsearch
from hpsearch.data import Splits
from hpsearch.errors import UserError
from hpsearch.registry import best, load_model
from hpsearch.registry._champion import Candidate, register_version
from hpsearch.settings import Settings
from hpsearch.study.storage import load_existing_study, open_storage
from hpsearch.tracking import _tags as T
from hpsearch.tracking.flavor import save_pyfunc_model

from .conftest import STUDY_NAME


@pytest.fixture
def use_store(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    """MLflow's fluent API (what a user of the model calls) pointed at this test's store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_uri)
    mlflow.set_tracking_uri(settings.mlflow_uri)
    yield MlflowClient(settings.mlflow_uri)
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None restores the default


def test_one_logged_model_per_complete_trial(settings: Settings) -> None:
    client = MlflowClient(settings.mlflow_uri)
    experiment = client.get_experiment_by_name(STUDY_NAME)
    assert experiment is not None
    models = client.search_logged_models([experiment.experiment_id])
    study = load_existing_study(STUDY_NAME, open_storage(settings.optuna_url))
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    by_run = {t.user_attrs["mlflow_run_id"]: t for t in complete}
    assert sorted(m.source_run_id for m in models) == sorted(by_run)
    for model in models:
        run = client.get_run(model.source_run_id)
        assert (model.name, model.status) == ("model", "READY")
        assert run.data.tags[T.MODEL_ID] == model.model_id
        assert [o.model_id for o in run.outputs.model_outputs] == [model.model_id]
        assert model.tags[T.WEIGHTS_SHA256] == run.data.tags[T.WEIGHTS_SHA256]
        assert model.params["lr"] == run.data.params["lr"]  # the run's parameters, copied
        linked = {m.key: m.value for m in model.metrics}
        assert linked["best_val_accuracy"] == by_run[model.source_run_id].value


def test_every_uri_loads_the_same_model(
    settings: Settings, splits: Splits, use_store: MlflowClient
) -> None:
    report = best(settings, STUDY_NAME, out=None)
    client = use_store
    version = client.get_model_version(STUDY_NAME, report["version"])
    model_id = client.get_run(report["run_id"]).data.tags[T.MODEL_ID]
    assert version.source == f"models:/{model_id}"  # made from the trial's logged model
    uris = [f"models:/{STUDY_NAME}@champion", f"runs:/{report['run_id']}/model"]
    uris.append(f"models:/{model_id}")
    expected = load_model(uris[0]).predict(splits.x_test)
    for uri in uris:
        np.testing.assert_array_equal(hpsearch.load_model(uri).predict(splits.x_test), expected)
        pyfunc = mlflow.pyfunc.load_model(uri)
        np.testing.assert_array_equal(pyfunc.predict(splits.x_test), expected)


def test_a_tampered_logged_model_is_refused_by_its_own_uri(settings: Settings) -> None:
    client = MlflowClient(settings.mlflow_uri)
    report = best(settings, STUDY_NAME, out=None)
    model = client.get_logged_model(client.get_run(report["run_id"]).data.tags[T.MODEL_ID])
    weights = Path(model.artifact_location.removeprefix("file://")) / "data/mlp/weights.npz"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="changed after training"):
        load_model(f"models:/{model.model_id}")
    with pytest.raises(UserError, match="no logged model"):
        load_model("models:/m-" + "0" * 32)


def _legacy_run(client: MlflowClient, splits: Splits, source_run_id: str) -> str:
    """A run as hpsearch wrote it before logged models: the pyfunc folder as run artifacts."""
    mlp = load_model(f"runs:/{source_run_id}/model")
    experiment_id = client.get_run(source_run_id).info.experiment_id
    run_id = client.create_run(experiment_id, run_name="legacy").info.run_id
    with tempfile.TemporaryDirectory() as scratch:
        sha = save_pyfunc_model(mlp, Path(scratch) / "model", splits.x_val[:5])
        client.log_artifacts(run_id, scratch)
    client.set_tag(run_id, T.WEIGHTS_SHA256, sha)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def test_models_written_before_still_load_and_verify(
    settings: Settings, splits: Splits, use_store: MlflowClient
) -> None:
    client = use_store
    report = best(settings, STUDY_NAME, out=None, register=False)
    legacy = _legacy_run(client, splits, report["run_id"])
    expected = load_model(f"runs:/{report['run_id']}/model").predict(splits.x_test)
    np.testing.assert_array_equal(
        load_model(f"runs:/{legacy}/model").predict(splits.x_test), expected
    )
    run = client.get_run(legacy)
    artifact_uri = f"{run.info.artifact_uri}/model"
    candidate = Candidate("legacy-study", 0, legacy, artifact_uri, 0.9, 0.9, "fp",
                          run.data.tags[T.WEIGHTS_SHA256])  # fmt: skip
    register_version(client, "legacy-study", candidate, force=False)
    for uri in ("models:/legacy-study@champion", f"runs:/{legacy}/model"):
        np.testing.assert_array_equal(load_model(uri).predict(splits.x_test), expected)
        np.testing.assert_array_equal(
            mlflow.pyfunc.load_model(uri).predict(splits.x_test), expected
        )
    weights = Path(artifact_uri.removeprefix("file://")) / "data/mlp/weights.npz"
    weights.write_bytes(weights.read_bytes()[:-50] + bytes(50))
    with pytest.raises(UserError, match="changed after training"):
        load_model("models:/legacy-study@champion")
