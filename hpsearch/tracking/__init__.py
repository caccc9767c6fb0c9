"""MLflow tracking of studies: a child run per trial, status mapping, study summary, pyfunc model.

tracker = StudyTracker(study_name, settings.mlflow_uri, settings.artifact_root)
run_id = tracker.start_trial(trial.number, params, resolved, seed=..., dataset_fingerprint=...)
result = train(config, splits, [..., tracker.epoch_callback(run_id)])
tracker.finish_complete(run_id, result, splits)   # or finish_pruned / finish_failed / ...
tracker.write_summary(study, dims)

The names load on first use: MLflow takes seconds to import, and modules that only need this
package's constants (`_tags`, `flavor`) must not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "StudyTracker": "_tracker",
    "read_mlflow_model_dir": "flavor",
    "experiment_url": "ui",
    "running_ui": "ui",
    "serve_ui": "ui",
}
__all__ = ["StudyTracker", "experiment_url", "read_mlflow_model_dir", "running_ui", "serve_ui"]

if TYPE_CHECKING:
    from hpsearch.tracking._tracker import StudyTracker
    from hpsearch.tracking.flavor import read_mlflow_model_dir
    from hpsearch.tracking.ui import experiment_url, running_ui, serve_ui


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hpsearch.tracking' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hpsearch.tracking.{_EXPORTS[name]}"), name)
