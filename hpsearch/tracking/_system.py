"""System metrics of trial runs (opt-in: `system_metrics: true` in the study file).

MLflow's SystemMetricsMonitor samples CPU, memory, disk and network use in a thread and logs
them as `system/...` metrics on the run; one per trial, stopped before the run ends.
"""

from __future__ import annotations

import os
from typing import Any

from hpsearch import private_apis

INTERVAL_S = 5.0  # MLflow's default of 10 s gives a short trial one point or none


class SystemWatch:
    """The monitors of the trials this process runs, by run id."""

    def __init__(self, tracking_uri: str, interval_s: float = INTERVAL_S) -> None:
        self.tracking_uri, self.interval_s = tracking_uri, interval_s
        self._monitors: dict[str, Any] = {}

    def start(self, run_id: str) -> None:
        """Sample every `interval_s` s (MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL overrides it)."""
        # opt-in: MLflow's monitor (and psutil) load only for studies that ask for it
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        # an explicit sampling_interval would win over MLflow's own variable: honour it here
        interval = float(os.environ.get("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", self.interval_s))
        monitor = SystemMetricsMonitor(
            run_id, sampling_interval=interval, tracking_uri=self.tracking_uri
        )
        monitor.start()
        self._monitors[run_id] = monitor

    def stop(self, run_id: str) -> None:
        """Wake the run's monitor thread, join it and flush its last samples (if it has one)."""
        monitor = self._monitors.pop(run_id, None)
        if monitor is not None:
            monitor.finish()
            # MLflow's loop drops the samples of a run shorter than one interval: publish them
            if private_apis.monitor_has_logged(monitor):
                return
            if metrics := monitor.aggregate_metrics():
                monitor.publish_metrics(metrics)
                monitor.mlflow_logger.flush()
