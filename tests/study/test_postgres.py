"""The service layout on a real PostgreSQL server: three databases, many workers, one study."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest

from hpsearch.catalog import open_catalog, upgrade_all
from hpsearch.settings import get_settings
from hpsearch.study.storage import open_storage
from study.tiny import run_launch

pytestmark = pytest.mark.postgres


@pytest.fixture
def service_env(postgres_databases: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPSEARCH_DATABASE_URL", postgres_databases["hpsearch"])
    monkeypatch.setenv("HPSEARCH_STORAGE_URL", postgres_databases["optuna"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", postgres_databases["mlflow"])
    upgrade_all(get_settings())  # the explicit migration step of the service


def test_four_workers_on_postgres_run_exactly_n_trials(
    service_env: None, study_file: Callable[..., Path]
) -> None:
    settings = get_settings()
    path = study_file(budget={"n_trials": 20}, epochs=2)
    status = run_launch(path, workers=4)
    assert status["finished"] == 20 and status["running"] == status["waiting"] == 0

    trials = optuna.load_study(study_name="tiny", storage=open_storage(settings.optuna_url)).trials
    assert sorted(t.number for t in trials) == list(range(20))

    client = mlflow.MlflowClient(settings.mlflow_uri)
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in children) == list(range(20))
    assert {r.info.status for r in children} <= {"FINISHED", "KILLED"}
    for run in children:  # no metric lost: one value per epoch reported to Optuna
        trial = trials[int(run.data.tags["optuna.trial_number"])]
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [m.step for m in history] == sorted(trial.intermediate_values)
        assert trial.user_attrs["mlflow_run_id"] == run.info.run_id

    with open_catalog(settings) as catalog:
        studies = catalog.list_studies()
        assert [s.name for s in studies] == ["tiny"]
        assert len(catalog.list_launches("tiny")) == 1
