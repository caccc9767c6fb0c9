"""MLflow tracking of studies: a child run per trial, status mapping, study summary, pyfunc model.

tracker = StudyTracker(study_name, settings.mlflow_uri, settings.artifact_root)
run_id = tracker.start_trial(trial.number, params, resolved, seed=..., dataset_fingerprint=...)
result = train(config, splits, [..., tracker.epoch_callback(run_id)])
tracker.finish_complete(run_id, result, splits)   # or finish_pruned / finish_failed / ...
tracker.write_summary(study)
"""

from hpsearch.tracking._tracker import StudyTracker
from hpsearch.tracking.flavor import load_mlp
from hpsearch.tracking.ui import experiment_url, running_ui, serve_ui

__all__ = ["StudyTracker", "experiment_url", "load_mlp", "running_ui", "serve_ui"]
