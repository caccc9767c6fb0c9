"""Two worker processes logging to one MLflow store at once: nothing lost, nothing left RUNNING."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from hpsearch.settings import Settings
from hpsearch.tracking import _tags as T

EPOCHS = 25
TRIALS_PER_WORKER = 3

# One worker: waits for the go file so both start together, then runs its trials.
_WORKER = f"""
import sys, time
from pathlib import Path
from hpsearch.tracking import StudyTracker
from hpsearch.train import EpochMetrics

uri, root, worker, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.01)
tracker = StudyTracker("parallel", uri, root)
for t in range({TRIALS_PER_WORKER}):
    number = worker * 100 + t
    run_id = tracker.start_trial(number, {{"t": t}}, {{}}, seed=t, dataset_fingerprint="f")
    log_epoch = tracker.epoch_callback(run_id)
    for epoch in range(1, {EPOCHS} + 1):
        log_epoch(EpochMetrics(epoch, 1.0, 0.5, 1.0, float(worker), 0.1), None)
    if t % 2:
        tracker.finish_pruned(run_id, {EPOCHS}, "pruner")
    else:
        tracker.finish_killed(run_id, "SIGTERM")
print(tracker.parent_run_id)
"""


def _run_two_workers(uri: str, root: str, tmp_path: Path) -> set[str]:
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, uri, root, str(k), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in (1, 2)
    ]
    go.touch()
    parents = set()
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err[-3000:]
        parents.add(out.strip().splitlines()[-1])
    return parents


def _check_store(uri: str, parents: set[str]) -> None:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("parallel")
    assert experiment is not None
    assert len(parents) == 1, "the workers disagree on the parent run"
    runs = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    children = [r for r in runs if r.data.tags.get(T.PARENT_RUN_ID) in parents]
    assert len(children) == 2 * TRIALS_PER_WORKER
    assert all(r.info.status == "KILLED" for r in children)
    for run in children:
        for name in ("train_loss", "val_accuracy", "epoch_seconds"):
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, name))
            assert steps == list(range(1, EPOCHS + 1)), (run.info.run_name, name)


@pytest.mark.slow
def test_two_workers_on_sqlite(settings: Settings, tmp_path: Path) -> None:
    # a fresh database file: the workers also race to create MLflow's schema
    uri = f"sqlite:///{tmp_path / 'fresh-mlflow.db'}"
    parents = _run_two_workers(uri, settings.artifact_root, tmp_path)
    _check_store(uri, parents)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_on_postgresql(
    postgres_database: str, settings: Settings, tmp_path: Path
) -> None:
    from hpsearch.catalog.upgrade import upgrade_mlflow

    upgrade_mlflow(postgres_database)  # on PostgreSQL the schema is an explicit step
    parents = _run_two_workers(postgres_database, settings.artifact_root, tmp_path)
    _check_store(postgres_database, parents)
