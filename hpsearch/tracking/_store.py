"""The experiment and the parent run of a study, found or created safely by many workers at once.

Workers start together, so "look it up, create it when missing" races: two may both miss and both
create. Experiments have a unique name, so the loser gets RESOURCE_ALREADY_EXISTS and reads the
winner's. Runs have no unique key: every worker keeps the oldest parent run and deletes its own
duplicate, so all of them agree on one.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import sqlite3
import time
from collections.abc import Iterator

from mlflow.entities import Experiment, Run
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient

from hpsearch import stores
from hpsearch.errors import UserError
from hpsearch.tracking._blank_store import create_blank_store
from hpsearch.tracking._tags import ROLE, ROLE_STUDY, STUDY_NAME
from hpsearch.tracking.probe import require_mlflow_schema

_ALREADY_EXISTS = ErrorCode.Name(RESOURCE_ALREADY_EXISTS)
_INIT_ATTEMPTS = 6
# MLflow 3's UI opens an experiment of this kind on its runs table, not on the GenAI trace views
_KIND = {
    "mlflow.experimentKind": "custom_model_development",
    # the experiment's primary metric: MLflow's UI draws its chart first in the chart view
    "mlflow.experiment.primaryMetric.name": "val_accuracy",
    "mlflow.experiment.primaryMetric.greaterIsBetter": "true",
}


@contextlib.contextmanager
def _schema_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise MLflow's first-use schema creation on a SQLite file across processes.

    MLflow creates its tables when it first opens an empty database; two workers doing that at
    once collide ("table ... already exists"). A file lock held only while opening the store
    (never while logging) lets the first create them and the others find them.
    """
    path = stores.sqlite_path(tracking_uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".init-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _use_wal(tracking_uri: str) -> None:
    """Switch a SQLite store to write-ahead logging (persistent, so once per file is enough).

    In the default rollback-journal mode every commit costs several fsyncs: ~23 ms per epoch's
    log_batch on our disks against ~5 ms in WAL mode. WAL also lets the UI read while workers
    write. (WAL needs a local filesystem, which the embedded default is.)
    """
    path = stores.sqlite_path(tracking_uri)
    if path is None:
        return
    with contextlib.closing(sqlite3.connect(path, timeout=20)) as db:
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")


def open_client(tracking_uri: str) -> MlflowClient:
    """An MlflowClient whose store is open and has its schema.

    A SQLite file (the embedded default) gets its schema on first use. A server database
    (PostgreSQL, MySQL) must already be at MLflow's head: `hpsearch db upgrade` migrates it,
    opening it never does. A tracking server (http[s]://) looks after its own database.
    """
    if stores.is_tracking_server(tracking_uri):
        return MlflowClient(tracking_uri=tracking_uri)
    if stores.is_server_database(tracking_uri):
        require_mlflow_schema(tracking_uri)
    with _schema_lock(tracking_uri):
        path = stores.sqlite_path(tracking_uri)
        if path is not None and not path.exists():
            create_blank_store(path)
        for attempt in range(_INIT_ATTEMPTS):
            try:
                client = MlflowClient(tracking_uri=tracking_uri)
                client.search_experiments(max_results=1)  # makes sure the store is open
                _use_wal(tracking_uri)
                return client
            except Exception:
                if attempt == _INIT_ATTEMPTS - 1:
                    raise
                time.sleep(0.25 * 2**attempt)
    raise AssertionError("unreachable")


def experiment_artifact_location(artifact_root: str, study_name: str) -> str:
    """One folder per study under the artifact root; runs go to <that>/<run id>/artifacts."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", study_name).strip("._") or "study"
    return f"{artifact_root.rstrip('/')}/{slug}"


def get_or_create_experiment(
    client: MlflowClient, name: str, artifact_location: str | None
) -> Experiment:
    """The live experiment called `name`, created when missing."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            client.create_experiment(name, artifact_location=artifact_location, tags=_KIND)
        except MlflowException as exc:
            if exc.error_code != _ALREADY_EXISTS:
                raise
        experiment = client.get_experiment_by_name(name)
    if experiment is None:  # created and deleted again between our two calls
        raise UserError(f"MLflow experiment {name!r} vanished while being created; run again")
    if experiment.lifecycle_stage != "active":
        raise UserError(
            f"MLflow experiment {name!r} is deleted: restore it "
            f"(mlflow experiments restore --experiment-id {experiment.experiment_id}) "
            "or remove it for good (mlflow gc) before reusing the study name"
        )
    return experiment


def _parent_runs(client: MlflowClient, experiment_id: str) -> list[Run]:
    """Live parent runs, oldest first; run id breaks ties so every worker orders them alike."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{ROLE}` = '{ROLE_STUDY}'",
        max_results=100,
    )
    return sorted(runs, key=lambda run: (run.info.start_time, run.info.run_id))


def parent_run_state(tracking_uri: str, study_name: str) -> dict[str, str] | None:
    """The study's parent run as {"run_id", "status"} in an existing store; None when there is
    none. Creates nothing."""
    client = open_client(tracking_uri)
    experiment = client.get_experiment_by_name(study_name)
    runs = _parent_runs(client, experiment.experiment_id) if experiment is not None else []
    return {"run_id": runs[0].info.run_id, "status": runs[0].info.status} if runs else None


def get_or_create_parent_run(client: MlflowClient, experiment_id: str, study_name: str) -> str:
    """Run id of the study's parent run: the existing one when resumed, else a new one."""
    existing = _parent_runs(client, experiment_id)
    if existing:
        return existing[0].info.run_id
    tags = {ROLE: ROLE_STUDY, STUDY_NAME: study_name, "mlflow.runName": study_name}
    mine = client.create_run(experiment_id, tags=tags, run_name=study_name).info.run_id
    # Every worker re-reads after creating, so all see at least the oldest run. (Only two runs
    # started in the same millisecond, one created after the other's re-read, could still split
    # the workers; each run then keeps its own, valid, parent link.)
    winner = _parent_runs(client, experiment_id)[0].info.run_id
    if winner != mine:  # another worker created one at the same moment, and it is older
        client.delete_run(mine)
    return winner
