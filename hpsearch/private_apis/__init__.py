"""Every private Optuna, MLflow and CPython API hpsearch uses, in one place (_optuna, _mlflow,
_python).

A new Optuna or MLflow may rename any of these: it then breaks this package, and
tests/test_private_apis.py says which one, instead of four modules failing at run time.
pyproject.toml bounds both packages to the major versions these were checked against. Importing
this package imports neither library: each function imports what it needs when called.
"""

from hpsearch.private_apis._mlflow import (
    link_model_metrics,
    mlflow_create_tables,
    mlflow_explicit_tracking_uri,
    mlflow_head_revision,
    mlflow_is_empty,
    mlflow_oldest_run_tagged,
    mlflow_schema_version,
    mlflow_upgrade,
    monitor_has_logged,
)
from hpsearch.private_apis._optuna import (
    backend_of,
    claim_finished_trial,
    finite_value_type,
    forget_cached_trials,
    heartbeat_interval,
    held_trial_params,
    optuna_trial_tables,
    set_trial_user_attrs,
    stale_trial_ids,
    storage_of,
    study_id,
    trial_id,
    write_trial_params,
)
from hpsearch.private_apis._python import exit_at_once

__all__ = [
    "backend_of",
    "claim_finished_trial",
    "exit_at_once",
    "finite_value_type",
    "forget_cached_trials",
    "heartbeat_interval",
    "held_trial_params",
    "link_model_metrics",
    "mlflow_create_tables",
    "mlflow_explicit_tracking_uri",
    "mlflow_head_revision",
    "mlflow_is_empty",
    "mlflow_oldest_run_tagged",
    "mlflow_schema_version",
    "mlflow_upgrade",
    "monitor_has_logged",
    "optuna_trial_tables",
    "set_trial_user_attrs",
    "stale_trial_ids",
    "storage_of",
    "study_id",
    "trial_id",
    "write_trial_params",
]
