"""The docker-compose topology without Docker: PostgreSQL, `hpsearch db upgrade`, an MLflow
server, two `hpsearch worker` processes and one launch, all as local processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import optuna
import pytest
from study.tiny import write_study

from hpsearch.catalog import open_catalog
from hpsearch.settings import get_settings
from hpsearch.study.storage import open_storage

pytestmark = pytest.mark.postgres
N_TRIALS = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hpsearch(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hpsearch", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait_for(url: str, process: subprocess.Popen[str], *, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the MLflow server exited: {log_path.read_text()[-2000:]}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within 90 s")


@pytest.fixture
def service_env(postgres_databases: dict[str, str]) -> dict[str, str]:
    """The three databases, migrated by `hpsearch db upgrade` as the `migrate` service does."""
    env = {**os.environ,
           "HPSEARCH_DATABASE_URL": postgres_databases["hpsearch"],
           "HPSEARCH_STORAGE_URL": postgres_databases["optuna"],
           "MLFLOW_TRACKING_URI": postgres_databases["mlflow"]}  # fmt: skip
    upgrade = _hpsearch("db", "upgrade", env=env)
    assert upgrade.wait(timeout=180) == 0, upgrade.communicate()[0]
    return env


@pytest.fixture
def mlflow_server(service_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`mlflow server` on the migrated mlflow database, proxying artifacts, on a free port."""
    port = _free_port()
    log_path = tmp_path / "mlflow-server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server",
             "--backend-store-uri", service_env["MLFLOW_TRACKING_URI"],
             "--artifacts-destination", str(tmp_path / "server-artifacts"), "--serve-artifacts",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/health", server, log_path=log_path)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)


def test_service_topology_without_docker(
    service_env: dict[str, str], mlflow_server: str, postgres_databases: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    url, env = mlflow_server, dict(service_env)
    env["MLFLOW_TRACKING_URI"] = url  # from here on, everything goes through the server
    study = write_study(tmp_path, name="service", epochs=3, budget={"n_trials": N_TRIALS})
    queued = _hpsearch("launch", str(study), "--workers", "0", env=env)
    assert queued.wait(timeout=120) == 0, queued.communicate()[0]
    workers = [_hpsearch("worker", "service", "--timeout", "240", env=env) for _ in range(2)]
    launch = _hpsearch("launch", str(study), "--workers", "1", env=env)
    for process in [*workers, launch]:
        output = process.communicate(timeout=300)[0]
        assert process.returncode == 0, output

    storage = open_storage(postgres_databases["optuna"])
    trials = optuna.load_study(study_name="service", storage=storage).trials
    assert sorted(t.number for t in trials) == list(range(N_TRIALS))
    assert all(t.state.is_finished() for t in trials)

    client = mlflow.MlflowClient(url)
    experiment = client.get_experiment_by_name("service")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=500)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in children) == list(
        range(N_TRIALS)
    )
    assert all(r.info.status in {"FINISHED", "KILLED"} for r in children)

    settings = get_settings(database_url=postgres_databases["hpsearch"])
    with open_catalog(settings) as catalog:
        record = catalog.get_study("service")
        assert record is not None and record.mlflow_experiment_id == experiment.experiment_id
        assert [launch.workers for launch in catalog.list_launches("service")] == [0, 1]
