"""Opt-in system metrics: MLflow's monitor per trial run, stopped before the run ends."""

from __future__ import annotations

import threading
import time

import pytest

from hpsearch.study.config import parse_study
from hpsearch.tracking import StudyTracker


def test_a_watched_trial_logs_cpu_and_memory(
    tracker: StudyTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    run_id = tracker.start_trial(0, {}, {}, seed=0, dataset_fingerprint="f")
    tracker.watch_system(run_id)
    time.sleep(1.5)
    tracker.finish_pruned(run_id, 1, "pruner")
    assert not [t for t in threading.enumerate() if t.name == "SystemMetricsMonitor"]
    metrics = tracker.client.get_run(run_id).data.metrics
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= set(
        metrics
    )
    history = tracker.client.get_metric_history(run_id, "system/cpu_utilization_percentage")
    assert len(history) >= 2 and all(0 <= m.value <= 100 * 64 for m in history)


def test_unwatched_trials_log_none(tracker: StudyTracker) -> None:
    run_id = tracker.start_trial(0, {}, {}, seed=0, dataset_fingerprint="f")
    tracker.finish_pruned(run_id, 1, "pruner")
    assert not [k for k in tracker.client.get_run(run_id).data.metrics if k.startswith("system/")]


def test_the_study_file_flag() -> None:
    text = "name: s\ndataset: {name: digits}\nepochs: 1\nbudget: {n_trials: 1}\n"
    assert parse_study(text).system_metrics is False
    assert parse_study(text + "system_metrics: true\n").system_metrics is True
