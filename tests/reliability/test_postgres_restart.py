"""PostgreSQL restarted in the middle of a two-worker study.

This restarts the machine's shared server (pg_ctlcluster, as on the development machines), so
it is one short test: workers ride out the restart on pool_pre_ping and bounded retries, at most
the trials in flight fail (and are retried), and no metric written before the restart is lost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import pytest
from conftest import POSTGRES_URL, require
from optuna.trial import FrozenTrial

from hpsearch.catalog import upgrade_all
from hpsearch.settings import get_settings
from hpsearch.study.budget import count
from reliability.faults import (
    Workers,
    launch_study,
    load_study,
    own_databases,
    reachable,
    retries_of,
    trial_runs,
    trials_in_flight,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    require(
        shutil.which("pg_ctlcluster") is not None and bool(versions) and os.geteuid() == 0,
        "needs pg_ctlcluster and root to restart the local PostgreSQL cluster",
    )
    return versions[-1], "main"


@pytest.fixture
def restartable_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    reachable(POSTGRES_URL)
    with own_databases(POSTGRES_URL) as urls:
        monkeypatch.setenv("HPSEARCH_DATABASE_URL", urls["hpsearch"])
        monkeypatch.setenv("HPSEARCH_STORAGE_URL", urls["optuna"])
        monkeypatch.setenv("MLFLOW_TRACKING_URI", urls["mlflow"])
        monkeypatch.setenv("HPSEARCH_HEARTBEAT_GRACE", "10")  # a restart takes a few seconds
        upgrade_all(get_settings())
        yield urls


def _two(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return trials if len(trials) == 2 else []


def _metrics(run_ids: list[str]) -> set[tuple[str, str, int, float]]:
    client = mlflow.MlflowClient(get_settings().mlflow_uri)
    return {
        (run_id, key, m.step, m.value)
        for run_id in run_ids
        for key in ("val_accuracy", "train_loss")
        for m in client.get_metric_history(run_id, key)
    }


def test_workers_ride_out_a_postgres_restart(
    restartable_service: dict[str, str], workers: Workers, study_path: Callable[..., Path]
) -> None:
    version, cluster = _cluster()
    launch_study(study_path(budget={"n_trials": 4}), workers=0)
    workers.start()
    workers.start()
    study = load_study()
    in_flight = wait_for(lambda: _two(trials_in_flight(study)), 90, "two trials in flight")

    def stored() -> set[tuple[str, str, int, float]]:
        return _metrics([r.info.run_id for r in trial_runs()])

    # epochs reach the store at most a second apart (hpsearch/tracking/_epochs.py)
    written = wait_for(stored, 30, "epochs of the trials in flight in the store")

    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip

    assert workers.wait_all(180) == [0, 0], workers.output()
    trials = study.get_trials()
    counts = count(trials)
    assert counts.finished == 4 and counts.running == counts.waiting == 0
    assert counts.failed == 0  # database trouble never fails a trial for good
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert {t.number for t in failed} <= {t.number for t in in_flight}
    for trial in failed:
        assert len(retries_of(trials, trial.number)) == 1
    runs = trial_runs()
    assert "RUNNING" not in {r.info.status for r in runs}
    assert written <= _metrics([r.info.run_id for r in runs]), "a metric was lost"
    for trial in trials:
        if trial.state.name == "COMPLETE":
            history = mlflow.MlflowClient(get_settings().mlflow_uri).get_metric_history(
                trial.user_attrs["mlflow_run_id"], "val_accuracy"
            )
            assert [m.step for m in history] == sorted(trial.intermediate_values)
