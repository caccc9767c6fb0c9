"""The private MLflow APIs hpsearch uses (see the package's docstring).

Each imports what it needs inside the function: MLflow takes seconds to import, and a caller
that needs only Optuna (or neither) must not pay for it. The last one reads MLflow's tables
with SQLAlchemy alone, so that `status` never imports MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa


# -- MLflow's schema (mlflow.store.db.utils) -----------------------------------------------


def mlflow_head_revision() -> str:
    """The newest revision of MLflow's own migrations."""
    from mlflow.store.db import utils  # MLflow takes seconds: only when asked

    return str(utils._get_latest_schema_revision())


def mlflow_schema_version(engine: sa.Engine) -> str | None:
    """MLflow's revision in `alembic_version`, None when there is none; read-only."""
    from mlflow.store.db import utils  # MLflow takes seconds: only when asked

    return utils._get_schema_version(engine)


def mlflow_is_empty(engine: sa.Engine) -> bool:
    from mlflow.store.db import utils  # MLflow takes seconds: only when asked

    return bool(utils._is_empty_database(engine))


def mlflow_create_tables(engine: sa.Engine) -> None:
    """What MLflow does on first use of an empty database: its tables, stamped at head."""
    from mlflow.store.db import utils  # MLflow takes seconds: only when asked

    utils._initialize_tables(engine)


def mlflow_upgrade(engine: sa.Engine) -> None:
    """What `mlflow db upgrade` does."""
    from mlflow.store.db import utils  # MLflow takes seconds: only when asked

    utils._upgrade_db(engine)


# -- MLflow's fluent API -------------------------------------------------------------------


def mlflow_explicit_tracking_uri() -> str | None:
    """The tracking URI set by `mlflow.set_tracking_uri`, None when only the environment or
    the default applies (the public getter answers the same for both)."""
    from mlflow.tracking._tracking_service import utils  # MLflow takes seconds: only when asked

    return utils._tracking_uri


# -- MLflow's SQL tracking store -----------------------------------------------------------


def link_model_metrics(client: Any, run_id: str, experiment_id: str, metrics: list[Any]) -> bool:
    """Link metrics the run has already logged to its logged model, writing nothing to the run.

    `log_batch` writes a model's metrics to the run as well: rows the run already has then fail
    its insert (an error in the database server's log, and on psycopg a warning in the worker's),
    roll the batch back and are looked up one by one. The SQL store's own step for the model's
    table writes only that. False when the store is not a SQL store (a tracking server): the
    caller then logs them with log_batch, and the server pays that cost.
    """
    # MLflow takes seconds: only when asked
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = client._tracking_client.store
    if not isinstance(store, SqlAlchemyStore):
        return False
    store._log_model_metrics(run_id, metrics, experiment_id=experiment_id)
    return True


# -- MLflow's system metrics monitor -------------------------------------------------------


def monitor_has_logged(monitor: Any) -> bool:
    """Whether a SystemMetricsMonitor published a sample yet (its loop publishes one only after
    a whole sampling interval, so a shorter run has none)."""
    return bool(monitor._logging_step)


# -- MLflow's tables (its versioned schema), read without importing MLflow ----------------


def mlflow_oldest_run_tagged(
    engine: sa.Engine, experiment_name: str, tag: tuple[str, str]
) -> dict[str, str] | None:
    """{"run_id", "status"} of the oldest live run carrying `tag` in the experiment named so
    (live or deleted, as MlflowClient.get_experiment_by_name finds it); None when there is none
    or the database holds no MLflow tables. Ties in start time go to the smaller run id.

    One query on MLflow's tables instead of an MlflowClient: importing MLflow is most of a
    command's start-up (2.4 of `hpsearch status`'s 3.7 s at 10,000 trials).
    """
    import sqlalchemy as sa  # here: importing this module costs nothing

    if not sa.inspect(engine).has_table("runs"):
        return None
    experiments = sa.table("experiments", sa.column("experiment_id"), sa.column("name"))
    runs = sa.table(
        "runs",
        *(sa.column(name) for name in ("run_uuid", "status", "start_time", "experiment_id")),
        sa.column("lifecycle_stage"),
    )
    tags = sa.table("tags", sa.column("key"), sa.column("value"), sa.column("run_uuid"))
    query = (
        sa.select(runs.c.run_uuid, runs.c.status)
        .join(experiments, experiments.c.experiment_id == runs.c.experiment_id)
        .join(tags, tags.c.run_uuid == runs.c.run_uuid)
        .where(experiments.c.name == experiment_name, runs.c.lifecycle_stage == "active")
        .where(tags.c.key == tag[0], tags.c.value == tag[1])
        .order_by(runs.c.start_time, runs.c.run_uuid)
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return {"run_id": row.run_uuid, "status": row.status} if row is not None else None
